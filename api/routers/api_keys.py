from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.models import Role
from herald.access.permissions import Permission
from herald.access.service import Principal, issue_api_key, list_api_keys, revoke_api_key
from herald.db import session_organization

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])
manage = require(Permission.api_keys_manage)


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyOut):
    key: str = Field(description="The secret. Shown only in this response; store it now.")


@router.post("", status_code=201, response_model=ApiKeyIssued)
def create_key(
    body: ApiKeyCreate, _: Principal = Depends(manage), session: Session = Depends(org_session)
) -> ApiKeyIssued:
    issued = issue_api_key(session, session_organization(session), body.role, body.name)
    session.commit()
    out = ApiKeyOut.model_validate(issued.key, from_attributes=True)
    return ApiKeyIssued(**out.model_dump(), key=issued.secret)


@router.get("", response_model=list[ApiKeyOut])
def list_keys(
    _: Principal = Depends(manage), session: Session = Depends(org_session)
) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(k, from_attributes=True) for k in list_api_keys(session)]


@router.delete("/{key_id}", status_code=204)
def revoke_key(
    key_id: uuid.UUID, _: Principal = Depends(manage), session: Session = Depends(org_session)
) -> None:
    revoke_api_key(session, key_id)
