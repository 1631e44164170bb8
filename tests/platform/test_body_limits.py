"""Bodies are capped as they stream in: a declared length over the cap is refused unread, and a
chunked body (no declared length) is refused once it passes the cap, on every route."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.support import Org, Stack


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize(
    ("path", "cap"),
    [
        ("/v1/customers", 1_000_000),
        ("/v1/segments/preview", 1_000_000),
        ("/v1/events", 8_000_000),
        ("/v1/webhooks/sendgrid/some-shop", 5_000_000),
        ("/v1/public/some-shop/inquiries", 16_384),
    ],
)
def test_a_chunked_body_past_the_cap_is_refused_while_it_streams(
    stack: Stack, org: Org, path: str, cap: int
) -> None:
    response = stack.api.post(
        path,
        content=_chunks(cap + 100_000),
        headers={**org.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert f"{cap:,} bytes" in response.json()["detail"]


def test_a_declared_length_past_the_cap_is_refused_before_reading(stack: Stack, org: Org) -> None:
    """The client says 50 MB is coming and sends nothing more: the answer comes anyway."""
    url = httpx.URL(str(stack.api.base_url))
    with socket.create_connection((url.host, url.port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/customers HTTP/1.1\r\nHost: herald\r\n"
            + f"Authorization: {org.headers()['Authorization']}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{"
        )
        answer = conn.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "application/problem+json" in answer
    assert stack.api.get("/v1/customers", headers=org.headers()).status_code == 200


def test_a_body_under_the_cap_goes_through_chunked_too(stack: Stack, org: Org) -> None:
    response = stack.api.post(
        "/v1/customers",
        content=iter([b'{"name": "Ada ', b'Lovelace"}']),
        headers={**org.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
