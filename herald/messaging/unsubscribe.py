"""Signed links: one-click unsubscribe (RFC 8058), a customer's loyalty page, and open/click
tracking.

Unsubscribe links are unguessable and bound to one organization and customer.

A token is the customer id signed with the deployment's secret and the organization id, so it
cannot be guessed, cannot be altered, and means nothing to another organization.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from html import escape

_PURPOSE = b"unsubscribe:v1"
LOYALTY_VIEW = b"loyalty-view:v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Links:
    public_url: str
    secret_key: str

    def _signature(
        self, purpose: bytes, organization_id: uuid.UUID, customer_id: uuid.UUID
    ) -> bytes:
        payload = purpose + organization_id.bytes + customer_id.bytes
        return hmac.new(self.secret_key.encode(), payload, hashlib.sha256).digest()[:18]

    def customer_token(
        self, purpose: bytes, organization_id: uuid.UUID, customer_id: uuid.UUID
    ) -> str:
        """A token naming one customer of one organization, for one purpose."""
        signature = self._signature(purpose, organization_id, customer_id)
        return f"{_b64(customer_id.bytes)}.{_b64(signature)}"

    def read_customer_token(
        self, purpose: bytes, organization_id: uuid.UUID, token: str
    ) -> uuid.UUID | None:
        """The customer a token names, if it was issued for this organization and purpose."""
        try:
            raw_id, raw_signature = token.split(".")
            customer_id = uuid.UUID(bytes=_unb64(raw_id))
            signature = _unb64(raw_signature)
        except ValueError:
            return None
        expected = self._signature(purpose, organization_id, customer_id)
        if not hmac.compare_digest(signature, expected):
            return None
        return customer_id

    def unsubscribe_token(self, organization_id: uuid.UUID, customer_id: uuid.UUID) -> str:
        return self.customer_token(_PURPOSE, organization_id, customer_id)

    def read_unsubscribe_token(self, organization_id: uuid.UUID, token: str) -> uuid.UUID | None:
        return self.read_customer_token(_PURPOSE, organization_id, token)

    def loyalty_url(self, slug: str, organization_id: uuid.UUID, customer_id: uuid.UUID) -> str:
        """The customer's own loyalty page: balance, tier, history, rewards; nothing else."""
        token = self.customer_token(LOYALTY_VIEW, organization_id, customer_id)
        return f"{self.public_url.rstrip('/')}/v1/public/{slug}/loyalty/{token}"

    def unsubscribe_url(self, slug: str, organization_id: uuid.UUID, customer_id: uuid.UUID) -> str:
        token = self.unsubscribe_token(organization_id, customer_id)
        return f"{self.public_url.rstrip('/')}/v1/public/{slug}/unsubscribe/{token}"

    def _tracking_signature(
        self, organization_id: uuid.UUID, message_id: uuid.UUID, kind: str, index: int
    ) -> bytes:
        payload = b"track:v1" + organization_id.bytes + message_id.bytes + f"{kind}{index}".encode()
        return hmac.new(self.secret_key.encode(), payload, hashlib.sha256).digest()[:12]

    def tracking_url(
        self, organization_id: uuid.UUID, message_id: uuid.UUID, kind: str, index: int
    ) -> str:
        signature = _b64(self._tracking_signature(organization_id, message_id, kind, index))
        token = f"{_b64(message_id.bytes)}.{kind}{index}.{signature}"
        return f"{self.public_url.rstrip('/')}/v1/track/{token}"

    @staticmethod
    def parse_tracking_token(token: str) -> tuple[uuid.UUID, str, int, bytes] | None:
        try:
            raw_id, what, raw_signature = token.split(".")
            return uuid.UUID(bytes=_unb64(raw_id)), what[0], int(what[1:]), _unb64(raw_signature)
        except (ValueError, IndexError):
            return None

    def tracking_valid(
        self,
        organization_id: uuid.UUID,
        message_id: uuid.UUID,
        kind: str,
        index: int,
        signature: bytes,
    ) -> bool:
        expected = self._tracking_signature(organization_id, message_id, kind, index)
        return hmac.compare_digest(signature, expected)


def unsubscribe_headers(url: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def with_postal_footer(content: dict[str, str], postal_address: str) -> dict[str, str]:
    """CAN-SPAM: the sender's postal address at the foot of every marketing email."""
    footer = dict(content)
    footer["html"] = (
        f'{content["html"]}\n<p style="font-size:12px;color:#666">{escape(postal_address)}</p>'
    )
    if content.get("text"):
        footer["text"] = f"{content['text']}\n\n{postal_address}"
    return footer
