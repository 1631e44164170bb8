"""Delivery providers behind one interface.

Email goes through SendGrid and SMS through Twilio once an organization stores its credentials
(``PUT /v1/messaging/settings``); until then every channel goes to the local outbox, where the
message row itself is the record (``GET /v1/outbox``), so `herald dev` works with no accounts.
Push and in-app messages are recorded the same way and read from the customer's inbox.
"""

from __future__ import annotations

import urllib.error
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Header, Mail
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from herald.messaging.models import Channel, MessagingSettings

# Herald's message id travels with every message under this name (SendGrid custom_args).
MESSAGE_ID_ARG = "herald_message_id"
PROVIDER_TIMEOUT_S = 20


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: uuid.UUID  # Herald's id; travels with the message so webhooks find it
    channel: Channel
    recipient: str
    content: dict[str, Any]


class ProviderError(Exception):
    """The provider answered and did not take the message."""

    def __init__(self, reason: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after_s = retry_after_s


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


class Provider(Protocol):
    name: str
    # Whether a send whose outcome was lost may simply be sent again (no effect outside Herald).
    resend_when_in_doubt: bool
    # Whether the provider reports opens and clicks itself; if not, Herald's links do.
    tracks_engagement: bool

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; returns the provider's message id."""
        ...


class OutboxProvider:
    """Records instead of sending. Sending again is harmless: nothing leaves the machine."""

    name = "outbox"
    resend_when_in_doubt = True
    tracks_engagement = False

    def send(self, message: OutgoingMessage) -> str:
        return f"outbox-{message.message_id}"


class InboxProvider:
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
        self, api_key: str, sender: str, sender_name: str | None, host: str | None
    ) -> None:
        self._client = SendGridAPIClient(api_key, host=host or "https://api.sendgrid.com")
        self._client.client.timeout = PROVIDER_TIMEOUT_S
        self._sender = (sender, sender_name) if sender_name else sender

    def send(self, message: OutgoingMessage) -> str:
        content = message.content
        mail = Mail(
            from_email=self._sender,
            to_emails=message.recipient,
            subject=content["subject"],
            html_content=content["html"],
            plain_text_content=content.get("text"),
        )
        mail.custom_arg = CustomArg(MESSAGE_ID_ARG, str(message.message_id))
        for name, value in content.get("headers", {}).items():
            mail.header = Header(name, value)
        try:
            response = self._client.send(mail)
        except SendGridHTTPError as exc:
            raise _answered(
                exc.status_code,
                f"SendGrid HTTP {exc.status_code}: {exc.body!r}"[:500],
                _retry_after(exc.headers),
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):  # never reached SendGrid
                raise ProviderError(f"SendGrid unreachable: {exc.reason}", retryable=True) from exc
            raise  # sent or not, nobody knows: the delivery path treats it as in doubt
        return str(response.headers.get("X-Message-Id") or "")


class TwilioProvider:
    """Twilio Messages API. An SMS in doubt is never resent: a duplicate text costs and annoys."""

    name = "twilio"
    resend_when_in_doubt = False
    tracks_engagement = False

    def __init__(
        self, account_sid: str, auth_token: str, sender: str, base_url: str | None, public_url: str
    ) -> None:
        self._client = TwilioClient(
            account_sid, auth_token, http_client=TwilioHttpClient(timeout=PROVIDER_TIMEOUT_S)
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
                exc.status, f"Twilio {exc.status} ({exc.code}): {exc.msg}"[:500]
            ) from exc
        return str(sent.sid)


class PushProvider:
    """FCM HTTP v1 ``messages:send``: one request per device token, the message id in ``data``."""

    name = "push"
    resend_when_in_doubt = False  # a duplicate notification is worse than a missing one
    tracks_engagement = False

    def __init__(self, endpoint: str, access_token: str) -> None:
        self._endpoint = endpoint
        self._headers = {"Authorization": f"Bearer {access_token}"}

    def send(self, message: OutgoingMessage) -> str:
        content = message.content
        body = {
            "message": {
                "token": message.recipient,
                "notification": {"title": content["title"], "body": content["body"]},
                "data": {**content.get("data", {}), MESSAGE_ID_ARG: str(message.message_id)},
            }
        }
        try:
            response = httpx.post(
                self._endpoint, json=body, headers=self._headers, timeout=PROVIDER_TIMEOUT_S
            )
        except httpx.ConnectError as exc:  # never reached the push service
            raise ProviderError(f"push service unreachable: {exc}", retryable=True) from exc
        if response.status_code >= 300:
            raise _answered(
                response.status_code,
                f"push HTTP {response.status_code}: {response.text[:300]}",
                _retry_after(response.headers),
            )
        return str(response.json().get("name", ""))


def providers_for(
    settings: MessagingSettings | None, public_url: str
) -> Callable[[Channel], Provider]:
    """The organization's provider per channel: its own accounts, else the local outbox."""
    outbox = OutboxProvider()
    email: Provider = outbox
    sms: Provider = outbox
    if settings is not None and settings.sendgrid_api_key and settings.email_from:
        email = SendGridProvider(
            settings.sendgrid_api_key,
            settings.email_from,
            settings.email_from_name,
            settings.sendgrid_host,
        )
    if (
        settings is not None
        and settings.twilio_account_sid
        and settings.twilio_auth_token
        and settings.sms_from
    ):
        sms = TwilioProvider(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.sms_from,
            settings.twilio_base_url,
            public_url,
        )
    push: Provider = outbox
    if settings is not None and settings.push_endpoint and settings.push_access_token:
        push = PushProvider(settings.push_endpoint, settings.push_access_token)
    chosen = {
        Channel.email: email,
        Channel.sms: sms,
        Channel.push: push,
        Channel.in_app: InboxProvider(),
    }
    return lambda channel: chosen.get(channel, outbox)
