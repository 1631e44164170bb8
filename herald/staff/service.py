"""Staff sign-in: passwords (argon2), the failed-attempt guard, sessions, one-time links and the
second factor; and the organization's staff list (invite, change a role, remove).

A person's account is per organization (``users`` rows are tenant-owned): one email and
password may open several organizations' accounts, and the sign-in asks which one to use.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.access.models import Role, User
from herald.access.service import Principal
from herald.db import utcnow
from herald.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from herald.organizations.models import Organization
from herald.staff.models import SignInGuard, StaffSession, StaffToken, TokenPurpose
from herald.staff.schemas import SignInChoice, StaffUserOut

# A browser stays signed in while used at least this often, and never longer than the limit.
SESSION_IDLE = timedelta(hours=12)
SESSION_LIMIT = timedelta(days=14)
# A session's expiry moves forward at most this often (not a write on every page).
SESSION_TOUCH_EVERY = timedelta(minutes=5)
LINK_LIFETIMES = {TokenPurpose.invite: timedelta(days=7), TokenPurpose.reset: timedelta(hours=1)}
# Five wrong passwords or codes within 15 minutes lock the address for 15 minutes.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKED_FOR = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
STAFF_ROLES = frozenset(Role) - {Role.customer}

_hasher = PasswordHasher()
# Verified when no account matches, so an unknown address takes as long as a wrong password.
_DECOY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    # Tokens are 256-bit random strings: a plain SHA-256 is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if password.strip().lower() == email.lower():
        raise InvalidInput("a password must not be the email address", field="password")


# --- the failed-attempt guard (system session: addresses span organizations) ---------------


def check_not_locked(session: Session, email: str, now: datetime) -> None:
    guard = session.get(SignInGuard, email)
    if guard is not None and guard.locked_until is not None and guard.locked_until > now:
        minutes = max(1, int((guard.locked_until - now).total_seconds() // 60) + 1)
        raise TooManyRequests(
            f"too many failed sign-ins for this address; try again in {minutes} minutes"
        )


def record_failure(session: Session, email: str, now: datetime) -> None:
    """Count a wrong password or code; the fifth within the window locks the address."""
    try:
        with session.begin_nested():
            session.add(SignInGuard(email=email, failures=0, first_failure_at=now))
    except IntegrityError:
        pass  # counted before (or concurrently): the update below adds to that row
    session.execute(
        update(SignInGuard)
        .where(SignInGuard.email == email, SignInGuard.first_failure_at < now - FAILURE_WINDOW)
        .values(failures=0, first_failure_at=now)
    )
    session.execute(
        update(SignInGuard)
        .where(SignInGuard.email == email)
        .values(failures=SignInGuard.failures + 1)
    )
    session.execute(
        update(SignInGuard)
        .where(SignInGuard.email == email, SignInGuard.failures >= MAX_FAILURES)
        .values(failures=0, first_failure_at=now, locked_until=now + LOCKED_FOR)
    )
    session.commit()


def _forget_failures(session: Session, email: str) -> None:
    session.execute(delete(SignInGuard).where(SignInGuard.email == email))
    session.commit()


# --- signing in -----------------------------------------------------------------------------


def check_password(session: Session, email: str, password: str) -> list[SignInChoice]:
    """The staff accounts this email and password open (system session). A locked address is
    refused whatever the password; a wrong one counts towards the lock."""
    email = email.strip().lower()
    now = utcnow()
    check_not_locked(session, email, now)
    rows = session.execute(
        select(User, Organization.name)
        .join(Organization, Organization.id == User.organization_id)
        .where(
            User.email == email,
            User.role.in_(list(STAFF_ROLES)),
            User.password_hash.is_not(None),
        )
        .order_by(Organization.name)
    ).all()
    if not rows:
        _matches(_DECOY_HASH, password)
    opened = [(user, name) for user, name in rows if _matches(user.password_hash or "", password)]
    if not opened:
        record_failure(session, email, now)
        raise Unauthorized("wrong email or password")
    _forget_failures(session, email)
    return [
        SignInChoice(
            user_id=user.id,
            organization_id=user.organization_id,
            organization_name=name,
            role=user.role,
            needs_code=user.totp_enabled_at is not None,
        )
        for user, name in opened
    ]


def check_code(session: Session, user_id: uuid.UUID, code: str) -> None:
    """The second factor at sign-in (system session); a wrong code counts like a password."""
    user = session.get(User, user_id)
    if user is None or user.role not in STAFF_ROLES:
        raise Unauthorized("sign in again")
    now = utcnow()
    check_not_locked(session, user.email, now)
    if user.totp_enabled_at is None or user.totp_secret is None:
        return
    if not pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1):
        record_failure(session, user.email, now)
        raise Unauthorized("wrong code", field="code")


@dataclass(frozen=True)
class SignedIn:
    """A signed-in browser: who, where, and as what."""

    principal: Principal
    session_id: uuid.UUID
    email: str
    organization_name: str
    two_factor: bool


def open_session(session: Session, user_id: uuid.UUID, user_agent: str) -> str:
    """A new session for a staff account (system session); the token is the cookie's value."""
    user = session.get(User, user_id)
    if user is None or user.role not in STAFF_ROLES or user.password_hash is None:
        raise Unauthorized("sign in again")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        StaffSession(
            organization_id=user.organization_id,
            user_id=user.id,
            digest=_digest(token),
            user_agent=user_agent[:300],
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_IDLE,
        )
    )
    session.commit()
    return token


