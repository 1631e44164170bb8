"""The one way Herald calls an address a tenant chose: provider endpoints, journey webhooks.

A tenant can type any URL into its settings, so every such call is vetted where it matters, at
the socket: the host is resolved, every address it resolves to must be public (not loopback,
private, link-local — the cloud metadata service lives there — shared, reserved or multicast),
and the request then goes to the vetted address itself, so a second DNS answer cannot swap in
an internal one. Redirects are followed by hand, each hop vetted the same way. Answers are read
up to a size cap within a total deadline. The operator may allow chosen networks (the local
fakes in tests, an internal relay) with ``HERALD_OUTBOUND_ALLOW``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_RESPONSE_BYTES = 1_000_000
DEFAULT_DEADLINE_S = 20.0
MAX_REDIRECTS = 3
# What a tenant is shown of an answer: a status and this much sanitized text, no more.
REASON_CHARS = 120


class OutboundRefused(Exception):
    """The destination is not one Herald calls: a fixed fact about the address, not a blip."""


class OutboundFailed(Exception):
    """The call went wrong on the way (unreachable, too slow, an answer too large)."""

    def __init__(self, reason: str, *, reached: bool) -> None:
        super().__init__(reason)
        # False when nothing was sent (the connection never opened): safe to try again.
        self.reached = reached


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return httpx.Response(self.status, content=self.body).json()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def sanitized(text: str) -> str:
    """A short, single-line, plain excerpt of someone else's words, safe to show a tenant."""
    flat = re.sub(r"[^\w .,:;'()/@+-]", " ", text)
    return re.sub(r"\s+", " ", flat).strip()[:REASON_CHARS]


def parse_allow_list(value: str) -> tuple[IPNetwork, ...]:
    """``HERALD_OUTBOUND_ALLOW``: addresses or networks, comma-separated (127.0.0.1, 10.0.0.0/8)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    )


@dataclass(frozen=True)
class _Body:
    """What a request carries: JSON, a form, or bytes as they are (at most one)."""

    json: Any = None
    data: Mapping[str, Any] | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class Outbound:
    allow: tuple[IPNetwork, ...] = ()
    max_response_bytes: int = MAX_RESPONSE_BYTES
    _resolve: Any = field(default=socket.getaddrinfo, repr=False, compare=False)

    @classmethod
    def allowing(cls, value: str) -> Outbound:
        return cls(allow=parse_allow_list(value))

    def _permitted(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allow):
            return True
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            return self._permitted(mapped)
        return address.is_global and not address.is_multicast

    def vet(self, host: str, port: int) -> str:
        """The address to connect to for ``host``; refused unless every address it has is one
        Herald may call (one bad answer among several is as bad as all)."""
        try:
            answers = self._resolve(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise OutboundFailed(f"cannot resolve {host}", reached=False) from exc
        addresses = [ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers]
        if not addresses:
            raise OutboundFailed(f"cannot resolve {host}", reached=False)
        for address in addresses:
            if not self._permitted(address):
                raise OutboundRefused(
                    f"{host} is a private, loopback or link-local address; Herald does not "
                    "call those"
                )
        return str(addresses[0])

    def refusal(self, url: str) -> str | None:
        """Why Herald would not call ``url``, checked when a tenant saves it; None if it
        might (a name that does not resolve yet is checked again at each call)."""
        target = httpx.URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            return "only http and https addresses are called"
        try:
            self.vet(target.host, target.port or (443 if target.scheme == "https" else 80))
        except OutboundRefused as exc:
            return str(exc)
        except OutboundFailed:
            return None
        return None

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> OutboundResponse:
        deadline = time.monotonic() + deadline_s
        body = _Body(json, data, content)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_once(method, url, body, params, headers, auth, deadline)
            location = response.headers.get("location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            url = urljoin(url, location)
            params = None  # the new address carries its own query
            if response.status in (301, 302, 303):
                method, body = "GET", _Body()
        raise OutboundFailed(f"more than {MAX_REDIRECTS} redirects", reached=True)

    def _send_once(
        self,
        method: str,
        url: str,
        body: _Body,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        deadline: float,
    ) -> OutboundResponse:
        target = httpx.URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise OutboundRefused("only http and https addresses are called")
        port = target.port or (443 if target.scheme == "https" else 80)
        address = self.vet(target.host, port)
        client = _client_for(target.scheme, target.host, port)
        request = client.build_request(
            method,
            target.copy_with(host=address),  # pinned: no second DNS answer is asked for
            json=body.json,
            data=body.data,
            content=body.content,
            params=params,
            headers={**(headers or {}), "Host": target.netloc.decode("ascii")},
            # The certificate is still checked against the name, not the address.
            extensions={"sni_hostname": target.host},
            timeout=httpx.Timeout(_remaining(deadline)),
        )
        try:
            response = client.send(request, stream=True, auth=auth)
        except httpx.ConnectError as exc:
            raise OutboundFailed(f"{target.host} unreachable", reached=False) from exc
        except httpx.HTTPError as exc:
            raise OutboundFailed(f"{target.host}: {type(exc).__name__}", reached=True) from exc
        try:
            return OutboundResponse(
                response.status_code, response.headers, self._read(response, deadline)
            )
        finally:
            response.close()

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise OutboundFailed(
                        f"answer larger than {self.max_response_bytes} bytes", reached=True
                    )
                _remaining(deadline)
        except httpx.HTTPError as exc:
            raise OutboundFailed(f"answer cut off: {type(exc).__name__}", reached=True) from exc
        return bytes(body)


# One client per origin Herald calls, kept for its connections: a client made per call costs an
# SSL context and a new connection each time (a push campaign makes one request per device).
# Requests go to the vetted address, so the client's pool holds connections to addresses vetted
# when they were opened, under this origin's name alone (its SNI and certificate checks).
_clients: dict[tuple[str, str, int], httpx.Client] = {}
_clients_lock = threading.Lock()
MAX_CLIENTS = 256


def _client_for(scheme: str, host: str, port: int) -> httpx.Client:
    key = (scheme, host, port)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= MAX_CLIENTS:  # the oldest goes; calls holding it finish with it
                del _clients[next(iter(_clients))]
            client = httpx.Client(follow_redirects=False, trust_env=False)
            _clients[key] = client
        return client


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutboundFailed("no answer within the deadline", reached=True)
    return left
