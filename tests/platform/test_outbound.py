"""The outbound guard: Herald calls no private, loopback, link-local or metadata address that a
tenant typed in, whatever DNS or a redirect says, and reads a bounded answer in bounded time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from herald.outbound import Outbound, OutboundFailed, OutboundRefused, sanitized

pytestmark = pytest.mark.fast

INSIDE = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.9",
    "192.168.1.1",
    "169.254.169.254",  # the cloud metadata service
    "100.100.100.200",  # shared address space (another cloud's metadata)
    "0.0.0.0",
    "::1",
    "fe80::1",
    "fd00:ec2::254",
    "::ffff:127.0.0.1",
    "224.0.0.1",
]


@pytest.mark.parametrize("address", INSIDE)
def test_inside_addresses_are_refused(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    assert "private" in (Outbound().refusal(f"http://{host}:8080/x") or "")
    with pytest.raises(OutboundRefused):
        Outbound().request("POST", f"http://{host}:8080/x", json={})


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    def two_answers(host: str, port: int, **_: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    with pytest.raises(OutboundRefused):
        Outbound(_resolve=two_answers).vet("mixed.example", 443)
    assert Outbound().refusal("http://localhost:9/") is not None
    assert Outbound().refusal("ftp://example.com/") == "only http and https addresses are called"
    # Public addresses pass; a name that does not resolve yet is checked again when called.
    assert Outbound().refusal("https://93.184.215.14/") is None
    assert Outbound().refusal("https://no-such-host.invalid/") is None


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/redirect-inside":
                self._answer(
                    307, b"", {"Location": f"http://127.0.0.2:{self.server.server_address[1]}/x"}
                )  # type: ignore[attr-defined]
            elif self.path == "/redirect-here":
                self._answer(308, b"", {"Location": "/ok"})
            elif self.path == "/huge":
                self._answer(200, b"x" * 3_000_000, {})
            elif self.path == "/slow":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self._answer(200, b'{"ok": true}', {"Content-Type": "application/json"})

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    running = _Server(Handler)
    yield running
    running.httpd.shutdown()


def test_the_operator_allow_list_lets_chosen_networks_through(server: _Server) -> None:
    with pytest.raises(OutboundRefused):
        Outbound().request("POST", f"{server.url}/ok", json={})
    answer = Outbound.allowing("127.0.0.1").request("POST", f"{server.url}/redirect-here", json={})
    assert (answer.status, answer.json()) == (200, {"ok": True})


def test_each_redirect_is_vetted_again(server: _Server) -> None:
    with pytest.raises(OutboundRefused):
        Outbound.allowing("127.0.0.1").request("POST", f"{server.url}/redirect-inside", json={})


def test_answers_are_capped_in_size_and_time(server: _Server) -> None:
    outbound = Outbound.allowing("127.0.0.1")
    with pytest.raises(OutboundFailed, match="larger than"):
        outbound.request("POST", f"{server.url}/huge", json={})
    started = time.monotonic()
    with pytest.raises(OutboundFailed, match=r"deadline|cut off"):
        outbound.request("POST", f"{server.url}/slow", json={}, deadline_s=1)
    assert time.monotonic() - started < 2  # the trickle would take 5 s


def test_a_tenant_sees_a_short_plain_reason_not_the_answer() -> None:
    page = "<html><script>alert(1)</script>" + "secret-token " * 50 + "</html>"
    shown = sanitized(page)
    assert len(shown) <= 120 and "<" not in shown and "\n" not in shown
