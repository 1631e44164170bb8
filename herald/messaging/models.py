from __future__ import annotations

import enum
import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, JSONType, TenantScoped, utcnow
from herald.messaging.contracts import MessageStatus
from herald.secrets import EncryptedText


class Channel(enum.StrEnum):
    email = "email"
    sms = "sms"
    push = "push"
    in_app = "in_app"


class Category(enum.StrEnum):
    """Marketing messages need consent and carry unsubscribe headers; transactional ones do not."""

    marketing = "marketing"
    transactional = "transactional"


class ConsentStatus(enum.StrEnum):
    granted = "granted"
    revoked = "revoked"


class SuppressionReason(enum.StrEnum):
    hard_bounce = "hard_bounce"
    spam_complaint = "spam_complaint"
    sms_stop = "sms_stop"
    manual = "manual"
    # A person erased at their request: only a hash of the address is kept (``erased_address``).
    erased = "erased"


class Consent(TenantScoped, Base):
    """A customer's permission to receive marketing on one channel, and where it came from."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=10))
    status: Mapped[ConsentStatus] = mapped_column(Enum(ConsentStatus, native_enum=False, length=10))
    source: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Suppression(TenantScoped, Base):
    """An address nothing more is sent to (bounced, complained, texted STOP, or added by hand)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("organization_id", "channel", "address"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=10))
    address: Mapped[str] = mapped_column(String(320))  # lower-cased email or E.164 number
    reason: Mapped[SuppressionReason] = mapped_column(
        Enum(SuppressionReason, native_enum=False, length=20)
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageTemplate(TenantScoped, Base):
    """A message written once, with a content variant per locale."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=10))
    category: Mapped[Category] = mapped_column(Enum(Category, native_enum=False, length=20))
    default_locale: Mapped[str] = mapped_column(String(35))
    # {locale: content}; the content's shape depends on the channel (see schemas).
    variants: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class MessagingSettings(TenantScoped, Base):
    """Per-organization delivery setup. Secrets are write-only through the API."""

    __tablename__ = "messaging_settings"
    __table_args__ = (UniqueConstraint("organization_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email_from: Mapped[str | None] = mapped_column(String(320))
    email_from_name: Mapped[str | None] = mapped_column(String(200))
    # CAN-SPAM: every marketing email carries the sender's postal address.
    postal_address: Mapped[str | None] = mapped_column(Text)
    sendgrid_api_key: Mapped[str | None] = mapped_column(EncryptedText)
    sendgrid_host: Mapped[str | None] = mapped_column(String(300))
    # The Event Webhook's verification key (base64 DER, as SendGrid shows it).
    sendgrid_webhook_public_key: Mapped[str | None] = mapped_column(Text)
    twilio_account_sid: Mapped[str | None] = mapped_column(String(64))
    twilio_auth_token: Mapped[str | None] = mapped_column(EncryptedText)
    twilio_base_url: Mapped[str | None] = mapped_column(String(300))
    sms_from: Mapped[str | None] = mapped_column(String(20))
    # Push: the Firebase service-account key (JSON) Herald mints FCM access tokens with, and
    # where FCM is reached when not at Google (a relay; the local fake).
    fcm_service_account: Mapped[str | None] = mapped_column(EncryptedText)
    fcm_base_url: Mapped[str | None] = mapped_column(String(300))
    # Marketing waits out this window in the recipient's local time (it may wrap midnight).
    quiet_hours_start: Mapped[time | None]
    quiet_hours_end: Mapped[time | None]
    # [{"channel": "email", "max_messages": 3, "window_hours": 24}, ...]
    frequency_caps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Newsletter sign-ups confirm by email before they count (the norm in Germany, for one); on
    # unless the organization turns it off (see setup.double_opt_in).
    newsletter_double_opt_in: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AdHocRecipient(TenantScoped, Base):
    """An address given for one send rather than a customer's (a test send): stored before the
    send's run starts, so the run carries this row's id and never the address."""

    __tablename__ = "adhoc_recipients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    address: Mapped[str] = mapped_column(String(320))  # an email address or E.164 number
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(TenantScoped, Base):
    """One message to one recipient. Written before the provider is called, keyed by intent."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("organization_id", "idempotency_key"),
        Index("ix_messages_customer", "organization_id", "customer_id", "created_at"),
        Index("ix_messages_created", "organization_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # No index of its own: the composite indexes below start with it. A lone index on the
    # organization tempts PostgreSQL, when its statistics lag a fast-growing organization
    # (a campaign's first minutes), into scanning all its messages for each intent look-up.
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    idempotency_key: Mapped[str] = mapped_column(String(300))
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=10))
    category: Mapped[Category] = mapped_column(Enum(Category, native_enum=False, length=20))
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("message_templates.id", ondelete="SET NULL")
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str | None] = mapped_column(String(35))
    # The rendered content and headers, exactly as handed to the provider.
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provider: Mapped[str] = mapped_column(String(30))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[MessageStatus] = mapped_column(
        Enum(MessageStatus, native_enum=False, length=20), default=MessageStatus.queued
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    # Set before the provider is called, cleared when it answers: still set on a retry means
    # the earlier attempt's outcome was lost.
    in_flight: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # First open and first click, kept apart from the status, which a later bounce or
    # complaint overwrites (campaign analytics count engagement from these).
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    # In-app messages: when the customer read it, removed it from their inbox, and when it
    # stops being shown at all (from its display rules).
    read_at: Mapped[datetime | None]
    dismissed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookReceipt(TenantScoped, Base):
    """A provider event already applied. Providers retry and duplicate; each counts once."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("organization_id", "provider", "receipt_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(30))
    receipt_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Device(TenantScoped, Base):
    """A customer's app install that can receive push messages (an FCM registration token)."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("organization_id", "token"),
        Index("ix_devices_customer", "organization_id", "customer_id", "last_seen_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(500))
    platform: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # FCM said the token is dead (the app was removed, the token belongs to another project):
    # nothing is sent to it until the app registers it again.
    active: Mapped[bool] = mapped_column(default=True)
    deactivated_at: Mapped[datetime | None]
    deactivated_reason: Mapped[str | None] = mapped_column(String(200))


class PushDeliveryStatus(enum.StrEnum):
    queued = "queued"
    sent = "sent"
    failed = "failed"
    # The request left and its answer was lost: never sent to that device again.
    unknown = "unknown"


class PushDelivery(TenantScoped, Base):
    """One push message to one of the customer's devices. Recorded before FCM is called, so a
    retried message reaches each device once: the devices already served are not sent again."""

    __tablename__ = "push_deliveries"
    __table_args__ = (UniqueConstraint("message_id", "device_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL")
    )
    platform: Mapped[str] = mapped_column(String(20))
    status: Mapped[PushDeliveryStatus] = mapped_column(
        Enum(PushDeliveryStatus, native_enum=False, length=10), default=PushDeliveryStatus.queued
    )
    fcm_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    in_flight: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
