"""Customer use cases for adapters (the console's customer pages): the list with its figures,
one customer's whole record, notes and points. Each does its own thread hand-off."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from herald.access.permissions import Permission, allows
from herald.access.service import Principal
from herald.customers import service as customers
from herald.customers.schemas import (
    CustomerPage,
    CustomerProfileOut,
    CustomerQuery,
    NoteIn,
    NoteOut,
    NoteUpdate,
)
from herald.journeys.schemas import JourneyOut
from herald.journeys.service import list_journeys
from herald.loyalty.actions import redemption_out
from herald.loyalty.contracts import LedgerOutcome
from herald.loyalty.rewards import adjust, list_redemptions
from herald.loyalty.schemas import AdjustmentIn, PointsOut, RedemptionOut
from herald.loyalty.service import customer_points
from herald.messaging.audience import get_consent, list_devices
from herald.messaging.schemas import ConsentOut, DeviceOut
from herald.messaging.templates import list_templates
from herald.orders.schemas import OrderOut
from herald.pagination import Page
from herald.predictions.recommendations import recommend
from herald.predictions.schemas import CustomerPredictionOut, RecommendedProduct
from herald.predictions.service import customer_prediction
from herald.profiles import service as profiles
from herald.profiles.schemas import CustomerSegment, CustomerStats, TimelineItem
from herald.profiles.stats import customer_stats
from herald.runtime import Runtime
from herald.segments.schemas import SegmentOut
from herald.segments.service import list_segments

# What a picker offers (segments, journeys, templates): the first page, by key.
PICKER_SIZE = 200
# Products the profile suggests they buy next.
PROFILE_RECOMMENDATIONS = 4


async def customer_page(
    runtime: Runtime, organization_id: uuid.UUID, query: CustomerQuery
) -> CustomerPage:
    return await runtime.in_org(organization_id, lambda s: profiles.customer_list(s, query))


async def statistics(runtime: Runtime, organization_id: uuid.UUID) -> CustomerStats:
    return await runtime.in_org(
        organization_id, lambda s: customer_stats(s, unit="month", periods=6)
    )


@dataclass(frozen=True)
class Pickers:
    """The choices the customer list's filters and bulk actions offer."""

    segments: list[SegmentOut]
    journeys: list[JourneyOut]


async def pickers(runtime: Runtime, organization_id: uuid.UUID, principal: Principal) -> Pickers:
    def work(session: Session) -> Pickers:
        segments = list_segments(session, limit=PICKER_SIZE, cursor=None).items
        journeys = (
            list_journeys(session, limit=PICKER_SIZE, cursor=None).items
            if _may(principal, Permission.journeys_operate)
            else []
        )
        return Pickers(segments=segments, journeys=journeys)

    return await runtime.in_org(organization_id, work)


def _may(principal: Principal, permission: Permission) -> bool:
    return allows(principal.role, permission)


@dataclass(frozen=True)
class TemplateChoice:
    id: uuid.UUID
    key: str
    name: str
    channel: str
    category: str


@dataclass(frozen=True)
class CustomerRecord:
    """One customer as the profile page shows them; parts the role may not see are empty."""

    customer: CustomerProfileOut
    orders: Page[OrderOut]
    notes: list[NoteOut]
    segments: list[CustomerSegment]
    # The latest lifetime-value fit's scores (none without orders then), and what they are
    # likely to buy next.
    prediction: CustomerPredictionOut | None
    recommended: list[RecommendedProduct]
    points: PointsOut | None
    redemptions: list[RedemptionOut]
    consent: ConsentOut | None
    # Their app installs for push, the ones FCM called dead with its reason.
    devices: list[DeviceOut]
    templates: list[TemplateChoice]


async def record(runtime: Runtime, principal: Principal, customer_id: uuid.UUID) -> CustomerRecord:
    def work(session: Session) -> CustomerRecord:
        customer = customers.profile(session, customer_id)
        loyalty = _may(principal, Permission.loyalty_read)
        templates = (
            list_templates(session, limit=PICKER_SIZE, cursor=None)[0]
            if _may(principal, Permission.messages_send)
            else []
        )
        return CustomerRecord(
            customer=customer,
            orders=customers.customer_orders(session, customer_id, limit=20, cursor=None),
            notes=customers.notes(session, customer_id),
            segments=profiles.segments_of(session, customer_id),
            prediction=customer_prediction(session, customer_id),
            recommended=recommend(session, [customer_id], PROFILE_RECOMMENDATIONS)[customer_id],
            points=None,
            redemptions=[
                redemption_out(r)
                for r in list_redemptions(session, customer_id, limit=10, cursor=None)[0]
            ]
            if loyalty
            else [],
            consent=get_consent(session, customer_id)
            if _may(principal, Permission.audience_manage)
            else None,
            devices=list_devices(session, customer_id),
            templates=[
                TemplateChoice(
                    id=t.id,
                    key=t.key,
                    name=t.name,
                    channel=t.channel.value,
                    category=t.category.value,
                )
                for t in templates
                if t.deleted_at is None
            ],
        )

    found = await runtime.in_org(principal.organization_id, work)
    if not _may(principal, Permission.loyalty_read):
        return found
    # Its own session: the balance and its entries are read from one snapshot.
    balance = await points(runtime, principal.organization_id, customer_id)
    return dataclasses.replace(found, points=balance)


async def timeline(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID, cursor: str | None
) -> Page[TimelineItem]:
    return await runtime.in_org(
        organization_id, lambda s: profiles.timeline(s, customer_id, limit=30, cursor=cursor)
    )


async def notes(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID
) -> list[NoteOut]:
    return await runtime.in_org(organization_id, lambda s: customers.notes(s, customer_id))


async def add_note(
    runtime: Runtime, principal: Principal, customer_id: uuid.UUID, note: NoteIn
) -> NoteOut:
    return await runtime.in_org(
        principal.organization_id,
        lambda s: customers.add_note(s, customer_id, note, actor=principal.actor),
    )


async def pin_note(
    runtime: Runtime, principal: Principal, customer_id: uuid.UUID, note_id: uuid.UUID, pinned: bool
) -> NoteOut:
    change = NoteUpdate(pinned=pinned)
    return await runtime.in_org(
        principal.organization_id,
        lambda s: customers.edit_note(s, customer_id, note_id, change, actor=principal.actor),
    )


async def adjust_points(
    runtime: Runtime, principal: Principal, customer_id: uuid.UUID, change: AdjustmentIn
) -> LedgerOutcome:
    return await runtime.in_org(
        principal.organization_id, lambda s: adjust(s, customer_id, change, principal.actor)
    )


async def points(runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID) -> PointsOut:
    return await runtime.in_org(
        organization_id, lambda s: customer_points(s, customer_id, limit=20)
    )


async def delete_customer(runtime: Runtime, principal: Principal, customer_id: uuid.UUID) -> None:
    await runtime.in_org(
        principal.organization_id,
        lambda s: customers.delete_customer(s, customer_id, actor=principal.actor),
    )
