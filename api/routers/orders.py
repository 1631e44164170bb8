from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.orders import service
from herald.orders.schemas import OrderOut
from herald.pagination import Page

router = APIRouter(prefix="/v1", tags=["orders"])


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="One order, by the shop's order id, with its items and refunded amount",
)
def get_order(
    order_id: Annotated[str, Path(min_length=1, max_length=200)],
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> OrderOut:
    return service.get_order(session, order_id)


@router.get(
    "/customers/{customer_id}/orders",
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
