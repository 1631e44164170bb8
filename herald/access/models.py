from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, TenantScoped, utcnow
from herald.secrets import EncryptedText


class Role(enum.StrEnum):
    owner = "owner"
    manager = "manager"
    cashier = "cashier"
    marketing = "marketing"
    sales = "sales"
    # Sign-in accounts of shoppers themselves; never granted to an API key.
    customer = "customer"


class ApiKey(TenantScoped, Base):
    """A bearer key bound to one organization and one role. Only its SHA-256 digest is stored."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    # The public part of the key, used to find the row before comparing digests.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class User(TenantScoped, Base):
    """A sign-in account. Customers promoted to an account get role ``customer``; staff sign in
    to the console with a password (set through an invitation's one-time link)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An argon2 hash; none until the invitation is accepted.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # The second factor's shared secret (sealed at rest), and when its enrolment was confirmed:
    # a secret without a confirmation is an enrolment under way, not yet asked at sign-in.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[datetime | None]
