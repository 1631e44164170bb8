from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.customers import service
from herald.customers.schemas import (
    AccountLink,
    AccountOut,
    ActivityOut,
    CustomerCreate,
    CustomerOut,
    CustomerPage,
    CustomerProfileOut,
    CustomerQuery,
    CustomerUpdate,
    NoteIn,
    NoteOut,
    NoteUpdate,
)
from herald.loyalty.schemas import PointsOut
from herald.loyalty.service import customer_points
from herald.messaging import actions as messaging
from herald.messaging.messages import DirectSend
from herald.messaging.schemas import MessageOut
from herald.orders.schemas import OrderOut
from herald.pagination import Page
from herald.profiles import service as profiles
from herald.profiles.schemas import CustomerSegment, CustomerStats, Period, TimelineItem
from herald.profiles.stats import customer_stats
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post("", status_code=201, response_model=CustomerOut)
def create_customer(
    body: CustomerCreate,
    principal: Principal = Depends(require(Permission.customers_create)),
    session: Session = Depends(org_session),
) -> CustomerOut:
    return service.to_out(service.create_customer(session, body, actor=principal.actor))


@router.get("", response_model=CustomerPage)
def list_customers(
    query: Annotated[CustomerQuery, Query()],
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> CustomerPage:
    return profiles.customer_list(session, query)


@router.get(
    "/stats",
    response_model=CustomerStats,
    summary="Totals, buyers, repeat-purchase rate, lifetime value, new and active per period",
)
def get_stats(
    period: Period = "month",
    periods: Annotated[int, Query(ge=1, le=90)] = 12,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> CustomerStats:
    return customer_stats(session, unit=period, periods=periods)


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
    principal: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> CustomerOut:
    return service.to_out(
        service.update_customer(session, customer_id, body, actor=principal.actor)
    )


@router.delete("/{customer_id}", status_code=204)
def delete_customer(
    customer_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.customers_delete)),
    session: Session = Depends(org_session),
) -> None:
    service.delete_customer(session, customer_id, actor=principal.actor)


@router.post("/{customer_id}/restore", response_model=CustomerOut)
def restore_customer(
    customer_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.customers_delete)),
    session: Session = Depends(org_session),
) -> CustomerOut:
    return service.to_out(service.restore_customer(session, customer_id, actor=principal.actor))


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


@router.post(
    "/{customer_id}/messages",
    status_code=201,
    response_model=MessageOut,
    summary="Send one message to the customer now (marketing templates need their consent)",
)
async def send_message(
    customer_id: uuid.UUID,
    body: DirectSend,
    principal: Principal = Depends(require(Permission.messages_send)),
    runtime: Runtime = Depends(get_runtime),
) -> MessageOut:
    return await messaging.send_to_customer(runtime, principal.organization_id, customer_id, body)


@router.get("/{customer_id}/points", response_model=PointsOut)
def get_points(
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> PointsOut:
    return customer_points(session, customer_id, limit=limit, cursor=cursor)


@router.get("/{customer_id}/notes", response_model=list[NoteOut], summary="Pinned first")
def list_notes(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> list[NoteOut]:
    return service.notes(session, customer_id)


@router.post("/{customer_id}/notes", status_code=201, response_model=NoteOut)
def add_note(
    customer_id: uuid.UUID,
    body: NoteIn,
    principal: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> NoteOut:
    return service.add_note(session, customer_id, body, actor=principal.actor)


@router.patch("/{customer_id}/notes/{note_id}", response_model=NoteOut)
def edit_note(
    customer_id: uuid.UUID,
    note_id: uuid.UUID,
    body: NoteUpdate,
    principal: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> NoteOut:
    return service.edit_note(session, customer_id, note_id, body, actor=principal.actor)


@router.delete("/{customer_id}/notes/{note_id}", status_code=204)
def delete_note(
    customer_id: uuid.UUID,
    note_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> None:
    service.delete_note(session, customer_id, note_id, actor=principal.actor)


@router.get(
    "/{customer_id}/activity",
    response_model=Page[ActivityOut],
    summary="Who changed what on the profile, newest first",
)
def list_activity(
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> Page[ActivityOut]:
    return service.activity(session, customer_id, limit=limit, cursor=cursor)


@router.get(
    "/{customer_id}/timeline",
    response_model=Page[TimelineItem],
    summary="Messages, events, notes, inquiries, loyalty entries and staff changes, newest first",
)
def get_timeline(
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> Page[TimelineItem]:
    return profiles.timeline(session, customer_id, limit=limit, cursor=cursor)


@router.get(
    "/{customer_id}/segments",
    response_model=list[CustomerSegment],
    summary="The saved segments the customer is in now",
)
def get_segments(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> list[CustomerSegment]:
    return profiles.segments_of(session, customer_id)
