"""Signed links: one-click unsubscribe (RFC 8058), a customer's loyalty page, and open/click
tracking.

Unsubscribe links are unguessable and bound to one organization and customer.

A token is the customer id signed with the deployment's link key and the organization id, so
it cannot be guessed, cannot be altered, and means nothing to another organization. The link key
is derived from the secret for this purpose alone (``herald.secrets``). After a rotation, links
signed under a previous secret keep opening while that secret is listed; so do links signed
before keys were derived per purpose (with the secret itself).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from html import escape

from herald.messaging.email_design import append_to_body
from herald.secrets import SecretKeys

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
    previous_keys: tuple[str, ...] = ()
    # The key that signs, then every key whose signatures still open links.
    _keys: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        secrets = SecretKeys(self.secret_key, self.previous_keys)
        legacy = tuple(secret.encode() for secret in secrets.all)
        object.__setattr__(self, "_keys", secrets.for_purpose("links") + legacy)

    def _signatures(self, payload: bytes, size: int) -> list[bytes]:
        return [hmac.new(key, payload, hashlib.sha256).digest()[:size] for key in self._keys]

    def _signature(
        self, purpose: bytes, organization_id: uuid.UUID, customer_id: uuid.UUID
    ) -> bytes:
        return self._signatures(purpose + organization_id.bytes + customer_id.bytes, 18)[0]

    def _verified(self, signature: bytes, payload: bytes, size: int) -> bool:
        return any(hmac.compare_digest(signature, s) for s in self._signatures(payload, size))

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
        payload = purpose + organization_id.bytes + customer_id.bytes
        return customer_id if self._verified(signature, payload, 18) else None

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

    def sample_unsubscribe_url(self, slug: str) -> str:
        """Where a customer's unsubscribe link goes, for sample data (a preview, a test send
        without a customer): no one's token, so it unsubscribes no one."""
        return f"{self.public_url.rstrip('/')}/v1/public/{slug}/unsubscribe/<token>"

    @staticmethod
    def _tracking_payload(
        organization_id: uuid.UUID, message_id: uuid.UUID, kind: str, index: int
    ) -> bytes:
        return b"track:v1" + organization_id.bytes + message_id.bytes + f"{kind}{index}".encode()

    def tracking_token(
        self, organization_id: uuid.UUID, message_id: uuid.UUID, kind: str, index: int
    ) -> str:
        """One message's open or click, signed: whoever holds it can report that, nothing else."""
        payload = self._tracking_payload(organization_id, message_id, kind, index)
        signature = _b64(self._signatures(payload, 12)[0])
        return f"{_b64(message_id.bytes)}.{kind}{index}.{signature}"

    def tracking_url(
        self, organization_id: uuid.UUID, message_id: uuid.UUID, kind: str, index: int
    ) -> str:
        token = self.tracking_token(organization_id, message_id, kind, index)
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
        payload = self._tracking_payload(organization_id, message_id, kind, index)
        return self._verified(signature, payload, 12)


def unsubscribe_headers(url: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def with_postal_footer(content: dict[str, str], postal_address: str) -> dict[str, str]:
    """CAN-SPAM: the sender's postal address at the foot of every marketing email."""
    footer = dict(content)
    footer["html"] = append_to_body(
        content["html"],
        f'\n<p style="font-size:12px;color:#666;text-align:center">{escape(postal_address)}</p>',
    )
    if content.get("text"):
        footer["text"] = f"{content['text']}\n\n{postal_address}"
    return footer
