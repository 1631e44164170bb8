"""Delivery providers behind one interface.

Until an organization configures SendGrid or Twilio credentials, every channel goes to the
local outbox: the message row itself is the record (``GET /v1/outbox``), so `herald dev` works
with no accounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from herald.messaging.models import Channel


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


class Provider(Protocol):
    name: str
    # Whether a send whose outcome was lost may simply be sent again (no effect outside Herald).
    resend_when_in_doubt: bool

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; returns the provider's message id."""
        ...


class OutboxProvider:
    """Records instead of sending. Sending again is harmless: nothing leaves the machine."""

    name = "outbox"
    resend_when_in_doubt = True

    def send(self, message: OutgoingMessage) -> str:
        return f"outbox-{message.message_id}"


def providers_for(organization_id: uuid.UUID) -> Callable[[Channel], Provider]:
    """The organization's provider per channel (its credentials come with the provider settings)."""
    outbox = OutboxProvider()
    return lambda channel: outbox
