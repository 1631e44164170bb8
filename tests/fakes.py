"""Local stand-ins for the outside world: enough of SendGrid's v3 Mail Send, Twilio's Messages
API (FCM's is herald.fake_fcm, which `herald dev` uses too) for Herald's clients to talk to,
including throttling and server errors on cue."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    accepted: bool


@dataclass
class LocalServer:
    """An HTTP server on a free port of this machine, answering on a thread of its own."""

    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class FakeProviders(LocalServer):
    requests: list[Received] = field(default_factory=list)
    # Answers to give, one per request, before accepting again: (status, headers), or None to
    # accept that request.
    failures: deque[tuple[int, dict[str, str]] | None] = field(default_factory=deque)
    # Text messages Twilio took, as its API shows them.
    sms: list[dict[str, Any]] = field(default_factory=list)
    # When set to a closed gate, requests are recorded, then answered only once it opens.
    gate: threading.Event | None = None

    def accepted(self, path_part: str) -> list[Received]:
        return [r for r in self.requests if r.accepted and path_part in r.path]

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v3/mail/send":
                    fake._sendgrid(self, json.loads(raw or b"{}"))
                elif self.path.startswith("/2010-04-01/Accounts/") and self.path.endswith(
                    "/Messages.json"
                ):
                    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    fake._twilio(self, form)
                elif self.path.startswith("/hooks/"):  # a merchant's own webhook endpoint
                    failure = fake._next_failure()
                    fake.requests.append(
                        Received(self.path, dict(self.headers), json.loads(raw), failure is None)
                    )
                    self._answer(failure[0] if failure else 204, {}, b"")
                else:
                    self._answer(404, {}, b"{}")

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path.startswith("/2010-04-01/Accounts/") and path.endswith("/Messages.json"):
                    params = {k: v[0] for k, v in parse_qs(query).items()}
                    fake._twilio_list(self, path, params)
                elif path == "/_fake/sendgrid/recipients":  # for a benchmark's final count
                    to = [e["to"] for e in fake.emails()]
                    self._answer(200, {}, json.dumps({"to": to}).encode())
                else:
                    self._answer(404, {}, b"{}")

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler)

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        super().stop()

    def _next_failure(self) -> tuple[int, dict[str, str]] | None:
        return self.failures.popleft() if self.failures else None

    def emails(self) -> list[dict[str, Any]]:
        """Every email SendGrid accepted, one per personalization, substitutions applied."""
        emails = []
        for request in self.accepted("/v3/mail/send"):
            parts = {c["type"]: c["value"] for c in request.body["content"]}
            for p in request.body["personalizations"]:
                values = dict(parts)
                for tag, value in p.get("substitutions", {}).items():
                    values = {kind: text.replace(tag, value) for kind, text in values.items()}
                emails.append(
                    {
                        "to": p["to"][0]["email"],
                        "subject": p.get("subject", request.body.get("subject")),
                        "html": values.get("text/html"),
                        "text": values.get("text/plain"),
                        "headers": p.get("headers", {}),
                        "custom_args": p.get("custom_args", {}),
                    }
                )
        return emails

    def _sendgrid(self, handler: Any, body: Any) -> None:
        invalid = _sendgrid_error(body)
        if invalid is not None:  # SendGrid refuses the request as a whole, as it documents
            self.requests.append(Received(handler.path, dict(handler.headers), body, False))
            handler._answer(400, {}, json.dumps({"errors": [{"message": invalid}]}).encode())
            return
        failure = self._next_failure()
        self.requests.append(Received(handler.path, dict(handler.headers), body, failure is None))
        if self.gate is not None:
            self.gate.wait(timeout=120)
        if failure is not None:
            status, headers = failure
            error = {"errors": [{"message": f"fake failure {status}"}]}
            handler._answer(status, headers, json.dumps(error).encode())
            return
        handler._answer(202, {"X-Message-Id": f"sg-{uuid.uuid4().hex[:16]}"}, b"")

    def _twilio(self, handler: Any, form: dict[str, str]) -> None:
        failure = self._next_failure()
        self.requests.append(Received(handler.path, dict(handler.headers), form, failure is None))
        if failure is not None:
            status, headers = failure
            error = {
                "code": 20500 if status >= 500 else 21211,
                "message": "fake failure",
                "status": status,
            }
            handler._answer(status, headers, json.dumps(error).encode())
            return
        answer = {
            "sid": f"SM{uuid.uuid4().hex}",
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "date_created": format_datetime(datetime.now(UTC), usegmt=True),
        }
        self.sms.append(answer)
        if self.gate is not None:
            self.gate.wait(timeout=120)
        handler._answer(201, {}, json.dumps(answer).encode())

    def _twilio_list(self, handler: Any, path: str, params: dict[str, str]) -> None:
        """Messages.json read: what Twilio took, newest first, filtered by To and From."""
        found = [
            m
            for m in reversed(self.sms)
            if m["to"] == params.get("To", m["to"]) and m["from"] == params.get("From", m["from"])
        ][: int(params.get("PageSize", 50))]
        page = {"messages": found, "uri": path, "page": 0, "page_size": len(found)}
        handler._answer(200, {}, json.dumps({**page, "next_page_uri": None}).encode())


def _sendgrid_error(body: Any) -> str | None:
    """The v3 Mail Send limits Herald must respect."""
    personalizations = body.get("personalizations") or []
    if not 1 <= len(personalizations) <= 1000:
        return "personalizations: between 1 and 1000 are required"
    if not body.get("content"):
        return "content is required"
    for p in personalizations:
        if not p.get("subject", body.get("subject")):
            return "subject is required"
        size = sum(len(k.encode()) + len(v.encode()) for k, v in p.get("substitutions", {}).items())
        if size > 10_000:
            return "substitutions may not exceed 10,000 bytes per personalization"
    return None


class SendGridSigner:
    """Signs Event Webhook payloads the way SendGrid does (ECDSA P-256, SHA-256)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, stamp: int | None = None) -> dict[str, str]:
        timestamp = str(stamp if stamp is not None else int(time.time()))
        signature = self.key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            "Content-Type": "application/json",
        }


if __name__ == "__main__":  # a standalone fake for benchmarks: prints its URL, serves until killed
    fake = FakeProviders()
    fake.start()
    print(fake.url, flush=True)
    threading.Event().wait()


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, str]


@dataclass
class FakeCollector(LocalServer):
    """An OpenTelemetry collector's OTLP/HTTP traces endpoint: keeps the spans it is sent."""

    spans: list[ReceivedSpan] = field(default_factory=list)

    def start(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(raw)
                collector.spans.extend(_spans_of(request))
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler)


def _spans_of(request: Any) -> list[ReceivedSpan]:
    received = []
    for resource_spans in request.resource_spans:
        resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                received.append(
                    ReceivedSpan(
                        service=resource.get("service.name", ""),
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: str(a.value).strip() for a in span.attributes},
                    )
                )
    return received
