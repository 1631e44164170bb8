"""Segment use cases for adapters (the console's segment pages, the CSV export that outlives a
request's session). Each does its own thread hand-off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.customers.models import CustomerGroup, CustomerTag
from herald.db import distinct_values, read_snapshot
from herald.events.models import Event
from herald.loyalty.models import LoyaltyTier
from herald.products.models import Product
from herald.runtime import Runtime
from herald.segments import service
from herald.segments.rules import Rule
from herald.segments.schemas import (
    MemberPage,
    SegmentComparison,
    SegmentIn,
    SegmentOut,
    SegmentPreview,
    SegmentSizePoint,
    SegmentSizes,
    SegmentTemplate,
    SegmentUpdate,
)

# What a list or a picker offers: the first ones, by name.
LIST_SIZE = 200


@dataclass(frozen=True)
class SegmentRow:
    """A saved segment with its last recorded size (counted once a day, not live)."""

    segment: SegmentOut
    size: SegmentSizePoint | None


@dataclass(frozen=True)
class RuleChoices:
    """What a rule's values can be picked from: the shop's own tags, event types, products
    (id, name), loyalty tiers, customer groups (key, name) and saved segments (key, name)."""

    tags: list[str]
    event_types: list[str]
    products: list[tuple[str, str]]
    tiers: list[str]
    groups: list[tuple[str, str]]
    segments: list[tuple[str, str]]


async def segment_rows(runtime: Runtime, organization_id: uuid.UUID) -> list[SegmentRow]:
    def work(session: Session) -> list[SegmentRow]:
        sizes = service.latest_sizes(session)
        found = service.list_segments(session, limit=LIST_SIZE, cursor=None).items
        return [SegmentRow(segment=s, size=sizes.get(s.id)) for s in found]

    return await runtime.in_org(organization_id, work)


async def rule_choices(runtime: Runtime, organization_id: uuid.UUID) -> RuleChoices:
    def work(session: Session) -> RuleChoices:
        def pairs(*columns: object) -> list[tuple[str, str]]:
            rows = session.execute(select(*columns).order_by(columns[1]).limit(LIST_SIZE))  # type: ignore[call-overload]
            return [(str(a), str(b)) for a, b in rows]

        return RuleChoices(
            tags=distinct_values(session, CustomerTag.tag, limit=LIST_SIZE),
            event_types=distinct_values(session, Event.type, limit=LIST_SIZE),
            products=pairs(Product.product_id, Product.name),
            tiers=list(session.scalars(select(LoyaltyTier.name).order_by(LoyaltyTier.threshold))),
            groups=pairs(CustomerGroup.key, CustomerGroup.name),
            segments=[
                (s.key, s.name)
                for s in service.list_segments(session, limit=LIST_SIZE, cursor=None).items
            ],
        )

    return await runtime.in_org(organization_id, work)


def templates() -> list[SegmentTemplate]:
    """Segments a shop usually wants, to start from."""
    return service.TEMPLATES


async def preview(runtime: Runtime, organization_id: uuid.UUID, rule: Rule) -> SegmentPreview:
    return await runtime.in_org(organization_id, lambda s: service.preview(s, rule))


async def get_segment(runtime: Runtime, organization_id: uuid.UUID, segment: str) -> SegmentOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.get_segment(s, segment))
    )


async def create_segment(
    runtime: Runtime, organization_id: uuid.UUID, data: SegmentIn
) -> SegmentOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.create_segment(s, data))
    )


async def update_segment(
    runtime: Runtime, organization_id: uuid.UUID, segment: str, data: SegmentUpdate
) -> SegmentOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.update_segment(s, segment, data))
    )


async def delete_segment(runtime: Runtime, organization_id: uuid.UUID, segment: str) -> None:
    await runtime.in_org(organization_id, lambda s: service.delete_segment(s, segment))


MEMBER_PAGE = 25


async def members(
    runtime: Runtime, organization_id: uuid.UUID, segment: str, cursor: str | None
) -> MemberPage:
    def work(session: Session) -> MemberPage:
        rule = service.rule_of(service.get_segment(session, segment))
        return service.members(session, rule, limit=MEMBER_PAGE, cursor=cursor)

    return await runtime.in_org(organization_id, work)


@dataclass(frozen=True)
class SegmentView:
    """A saved segment as its page shows it: the segment, its size over time and its first
    members."""

    segment: SegmentOut
    sizes: SegmentSizes
    members: MemberPage


async def segment_view(
    runtime: Runtime, organization_id: uuid.UUID, segment: str, days: int
) -> SegmentView:
    """The segment looked up once, and what its page shows, in one session."""

    def work(session: Session) -> SegmentView:
        found = service.get_segment(session, segment)
        return SegmentView(
            segment=service.to_out(found),
            sizes=service.size_history(session, str(found.id), days=days),
            members=service.members(
                session, service.rule_of(found), limit=MEMBER_PAGE, cursor=None
            ),
        )

    return await runtime.in_org(organization_id, work)


async def compare(
    runtime: Runtime, organization_id: uuid.UUID, a: str, b: str
) -> SegmentComparison:
    return await runtime.in_org(organization_id, lambda s: service.compare(s, a, b))


async def export_csv(
    runtime: Runtime, organization_id: uuid.UUID, segment: str
) -> tuple[str, Iterator[str]]:
    """The segment's key and its members as CSV lines. An unknown segment is a 404 before
    anything is streamed; the lines come from one consistent read in a session of their own
    (iterate them on a worker thread: each read blocks)."""

    def rule(session: Session) -> tuple[str, Rule]:
        found = service.get_segment(session, segment)
        return found.key, service.rule_of(found)

    key, found = await runtime.in_org(organization_id, rule)

    def rows(session: Session) -> Iterator[str]:
        read_snapshot(session)
        yield from service.export_csv(session, found)

    return key, runtime.iterate_in_org(organization_id, rows)
