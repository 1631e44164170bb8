from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, EmailStr
from sqlalchemy.orm import Session

from api.deps import check_allowed, get_principal, org_session
from herald.access.models import Role
from herald.access.permissions import Permission
from herald.access.service import Principal, create_user
from herald.customers.schemas import AccountOut

router = APIRouter(prefix="/v1/users", tags=["users"])


class UserCreate(BaseModel):
    email: EmailStr
    role: Role = Role.customer


@router.post(
    "",
    status_code=201,
    response_model=AccountOut,
    summary="Create a sign-in user: a customer, or staff (owner keys only)",
)
def create_sign_in_user(
    body: UserCreate,
    principal: Principal = Depends(get_principal),
    session: Session = Depends(org_session),
) -> AccountOut:
    # Staff accounts carry a role's powers, so only those who hand out keys create them.
    needed = (
        Permission.accounts_manage if body.role is Role.customer else Permission.api_keys_manage
    )
    check_allowed(principal, needed)
    user = create_user(session, body.email, body.role)
    return AccountOut(user_id=user.id, email=user.email, role=user.role.value)
