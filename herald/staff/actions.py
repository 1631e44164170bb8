"""Staff use cases for adapters (the console's pages and the API's routes): each does its own
thread hand-off. Sign-in steps run in system sessions (an address spans organizations); the
staff list in the organization's."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from herald.access.models import Role
from herald.access.service import Principal
from herald.errors import Unauthorized
from herald.messaging.contracts import DeliveryBatch, Recipient
from herald.messaging.delivery import deliver_batch, delivery_env
from herald.messaging.providers import ProviderError
from herald.messaging.templates import ensure_template
from herald.organizations.models import Organization
from herald.runtime import Runtime
from herald.staff import service
from herald.staff.emails import TEMPLATES
from herald.staff.schemas import (
    InvitationSent,
    SignInChoice,
    StaffUserOut,
    TotpEnrolment,
)

# Failed sign-ins per client address, whatever the email: a spray over many addresses stops
# (each address has its own lock too). Successes spend nothing: an office behind one address
# signs in freely.
FAILED_SIGN_IN_BUDGET = "50/10 minutes"
RESET_BUDGET = "5/minute"


def _link_url(runtime: Runtime, token: str) -> str:
    return f"{runtime.links.public_url.rstrip('/')}/set-password?token={token}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _sender(
    runtime: Runtime, link: service.IssuedLink
) -> Callable[[Session], tuple[uuid.UUID, str]]:
    return lambda session: _send_link(runtime, session, link)


def _send_link(
    runtime: Runtime, session: Session, link: service.IssuedLink
) -> tuple[uuid.UUID, str]:
    """The one-time link's email, through the delivery path, once per link: the message's id and
    status (``failed`` when the provider refused: inviting again sends a new link)."""
    template = ensure_template(session, TEMPLATES[link.purpose])
    organization = session.get(Organization, link.organization_id)
    assert organization is not None
    env = delivery_env(session, runtime.links, runtime.outbound, None)
    batch = DeliveryBatch(
        organization_id=organization.id,
        template_id=template.id,
        recipients=[
            Recipient(idempotency_key=f"staff-{link.purpose.value}/{link.token_id}", to=link.email)
        ],
        event={
            "link": _link_url(runtime, link.token),
            "organization": organization.name,
            "role": link.role.value,
            "expires": _when(link.expires_at),
        },
    )
    try:
        outcome = deliver_batch(session, batch, env)[0]
    except ProviderError as exc:
        session.rollback()
        return uuid.UUID(int=0), f"failed: {exc.reason}"
    return outcome.message_id, outcome.status.value


async def invite(
    runtime: Runtime, organization_id: uuid.UUID, email: str, role: Role
) -> InvitationSent:
    def work(session: Session) -> InvitationSent:
        link = service.invite(session, email, role)
        message_id, status = _send_link(runtime, session, link)
        return InvitationSent(
            user=service.get_staff(session, link.user_id),
            message_id=message_id,
            message_status=status,
        )

    return await runtime.in_org(organization_id, work)


async def request_reset(runtime: Runtime, email: str, client: str) -> None:
    """Email a reset link to each staff account of the address; the same answer whether or not
    there is one (the form must not tell who has an account)."""
    runtime.rate_limits.spend(RESET_BUDGET, "password-reset", client)
    links = await runtime.in_system(lambda s: service.reset_links(s, email))
    for link in links:
        await runtime.in_org(link.organization_id, _sender(runtime, link))


@contextlib.contextmanager
def _failures_counted(runtime: Runtime, client: str) -> Iterator[None]:
    runtime.rate_limits.check(FAILED_SIGN_IN_BUDGET, "sign-in-failures", client)
    try:
        yield
    except Unauthorized:
        runtime.rate_limits.spend(FAILED_SIGN_IN_BUDGET, "sign-in-failures", client)
        raise


async def sign_in(runtime: Runtime, email: str, password: str, client: str) -> list[SignInChoice]:
    """The staff accounts the email and password open (several: the caller asks which)."""
    with _failures_counted(runtime, client):
        return await runtime.in_system(lambda s: service.check_password(s, email, password))


async def open_session(
    runtime: Runtime, choice: SignInChoice, code: str | None, user_agent: str, client: str
) -> str:
    """The chosen account's session, after its second factor when it has one."""

    def work(session: Session) -> str:
        if choice.needs_code:
            service.check_code(session, choice.user_id, code or "")
        return service.open_session(session, choice.user_id, user_agent)

    with _failures_counted(runtime, client):
        return await runtime.in_system(work)


async def signed_in(runtime: Runtime, token: str) -> service.SignedIn:
    return await runtime.in_system(lambda s: service.resolve_session(s, token))


async def sign_out(runtime: Runtime, token: str) -> None:
    await runtime.in_system(lambda s: service.close_session(s, token))


async def end_sessions(runtime: Runtime, organization_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Sign a user out of every browser (themselves, or an owner for them)."""
    return await runtime.in_org(organization_id, lambda s: service.close_all_sessions(s, user_id))


async def link_holder(runtime: Runtime, token: str) -> service.LinkHolder:
    return await runtime.in_system(lambda s: service.link_holder(s, token))


async def set_password(runtime: Runtime, token: str, password: str) -> uuid.UUID:
    return await runtime.in_system(lambda s: service.set_password(s, token, password))


async def list_staff(runtime: Runtime, organization_id: uuid.UUID) -> list[StaffUserOut]:
    return await runtime.in_org(organization_id, service.list_staff)


async def change_role(
    runtime: Runtime, organization_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> StaffUserOut:
    return await runtime.in_org(organization_id, lambda s: service.change_role(s, user_id, role))


async def remove_user(runtime: Runtime, organization_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await runtime.in_org(organization_id, lambda s: service.remove_user(s, user_id))


async def start_totp(runtime: Runtime, principal: Principal) -> TotpEnrolment:
    assert principal.user_id is not None
    user_id = principal.user_id

    def work(session: Session) -> TotpEnrolment:
        organization = session.get(Organization, principal.organization_id)
        issuer = f"Herald ({organization.name})" if organization else "Herald"
        secret, uri = service.start_totp(session, user_id, issuer)
        return TotpEnrolment(secret=secret, otpauth_uri=uri)

    return await runtime.in_org(principal.organization_id, work)


async def confirm_totp(runtime: Runtime, principal: Principal, code: str) -> None:
    assert principal.user_id is not None
    user_id = principal.user_id
    await runtime.in_org(
        principal.organization_id, lambda s: service.confirm_totp(s, user_id, code)
    )


async def disable_totp(runtime: Runtime, organization_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await runtime.in_org(organization_id, lambda s: service.disable_totp(s, user_id))