def resolve_session(session: Session, token: str) -> SignedIn:
    """The browser's session (system session), its expiry moved forward now and then."""
    found = session.execute(
        select(StaffSession, User, Organization.name)
        .join(User, User.id == StaffSession.user_id)
        .join(Organization, Organization.id == StaffSession.organization_id)
        .where(StaffSession.digest == _digest(token))
    ).first()
    now = utcnow()
    if found is None or found[0].expires_at <= now:
        raise Unauthorized("signed out")
    row, user, organization_name = found
    if now - row.last_seen_at >= SESSION_TOUCH_EVERY:
        row.last_seen_at = now
        row.expires_at = min(now + SESSION_IDLE, row.created_at + SESSION_LIMIT)
        session.commit()
    return SignedIn(
        principal=Principal(organization_id=user.organization_id, role=user.role, user_id=user.id),
        session_id=row.id,
        email=user.email,
        organization_name=organization_name,
        two_factor=user.totp_enabled_at is not None,
    )


def close_session(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.digest == _digest(token)))
    session.commit()


def close_all_sessions(session: Session, user_id: uuid.UUID) -> int:
    """Sign a user out everywhere; how many sessions ended."""
    _staff_user(session, user_id)
    ended = session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    session.commit()
    return int(getattr(ended, "rowcount", 0) or 0)


# --- one-time links: invitations and resets -------------------------------------------------


@dataclass(frozen=True)
class IssuedLink:
    """A link to email: plain values, used after the session that issued it has closed."""

    user_id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    role: Role
    purpose: TokenPurpose
    token: str
    token_id: uuid.UUID
    expires_at: datetime


def _issue_link(session: Session, user: User, purpose: TokenPurpose) -> IssuedLink:
    # A new link replaces the user's earlier ones of the same purpose.
    session.execute(
        delete(StaffToken).where(StaffToken.user_id == user.id, StaffToken.purpose == purpose)
    )
    token = secrets.token_urlsafe(32)
    row = StaffToken(
        id=uuid.uuid4(),
        organization_id=user.organization_id,
        user_id=user.id,
        purpose=purpose,
        digest=_digest(token),
        expires_at=utcnow() + LINK_LIFETIMES[purpose],
    )
    link = IssuedLink(
        user_id=user.id,
        organization_id=user.organization_id,
        email=user.email,
        role=user.role,
        purpose=purpose,
        token=token,
        token_id=row.id,
        expires_at=row.expires_at,
    )
    session.add(row)
    session.commit()
    return link


def invite(session: Session, email: str, role: Role) -> IssuedLink:
    """A staff account with no password yet, and the link to set one. Inviting an address
    again (an invitation lost or expired) sends a new link; an active account is a conflict."""
    if role not in STAFF_ROLES:
        raise InvalidInput("invite staff roles only; customers sign up themselves", field="role")
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    if user is not None and (user.password_hash is not None or user.role not in STAFF_ROLES):
        raise Conflict("a user with this email exists", field="email")
    if user is None:
        user = User(email=email, role=role)
        session.add(user)
        session.flush()
    user.role = role
    return _issue_link(session, user, TokenPurpose.invite)


def reset_links(session: Session, email: str) -> list[IssuedLink]:
    """A reset link for each active staff account of this address (system session), one per
    organization; none for an unknown address (and the caller says the same either way)."""
    users = session.scalars(
        select(User).where(
            User.email == email.strip().lower(),
            User.role.in_(list(STAFF_ROLES)),
            User.password_hash.is_not(None),
        )
    )
    return [_issue_link(session, user, TokenPurpose.reset) for user in users]


@dataclass(frozen=True)
class LinkHolder:
    email: str
    organization_name: str
    purpose: TokenPurpose


