from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from pydantic import BaseModel, EmailStr
from sqlalchemy.orm import Session

from api.deps import check_allowed, get_principal, get_runtime, org_session, require
from herald.access.models import Role
from herald.access.permissions import Permission
from herald.access.service import Principal, create_user
from herald.customers.schemas import AccountOut
from herald.runtime import Runtime
from herald.staff import actions
from herald.staff.schemas import Invitation, InvitationSent, RoleChange, StaffUserOut

router = APIRouter(prefix="/v1/users", tags=["users"])
manage = require(Permission.users_manage)


class UserCreate(BaseModel):
    email: EmailStr
    role: Role = Role.customer


@router.post(
    "",
    status_code=201,
    response_model=AccountOut,
    summary="Create a sign-in user: a customer, or staff without a password (owner keys only)",
)
def create_sign_in_user(
    body: UserCreate,
    principal: Principal = Depends(get_principal),
    session: Session = Depends(org_session),
) -> AccountOut:
    # Staff accounts carry a role's powers, so only those who manage staff create them.
    needed = Permission.accounts_manage if body.role is Role.customer else Permission.users_manage
    check_allowed(principal, needed)
    user = create_user(session, body.email, body.role)
    return AccountOut(user_id=user.id, email=user.email, role=user.role.value)


@router.get("", response_model=list[StaffUserOut], summary="The organization's staff")
async def list_staff(
    principal: Principal = Depends(manage), runtime: Runtime = Depends(get_runtime)
) -> list[StaffUserOut]:
    return await actions.list_staff(runtime, principal.organization_id)


@router.post(
    "/invitations",
    status_code=201,
    response_model=InvitationSent,
    summary="Invite staff: an email with a one-time link to set a password (again: a new link)",
)
async def invite_staff(
    body: Invitation,
    principal: Principal = Depends(manage),
    runtime: Runtime = Depends(get_runtime),
) -> InvitationSent:
    return await actions.invite(
        runtime, principal.organization_id, str(body.email), Role(body.role)
    )


@router.patch("/{user_id}", response_model=StaffUserOut, summary="Change a staff user's role")
async def change_role(
    user_id: uuid.UUID,
    body: RoleChange,
    principal: Principal = Depends(manage),
    runtime: Runtime = Depends(get_runtime),
) -> StaffUserOut:
    return await actions.change_role(runtime, principal.organization_id, user_id, Role(body.role))


@router.delete(
    "/{user_id}",
    status_code=204,
    summary="Remove a staff user: their console sessions end at once",
)
async def remove_user(
    user_id: uuid.UUID,
    principal: Principal = Depends(manage),
    runtime: Runtime = Depends(get_runtime),
) -> None:
    await actions.remove_user(runtime, principal.organization_id, user_id)


@router.delete(
    "/{user_id}/totp",
    status_code=204,
    summary="Turn off a staff user's second factor (a lost phone); they may enrol again",
)
async def reset_second_factor(
    user_id: uuid.UUID,
    principal: Principal = Depends(manage),
    runtime: Runtime = Depends(get_runtime),
) -> None:
    await actions.disable_totp(runtime, principal.organization_id, user_id)


@router.delete(
    "/{user_id}/sessions",
    status_code=204,
    summary="Sign a staff user out of every browser",
)
async def end_sessions(
    user_id: uuid.UUID,
    principal: Principal = Depends(manage),
    runtime: Runtime = Depends(get_runtime),
) -> None:
    await actions.end_sessions(runtime, principal.organization_id, user_id)
