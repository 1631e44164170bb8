from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.customers import service
from herald.customers.schemas import (
    AccountLink,
    AccountOut,
    CustomerCreate,
    CustomerOut,
    CustomerPage,
    CustomerProfileOut,
    CustomerQuery,
    CustomerUpdate,
)
from herald.loyalty.schemas import PointsOut
from herald.loyalty.service import customer_points
from herald.orders.schemas import OrderOut
from herald.pagination import Page

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post("", status_code=201, response_model=CustomerOut)
def create_customer(
    body: CustomerCreate,
    _: Principal = Depends(require(Permission.customers_create)),
    session: Session = Depends(org_session),
) -> CustomerOut:
    return service.to_out(service.create_customer(session, body))


@router.get("", response_model=CustomerPage)
def list_customers(
    query: Annotated[CustomerQuery, Query()],
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> CustomerPage:
    return service.list_customers(session, query)


@router.get(
    "/{customer_id}",
    response_model=CustomerProfileOut,
    summary="One customer, with their order figures in the reporting currency",
)
def get_customer(
    customer_id: uuid.UUID,
    include_deleted: bool = False,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> CustomerProfileOut:
    return service.profile(session, customer_id, include_deleted=include_deleted)


@router.get(
    "/{customer_id}/orders",
    response_model=Page[OrderOut],
    summary="A customer's orders with their items, the latest paid first",
)
def list_customer_orders(
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> Page[OrderOut]:
    return service.customer_orders(session, customer_id, limit=limit, cursor=cursor)


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> CustomerOut:
    return service.to_out(service.update_customer(session, customer_id, body))


@router.delete("/{customer_id}", status_code=204)
def delete_customer(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_delete)),
    session: Session = Depends(org_session),
) -> None:
    service.delete_customer(session, customer_id)


@router.post("/{customer_id}/restore", response_model=CustomerOut)
def restore_customer(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_delete)),
    session: Session = Depends(org_session),
) -> CustomerOut:
    return service.to_out(service.restore_customer(session, customer_id))


@router.post(
    "/{customer_id}/account",
    status_code=201,
    response_model=AccountOut,
    summary="Promote the profile to a sign-in account (customer role)",
)
def promote_to_account(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.accounts_manage)),
    session: Session = Depends(org_session),
) -> AccountOut:
    user = service.promote_to_account(session, customer_id)
    return AccountOut(user_id=user.id, email=user.email, role=user.role.value)


@router.put(
    "/{customer_id}/account",
    response_model=AccountOut,
    summary="Link the profile to an existing customer-role user",
)
def link_account(
    customer_id: uuid.UUID,
    body: AccountLink,
    _: Principal = Depends(require(Permission.accounts_manage)),
    session: Session = Depends(org_session),
) -> AccountOut:
    user = service.link_account(session, customer_id, body.user_id)
    return AccountOut(user_id=user.id, email=user.email, role=user.role.value)


@router.get("/{customer_id}/points", response_model=PointsOut)
def get_points(
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> PointsOut:
    return customer_points(session, customer_id, limit=limit, cursor=cursor)
