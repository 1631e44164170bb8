"""Delivery providers behind one interface.

Email goes through SendGrid and SMS through Twilio once an organization stores its credentials
(``PUT /v1/messaging/settings``); until then every channel goes to the local outbox, where the
message row itself is the record (``GET /v1/outbox``), so `herald dev` works with no accounts.
Push and in-app messages are recorded the same way and read from the customer's inbox.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client as TwilioClient

from herald.messaging.models import Channel
from herald.outbound import (
    Outbound,
    OutboundFailed,
    OutboundRefused,
    OutboundResponse,
    sanitized,
)

# Herald's message id travels with every message under this name (SendGrid custom_args).
MESSAGE_ID_ARG = "herald_message_id"
PROVIDER_TIMEOUT_S = 20
SENDGRID_HOST = "https://api.sendgrid.com"
# How far a provider's clock may be behind Herald's when matching a lost send.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: uuid.UUID  # Herald's id; travels with the message so webhooks find it
    channel: Channel
    recipient: str
    content: dict[str, Any]
    # When Herald recorded it: a provider's record older than this is another message.
    recorded_at: datetime | None = None
    # Whose it is: push goes to each of the customer's devices.
    customer_id: uuid.UUID | None = None


class ProviderError(Exception):
    """The provider answered and did not take the message."""

    def __init__(self, reason: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class InDoubt:
    """The request left and no answer came back: the provider may or may not have taken it."""

    error: BaseException


@dataclass(frozen=True)
class Lost:
    """Every answer was lost and the message is not sent again: it may or may not have arrived."""

    reason: str


# What became of one message handed to a provider: its provider id, a refusal, nobody knows
# yet, or nobody will ever know.
Handed = str | ProviderError | InDoubt | Lost


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _answered(status: int, reason: str, retry_after_s: float | None = None) -> ProviderError:
    """A refusal: throttling and server errors are retried, anything else is final."""
    retryable = status == 429 or status >= 500
    return ProviderError(reason, retryable=retryable, retry_after_s=retry_after_s)


def _call(
    outbound: Outbound, service: str, method: str, url: str, **kwargs: Any
) -> OutboundResponse:
    """One call through the outbound guard; a refused address or a request that never left is
    a ProviderError (final, or retried), anything lost on the way an OutboundFailed."""
    try:
        return outbound.request(method, url, deadline_s=PROVIDER_TIMEOUT_S, **kwargs)
    except OutboundRefused as exc:
        raise ProviderError(f"{service}: {exc}", retryable=False) from exc
    except OutboundFailed as exc:
        if not exc.reached:
            raise ProviderError(f"{service} unreachable: {exc}", retryable=True) from exc
        raise


def _refused(service: str, response: OutboundResponse) -> ProviderError:
    """The provider's answer, as a tenant may see it: the status and a short sanitized reason."""
    try:
        errors = response.json().get("errors") or [{}]
        detail = sanitized(str(errors[0].get("message", "")))
    except (ValueError, AttributeError, IndexError, TypeError):
        detail = ""
    reason = f"{service} HTTP {response.status}" + (f": {detail}" if detail else "")
    return _answered(response.status, reason, _retry_after(response.headers))


class TwilioOverOutbound(HttpClient):
    """Twilio's SDK, sending through the outbound guard (its documented custom-client hook)."""

    def __init__(self, outbound: Outbound) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), is_async=False)
        self._outbound = outbound

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        # A lost answer (OutboundFailed) reaches the provider's caller as a send in doubt.
        answer = _call(
            self._outbound,
            "Twilio",
            method,
            uri,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
        )
        return TwilioResponse(answer.status, answer.text, answer.headers)


class Provider(Protocol):
    name: str
    # Whether a send whose outcome was lost may simply be sent again (no effect outside Herald).
    resend_when_in_doubt: bool
    # Whether the provider reports opens and clicks itself; if not, Herald's links do.
    tracks_engagement: bool

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> dict[uuid.UUID, Handed]:
        """Hand the messages over, in the provider's batch form where it has one.

        What became of each message, by Herald's message id. Once the provider throttles, fails
        or stops answering, the rest are not attempted and have no entry.
        """
        ...

    def find(self, message: OutgoingMessage) -> str | None:
        """Reconcile a send whose outcome was lost: the provider's id if it has the message."""
        ...


class OneByOne(ABC):
    """Providers without a batch form: one request per message, stopping at the first message
    the provider asks to retry later or whose outcome is lost."""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> str:
        """Hand one message over; returns the provider's message id."""

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> dict[uuid.UUID, Handed]:
        results: dict[uuid.UUID, Handed] = {}
        for message in messages:
            try:
                results[message.message_id] = self.send(message)
            except ProviderError as exc:
                results[message.message_id] = exc
                if exc.retryable:
                    break
            except Exception as exc:  # sent or not, nobody knows
                results[message.message_id] = InDoubt(exc)
                break
        return results

    def find(self, message: OutgoingMessage) -> str | None:
        return None  # no way to look a message up: unless it may be resent, it stays unknown


class OutboxProvider(OneByOne):
    """Records instead of sending. Sending again is harmless: nothing leaves the machine."""

    name = "outbox"
    resend_when_in_doubt = True
    tracks_engagement = False

    def send(self, message: OutgoingMessage) -> str:
        return f"outbox-{message.message_id}"


class InboxProvider(OneByOne):
    """In-app messages: delivered by being stored; the customer's inbox lists them."""

    name = "inbox"
    resend_when_in_doubt = True
    tracks_engagement = False

    def send(self, message: OutgoingMessage) -> str:
        return f"inbox-{message.message_id}"