def _valid_link(session: Session, token: str) -> StaffToken:
    row = session.scalar(select(StaffToken).where(StaffToken.digest == _digest(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFound("this link has expired or was used; ask for a new one")
    return row


def link_holder(session: Session, token: str) -> LinkHolder:
    """Whose link this is (system session), for the page that sets the password."""
    row = _valid_link(session, token)
    user = session.get(User, row.user_id)
    organization = session.get(Organization, row.organization_id)
    assert user is not None and organization is not None  # cascades delete the link with them
    return LinkHolder(email=user.email, organization_name=organization.name, purpose=row.purpose)


def set_password(session: Session, token: str, password: str) -> uuid.UUID:
    """Use a one-time link (system session): the password is set, the link spent, and every
    session the account had is ended. Returns the user's id."""
    row = _valid_link(session, token)
    user = session.get(User, row.user_id)
    assert user is not None
    check_password_rules(password, user.email)
    spent = session.execute(
        update(StaffToken)
        .where(StaffToken.id == row.id, StaffToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if not getattr(spent, "rowcount", 0):
        raise NotFound("this link has expired or was used; ask for a new one")
    user.password_hash = _hasher.hash(password)
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    session.commit()
    return user.id


def give_password(session: Session, user_id: uuid.UUID, password: str) -> None:
    """Set a staff account's password directly: the first owner of a new installation (``herald
    dev``'s demo owner), never a path for staff, who use one-time links."""
    user = _staff_user(session, user_id)
    check_password_rules(password, user.email)
    user.password_hash = _hasher.hash(password)
    session.commit()


# --- the second factor ----------------------------------------------------------------------


def start_totp(session: Session, user_id: uuid.UUID, issuer: str) -> tuple[str, str]:
    """A new secret for the user's authenticator (not asked at sign-in until confirmed)."""
    user = _staff_user(session, user_id)
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_enabled_at = None
    session.commit()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def confirm_totp(session: Session, user_id: uuid.UUID, code: str) -> None:
    user = _staff_user(session, user_id)
    if user.totp_secret is None:
        raise Conflict("start the two-factor enrolment first")
    if not pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1):
        raise InvalidInput("wrong code: type the one your app shows now", field="code")
    user.totp_enabled_at = utcnow()
    session.commit()


def disable_totp(session: Session, user_id: uuid.UUID) -> None:
    user = _staff_user(session, user_id)
    user.totp_secret = None
    user.totp_enabled_at = None
    session.commit()


# --- the organization's staff ---------------------------------------------------------------


def _staff_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or user.role not in STAFF_ROLES:
        raise NotFound("no such staff user")
    return user


def _user_out(user: User, last_seen: datetime | None) -> StaffUserOut:
    return StaffUserOut(
        id=user.id,
        email=user.email,
        role=user.role,
        status="active" if user.password_hash is not None else "invited",
        two_factor=user.totp_enabled_at is not None,
        created_at=user.created_at,
        last_seen_at=last_seen,
    )


def get_staff(session: Session, user_id: uuid.UUID) -> StaffUserOut:
    return _user_out(_staff_user(session, user_id), None)


# Staff of one organization: a short list by nature.
MAX_STAFF_LISTED = 500


def list_staff(session: Session) -> list[StaffUserOut]:
    last_seen = (
        select(StaffSession.user_id, func.max(StaffSession.last_seen_at).label("seen"))
        .group_by(StaffSession.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User, last_seen.c.seen)
        .outerjoin(last_seen, last_seen.c.user_id == User.id)
        .where(User.role.in_(list(STAFF_ROLES)))
        .order_by(User.email)
        .limit(MAX_STAFF_LISTED)
    ).all()
    return [_user_out(user, seen) for user, seen in rows]


def _check_owner_remains(session: Session, user: User) -> None:
    if user.role is not Role.owner:
        return
    owners = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.owner, User.password_hash.is_not(None), User.id != user.id)
    )
    if not owners:
        raise Conflict("the organization needs an owner who can sign in; make another first")


def change_role(session: Session, user_id: uuid.UUID, role: Role) -> StaffUserOut:
    """A new role, in force at the user's next request (sessions read the role each time)."""
    user = _staff_user(session, user_id)
    if role not in STAFF_ROLES:
        raise InvalidInput("staff roles only", field="role")
    if role is not Role.owner:
        _check_owner_remains(session, user)
    user.role = role
    session.commit()
    return _user_out(user, None)


def remove_user(session: Session, user_id: uuid.UUID) -> None:
    """Remove a staff account: its sessions end at once (cascade), its inquiries go back to
    the shared inbox."""
    user = _staff_user(session, user_id)
    _check_owner_remains(session, user)
    session.delete(user)
    session.commit()
