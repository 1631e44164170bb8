from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, EmailStr
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal, create_customer_user
from herald.customers.schemas import AccountOut

router = APIRouter(prefix="/v1/users", tags=["customers"])


class CustomerUserCreate(BaseModel):
    email: EmailStr


@router.post(
    "",
    status_code=201,
    response_model=AccountOut,
    summary="Create a sign-in user with the customer role",
)
def create_user(
    body: CustomerUserCreate,
    _: Principal = Depends(require(Permission.accounts_manage)),
    session: Session = Depends(org_session),
) -> AccountOut:
    user = create_customer_user(session, body.email)
    return AccountOut(user_id=user.id, email=user.email, role=user.role.value)