class SendGridProvider:
    """SendGrid v3 Mail Send. It has no idempotency key, so a send in doubt is never repeated."""

    name = "sendgrid"
    resend_when_in_doubt = False
    tracks_engagement = True

    def __init__(
        self,
        api_key: str,
        sender: str,
        sender_name: str | None,
        host: str | None,
        outbound: Outbound,
    ) -> None:
        self._url = f"{(host or SENDGRID_HOST).rstrip('/')}/v3/mail/send"
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._outbound = outbound
        self._sender = {"email": sender, **({"name": sender_name} if sender_name else {})}

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> dict[uuid.UUID, Handed]:
        results: dict[uuid.UUID, Handed] = {}
        for request in sendgrid_requests(messages):
            handed = self._send_request(request)
            results.update((m.message_id, handed) for m in request)
            if isinstance(handed, InDoubt) or (
                isinstance(handed, ProviderError) and handed.retryable
            ):
                break
        return results

    def _send_request(self, messages: Sequence[OutgoingMessage]) -> Handed:
        try:
            response = _call(
                self._outbound,
                "SendGrid",
                "POST",
                self._url,
                json=self.request_body(messages),
                headers=self._auth,
            )
        except ProviderError as exc:
            return exc
        except OutboundFailed as exc:  # sent or not, nobody knows
            return InDoubt(exc)
        if response.status >= 300:
            return _refused("SendGrid", response)
        return str(response.headers.get("X-Message-Id") or "")

    def find(self, message: OutgoingMessage) -> str | None:
        return None  # Mail Send has no look-up (only the paid Email Activity add-on)

    def request_body(self, messages: Sequence[OutgoingMessage]) -> dict[str, Any]:
        """A v3 Mail Send body. Several recipients share one request as personalizations, their
        own subject, headers and Herald id in each, their rendered bodies as substitutions."""
        shared = len(messages) > 1
        first = messages[0].content
        texts = {"html": _HTML_TAG, "text": _TEXT_TAG} if shared else first
        content = [{"type": "text/plain", "value": texts["text"]}] if "text" in first else []
        content.append({"type": "text/html", "value": texts["html"]})
        return {
            "from": self._sender,
            "personalizations": [_personalization(m, substitute=shared) for m in messages],
            "content": content,
        }


# SendGrid's limits: recipients per Mail Send request, substitution bytes per recipient.
SENDGRID_MAX_PERSONALIZATIONS = 1000
SENDGRID_MAX_SUBSTITUTION_BYTES = 10_000
_HTML_TAG = "%herald_html%"
_TEXT_TAG = "%herald_text%"


def _substitutions(content: dict[str, Any]) -> dict[str, str]:
    values = {_HTML_TAG: content["html"]}
    if "text" in content:
        values[_TEXT_TAG] = content["text"]
    return values


def _personalization(message: OutgoingMessage, *, substitute: bool) -> dict[str, Any]:
    content = message.content
    personalization: dict[str, Any] = {
        "to": [{"email": message.recipient}],
        "subject": content["subject"],
        "custom_args": {MESSAGE_ID_ARG: str(message.message_id)},
    }
    if content.get("headers"):
        personalization["headers"] = content["headers"]
    if substitute:
        personalization["substitutions"] = _substitutions(content)
    return personalization


def sendgrid_requests(messages: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
    """Group messages into Mail Send requests: those with the same parts (HTML only, or HTML and
    text) share a request up to SendGrid's limit; a body too large to substitute goes alone."""
    alone: list[list[OutgoingMessage]] = []
    groups: dict[bool, list[list[OutgoingMessage]]] = {}
    for message in messages:
        size = sum(len(v.encode()) for v in _substitutions(message.content).values())
        if size > SENDGRID_MAX_SUBSTITUTION_BYTES:
            alone.append([message])
            continue
        chunks = groups.setdefault("text" in message.content, [[]])
        if len(chunks[-1]) == SENDGRID_MAX_PERSONALIZATIONS:
            chunks.append([])
        chunks[-1].append(message)
    return alone + [chunk for chunks in groups.values() for chunk in chunks]


class TwilioProvider(OneByOne):
    """Twilio Messages API. An SMS in doubt is never resent: a duplicate text costs and annoys."""

    name = "twilio"
    resend_when_in_doubt = False
    tracks_engagement = False

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str | None,
        public_url: str,
        outbound: Outbound,
    ) -> None:
        self._client = TwilioClient(
            account_sid, auth_token, http_client=TwilioOverOutbound(outbound)
        )
        if base_url:
            self._client.api.base_url = base_url
        self._sender = sender
        self._public_url = public_url.rstrip("/")

    def send(self, message: OutgoingMessage) -> str:
        callback = f"{self._public_url}/v1/webhooks/twilio/status?message_id={message.message_id}"
        try:
            sent = self._client.messages.create(
                to=message.recipient,
                from_=self._sender,
                body=message.content["body"],
                status_callback=callback,
            )
        except TwilioRestException as exc:
            raise _answered(
                exc.status, f"Twilio HTTP {exc.status} ({exc.code}): {sanitized(str(exc.msg))}"
            ) from exc
        return str(sent.sid)

    def find(self, message: OutgoingMessage) -> str | None:
        """Twilio lists what it took, newest first: the same text to the same number since the
        message was recorded is this message."""
        recent = self._client.messages.list(to=message.recipient, from_=self._sender, limit=50)
        for candidate in recent:
            if candidate.body == message.content["body"] and (
                message.recorded_at is None
                or candidate.date_created is None
                or candidate.date_created >= message.recorded_at - CLOCK_SKEW
            ):
                return str(candidate.sid)
        return None
