from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from herald.access.models import ApiKey, Role, User
from herald.db import utcnow
from herald.errors import Conflict, InvalidInput, NotFound, Unauthorized

KEY_PREFIX = "hk_"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key. ``secret`` is shown once and never stored."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: the organization and role a valid key, or a signed-in staff user, has."""

    organization_id: uuid.UUID
    role: Role
    api_key_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None

    @property
    def actor(self) -> str:
        """Who did it, as audit trails record it (the key, never its secret; or the user)."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api-key:{self.api_key_id}"

    @property
    def credential_id(self) -> uuid.UUID:
        """The key or the user that the caller's budgets (open streams) are counted for."""
        credential = self.user_id or self.api_key_id
        assert credential is not None, "a principal is a key or a user"
        return credential


def _digest(secret: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


# Keys in force per organization, and how long a revoked key stays listed: the list stays small.
MAX_KEYS_IN_FORCE = 50
REVOKED_KEYS_LISTED_FOR = timedelta(days=30)


def issue_api_key(session: Session, organization_id: uuid.UUID, role: Role, name: str) -> IssuedKey:
    if role is Role.customer:
        raise InvalidInput("API keys are for staff roles, not customers", field="role")
    in_force = session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.organization_id == organization_id, ApiKey.revoked_at.is_(None))
    )
    if (in_force or 0) >= MAX_KEYS_IN_FORCE:
        raise Conflict(f"an organization has at most {MAX_KEYS_IN_FORCE} keys in force; revoke one")
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        organization_id=organization_id,
        name=name,
        role=role,
        prefix=prefix,
        digest=_digest(secret),
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, secret=secret)


def revoke_api_key(session: Session, key_id: uuid.UUID) -> None:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound("no such API key")
    key.revoked_at = utcnow()
    session.commit()


def in_force(session: Session, principal: Principal) -> bool:
    """Whether the caller's key or staff account still opens anything with the same role (not
    revoked, removed or changed): what a long-lived stream checks (system session)."""
    if principal.user_id is not None:
        role = session.scalar(select(User.role).where(User.id == principal.user_id))
        return role is principal.role
    found = session.execute(
        select(ApiKey.revoked_at).where(ApiKey.id == principal.api_key_id)
    ).first()
    return found is not None and found.revoked_at is None


def list_api_keys(session: Session) -> list[ApiKey]:
    """Keys in force, and those revoked in the last 30 days."""
    recent = utcnow() - REVOKED_KEYS_LISTED_FOR
    return list(
        session.scalars(
            select(ApiKey)
            .where(or_(ApiKey.revoked_at.is_(None), ApiKey.revoked_at >= recent))
            .order_by(ApiKey.created_at)
        )
    )


def authenticate(session: Session, secret: str) -> Principal:
    """Resolve a bearer key (system session: the key itself says which organization)."""
    parts = secret.split("_")
    if not secret.startswith(KEY_PREFIX) or len(parts) < 3:
        raise Unauthorized("malformed API key")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if (
        key is None
        or key.revoked_at is not None
        or not hmac.compare_digest(key.digest, _digest(secret))
    ):
        raise Unauthorized("unknown or revoked API key")
    return Principal(organization_id=key.organization_id, role=key.role, api_key_id=key.id)


def create_user(session: Session, email: str, role: Role = Role.customer) -> User:
    """A sign-in account: a shopper (role ``customer``, to be linked to their profile) or a
    member of staff (who can, for one, be given sales inquiries to work)."""
    email = email.lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("a user with this email exists", field="email")
    user = User(email=email, role=role)
    session.add(user)
    session.commit()
    return user


# Staff to pick from (who takes an inquiry): a short list by nature, and never a long one.
MAX_USERS_LISTED = 500


def list_users(session: Session, roles: Iterable[Role]) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.role.in_(list(roles)))
            .order_by(User.email)
            .limit(MAX_USERS_LISTED)
        )
    )
