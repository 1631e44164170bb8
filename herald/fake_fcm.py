"""A local stand-in for Firebase Cloud Messaging, for `herald dev` and the tests.

It speaks what Herald's real client code talks to: Google's OAuth 2.0 token endpoint (a JWT
bearer assertion signed with the service account's private key, checked against its public key,
for an access token with a lifetime) and FCM HTTP v1 ``messages:send`` (the bearer token
checked, the message recorded, errors in FCM's own shape). It makes up a service account of its
own (``service_account()``) for an organization to upload. Tokens starting with
``unregistered-`` and those in ``dead_tokens`` are answered as FCM answers an app that was
removed (404 UNREGISTERED); ``GET /messages`` lists what it accepted.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
UNREGISTERED_PREFIX = "unregistered-"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class Delivered:
    """A messages:send request FCM answered, and how."""

    project: str
    message: dict[str, Any]
    status: int


@dataclass
class FakeFcm:
    project_id: str = "herald-demo"
    host: str = "127.0.0.1"
    port: int = 0
    # How long the access tokens it mints live (Google's: an hour).
    token_lifetime_s: int = 3600
    dead_tokens: set[str] = field(default_factory=set)
    # Answers to give to messages:send before accepting again (throttling, an outage).
    failures: deque[int] = field(default_factory=deque)
    token_requests: int = 0
    delivered: list[Delivered] = field(default_factory=list)
    _tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.client_email = f"herald-push@{self.project_id}.iam.gserviceaccount.com"

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    def accepted(self) -> list[dict[str, Any]]:
        """The messages FCM took, as sent."""
        return [d.message for d in self.delivered if d.status == 200]

    def service_account(self) -> dict[str, Any]:
        """A key file as Firebase hands it out, for this fake's project and token endpoint."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1" * 21,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": f"{self.url}/token",
        }

    def expire_tokens(self) -> None:
        """Every access token it minted stops working (as after an hour, or a revocation)."""
        with self._lock:
            self._tokens.clear()

    def start(self) -> FakeFcm:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/token":
                    fake._token(self, {k: v[0] for k, v in parse_qs(raw.decode()).items()})
                elif self.path.startswith("/v1/projects/") and self.path.endswith("/messages:send"):
                    project = self.path.removeprefix("/v1/projects/").split("/")[0]
                    fake._send(self, project, raw)
                else:
                    _answer(self, 404, {"error": {"code": 404, "status": "NOT_FOUND"}})

            def do_GET(self) -> None:
                if self.path == "/messages":
                    _answer(self, 200, {"messages": fake.accepted()})
                else:
                    _answer(self, 404, {"error": {"code": 404, "status": "NOT_FOUND"}})

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _token(self, handler: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        """Google's token endpoint for a service account: the assertion must be signed by the
        account's key, for this endpoint, asking for FCM's scope, and not expired."""
        if form.get("grant_type") != JWT_BEARER:
            _answer(handler, 400, {"error": "unsupported_grant_type"})
            return
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self._key.public_key(),
                algorithms=["RS256"],
                # Google's clients name Google's endpoint, wherever the key sends them.
                audience=[GOOGLE_TOKEN_AUDIENCE, f"{self.url}/token"],
                issuer=self.client_email,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as exc:
            _answer(handler, 400, {"error": "invalid_grant", "error_description": str(exc)})
            return
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            _answer(handler, 400, {"error": "invalid_scope"})
            return
        token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        with self._lock:
            self.token_requests += 1
            self._tokens[token] = time.time() + self.token_lifetime_s
        body = {"access_token": token, "expires_in": self.token_lifetime_s, "token_type": "Bearer"}
        _answer(handler, 200, body)

    def _send(self, handler: BaseHTTPRequestHandler, project: str, raw: bytes) -> None:
        bearer = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            valid = self._tokens.get(bearer, 0) > time.time()
        if not valid:
            _answer(handler, 401, _error(401, "UNAUTHENTICATED", "invalid authentication"))
            return
        try:
            message = json.loads(raw)["message"]
            token = str(message["token"])
        except (ValueError, KeyError, TypeError):
            _answer(handler, 400, _error(400, "INVALID_ARGUMENT", "no message token"))
            return
        status, body = self._answer_for(project, token)
        self.delivered.append(Delivered(project, message, status))
        _answer(handler, status, body)

    def _answer_for(self, project: str, token: str) -> tuple[int, dict[str, Any]]:
        if self.failures:
            status = self.failures.popleft()
            return status, _error(status, "UNAVAILABLE", "try again later")
        if project != self.project_id:
            return 403, _error(403, "PERMISSION_DENIED", "not this project", "SENDER_ID_MISMATCH")
        if token in self.dead_tokens or token.startswith(UNREGISTERED_PREFIX):
            return 404, _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if len(token) < 10 or " " in token:
            return 400, _error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        return 200, {"name": f"projects/{project}/messages/0:{uuid.uuid4().hex[:16]}"}


def _error(code: int, status: str, message: str, fcm_code: str | None = None) -> dict[str, Any]:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
        if fcm_code
        else []
    )
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


def _answer(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
