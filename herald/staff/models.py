from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, TenantScoped, utcnow


class StaffSession(TenantScoped, Base):
    """A signed-in browser. Only the SHA-256 digest of its cookie is stored; deleting the row
    (sign out, sign out everywhere, the user removed) ends it at the browser's next request."""

    __tablename__ = "staff_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class TokenPurpose(enum.StrEnum):
    invite = "invite"
    reset = "reset"


class StaffToken(TenantScoped, Base):
    """A one-time link to set a password: an invitation or a reset. Digest only, like keys."""

    __tablename__ = "staff_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(Enum(TokenPurpose, native_enum=False, length=10))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignInGuard(Base):
    """Failed sign-ins for one email address, across organizations (the address is what an
    attacker guesses against): enough failures lock it for a while, whatever is typed next."""

    __tablename__ = "sign_in_guards"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
