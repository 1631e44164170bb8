from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.customers import groups
from herald.customers.schemas import (
    GROUP_KEY_PATTERN,
    GroupIn,
    GroupMembersIn,
    GroupOut,
    GroupUpdate,
)

router = APIRouter(prefix="/v1/customer-groups", tags=["customers"])
GroupKey = Annotated[str, Path(pattern=GROUP_KEY_PATTERN)]


@router.get("", response_model=list[GroupOut], summary="The customer groups, by name")
def list_groups(
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> list[GroupOut]:
    return groups.list_groups(session)


@router.post("", status_code=201, response_model=GroupOut)
def create_group(
    body: GroupIn,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> GroupOut:
    return groups.create_group(session, body)


@router.get(
    "/{key}",
    response_model=GroupOut,
    summary="One group; its members are GET /v1/customers?group={key}",
)
def get_group(
    key: GroupKey,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> GroupOut:
    return groups.get_group(session, key)


@router.patch("/{key}", response_model=GroupOut)
def update_group(
    key: GroupKey,
    body: GroupUpdate,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> GroupOut:
    return groups.update_group(session, key, body)


@router.delete("/{key}", status_code=204, summary="Delete the group (its members stay customers)")
def delete_group(
    key: GroupKey,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> None:
    groups.delete_group(session, key)


@router.post("/{key}/members", response_model=GroupOut, summary="Add up to 1,000 customers")
def add_members(
    key: GroupKey,
    body: GroupMembersIn,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> GroupOut:
    return groups.add_members(session, key, body)


@router.delete("/{key}/members/{customer_id}", status_code=204)
def remove_member(
    key: GroupKey,
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> None:
    groups.remove_member(session, key, customer_id)
