"""Exports: the customer or subscriber list as a CSV file, written by an ``ExportRun`` a chunk
at a time, downloaded through an expiring link, deleted when it expires.

Each chunk is one activity and one transaction that stores the chunk under its sequence
number: a retried activity finds its chunk written and answers from it, so no row is written
twice. Every text cell is made safe for spreadsheets (``spreadsheet_safe``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.orm import Session, aliased

from herald.customers.models import (
    Customer,
    CustomerAddress,
    CustomerBusiness,
    CustomerGroup,
    CustomerGroupMember,
    CustomerPhone,
    CustomerTag,
)
from herald.dataops.contracts import (
    EXPORT_CHUNK_ROWS,
    EXPORT_WORKFLOW,
    ExportChunkDone,
    ExportEnd,
    ExportRunInput,
)
from herald.dataops.csvfiles import CsvChunks
from herald.dataops.models import DataExport, ExportChunk, ExportKind, ExportStatus
from herald.dataops.schemas import CustomerSelection, ExportIn, ExportOut
from herald.db import Base, analyze, joined_text, one_of, session_organization, utcnow
from herald.errors import Conflict, NotFound
from herald.loyalty.models import LoyaltyAccount, LoyaltyTier
from herald.messaging.models import Channel, Consent
from herald.messaging.unsubscribe import Links
from herald.newsletter.models import Subscriber
from herald.orders.money import CENT
from herald.profiles.service import selected
from herald.temporal import WorkflowStart, tenant_workflow_id

DOWNLOAD = b"export-download:v1"
JOINED: dict[ExportKind, tuple[type[Base], ...]] = {
    ExportKind.customers: (
        Customer,
        CustomerPhone,
        CustomerAddress,
        CustomerTag,
        CustomerGroupMember,
        Consent,
        LoyaltyAccount,
    ),
    ExportKind.subscribers: (Subscriber,),
}

CUSTOMER_COLUMNS = [
    "id",
    "external_id",
    "name",
    "email",
    "phone",
    "country",
    "city",
    "birthday",
    "locale",
    "timezone",
    "tags",
    "groups",
    "company",
    "tax_id",
    "orders",
    "lifetime_value",
    "last_order_at",
    "points",
    "tier",
    "email_consent",
    "sms_consent",
    "created_at",
    "deleted_at",
]
SUBSCRIBER_COLUMNS = [
    "id",
    "email",
    "status",
    "topics",
    "locale",
    "customer_id",
    "source",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
]


def _run_id(export: DataExport) -> str:
    return tenant_workflow_id(EXPORT_WORKFLOW, export.organization_id, export.id)


def create(session: Session, data: ExportIn, *, actor: str, keep_seconds: float) -> WorkflowStart:
    """Record the export (a segment named in the filter must exist); the run that writes it."""
    if data.filter is not None:
        selected(session, data.filter)  # an unknown segment is refused now, not in the run
    export = DataExport(
        id=uuid.uuid4(),
        organization_id=session_organization(session),
        kind=data.kind,
        selection=data.model_dump(mode="json", exclude={"kind"}, exclude_none=True),
        status=ExportStatus.running,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(export)
    session.commit()
    return WorkflowStart(
        workflow=EXPORT_WORKFLOW,
        workflow_id=_run_id(export),
        arg=ExportRunInput(
            organization_id=export.organization_id,
            export_id=export.id,
            keep_seconds=keep_seconds,
        ),
        organization_id=export.organization_id,
        customer_id=None,
        summary=f"Export {export.id} ({export.kind.value})",
    )


def _get(session: Session, export_id: uuid.UUID) -> DataExport:
    export = session.get(DataExport, export_id)
    if export is None:
        raise NotFound("no such export")
    return export


def get_export(session: Session, export_id: uuid.UUID, links: Links) -> ExportOut:
    export = _get(session, export_id)
    url = None
    if export.status is ExportStatus.ready:
        token = links.customer_token(DOWNLOAD, export.organization_id, export.id)
        url = f"{links.public_url}/v1/exports/{export.id}/file?token={token}"
    return ExportOut(
        id=export.id,
        kind=export.kind,
        status=export.status,
        rows=export.rows,
        download_url=url,
        run_id=_run_id(export),
        created_by=export.created_by,
        created_at=export.created_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
        error=export.error,
    )


def running_run(session: Session, export_id: uuid.UUID) -> str:
    export = _get(session, export_id)
    if export.status is not ExportStatus.running:
        raise Conflict(f"the export is {export.status.value}: nothing to cancel")
    return _run_id(export)


# -- writing -------------------------------------------------------------------------------------


def write_chunk(session: Session, run: ExportRunInput) -> ExportChunkDone:
    """The chunk ``run.seq``: written now, or found written by an earlier attempt."""
    done = session.get(ExportChunk, (run.export_id, run.seq))
    if done is not None:
        return ExportChunkDone(rows=done.rows, after=done.after)
    export = _get(session, run.export_id)
    if export.status is not ExportStatus.running:  # withdrawn meanwhile (an erasure)
        return ExportChunkDone(rows=0, after=None)
    out = CsvChunks()
    if run.seq == 0:
        # The chunks' joins are planned from the tables' statistics: fresh ones, whatever
        # was written since the last refresh (profiles created one by one, a bulk action).
        for joined in JOINED[export.kind]:
            analyze(session, joined, sqlite=True)
        kind = export.kind
        out.write(list(CUSTOMER_COLUMNS if kind is ExportKind.customers else SUBSCRIBER_COLUMNS))
    after = uuid.UUID(run.after) if run.after else None
    if export.kind is ExportKind.customers:
        last = _customer_rows(session, export.selection, after, out)
    else:
        last = _subscriber_rows(session, export.selection, after, out)
    rows, next_after = last
    session.add(
        ExportChunk(
            export_id=export.id,
            seq=run.seq,
            rows=rows,
            after=str(next_after) if next_after else None,
            text=out.take(),
        )
    )
    export.rows += rows
    session.commit()
    return ExportChunkDone(rows=rows, after=str(next_after) if next_after else None)


def customer_conditions(session: Session, selection: dict[str, Any]) -> list[ColumnElement[bool]]:
    """The customers a stored selection names: its ids, or its filter (by default every live
    customer)."""
    if "customer_ids" in selection:
        return [one_of(session, Customer.id, [uuid.UUID(i) for i in selection["customer_ids"]])]
    return selected(session, CustomerSelection.model_validate(selection.get("filter", {})))


def _customer_rows(
    session: Session, selection: dict[str, Any], after: uuid.UUID | None, out: CsvChunks
) -> tuple[int, uuid.UUID | None]:
    """A chunk of customers in id order, each with what the file shows of their phone, city,
    business, points, tier, consent, tags and groups, in one query."""

    def on(customer_id: Any, *conditions: Any) -> ColumnElement[bool]:
        # The chunk's lower bound on the joined table too: a merge join then starts its scan
        # of that table's index where the chunk starts, not at the table's first customer.
        bound = [customer_id > after] if after is not None else []
        return and_(customer_id == Customer.id, *conditions, *bound)

    phone, address = aliased(CustomerPhone), aliased(CustomerAddress)
    email_consent, sms_consent = aliased(Consent), aliased(Consent)
    tags = (
        select(joined_text(CustomerTag.tag))
        .where(CustomerTag.customer_id == Customer.id)
        .scalar_subquery()
    )
    groups = (
        select(joined_text(CustomerGroup.key))
        .join(CustomerGroupMember, CustomerGroupMember.group_id == CustomerGroup.id)
        .where(CustomerGroupMember.customer_id == Customer.id)
        .scalar_subquery()
    )
    query = (
        select(
            Customer.id,
            Customer.external_id,
            Customer.name,
            Customer.primary_email,
            phone.phone,
            Customer.country,
            address.city,
            Customer.birthday,
            Customer.locale,
            Customer.timezone,
            tags,
            groups,
            CustomerBusiness.legal_name,
            CustomerBusiness.tax_id,
            Customer.orders_count,
            Customer.lifetime_value,
            Customer.last_order_at,
            LoyaltyAccount.balance,
            LoyaltyTier.name,
            email_consent.status,
            sms_consent.status,
            Customer.created_at,
            Customer.deleted_at,
        )
        .outerjoin(phone, on(phone.customer_id, phone.is_primary))
        .outerjoin(address, on(address.customer_id, address.is_primary))
        .outerjoin(CustomerBusiness, on(CustomerBusiness.customer_id))
        .outerjoin(LoyaltyAccount, on(LoyaltyAccount.customer_id))
        .outerjoin(LoyaltyTier, LoyaltyTier.id == LoyaltyAccount.tier_id)
        .outerjoin(
            email_consent, on(email_consent.customer_id, email_consent.channel == Channel.email)
        )
        .outerjoin(sms_consent, on(sms_consent.customer_id, sms_consent.channel == Channel.sms))
        .where(*customer_conditions(session, selection))
        .order_by(Customer.id)
        .limit(EXPORT_CHUNK_ROWS)
    )
    if after is not None:
        query = query.where(Customer.id > after)
    customers = session.execute(query).all()
    for row in customers:
        (
            customer_id, external_id, name, email, phone_number, country, city, birthday,
            locale, timezone, tag_list, group_list, company, tax_id, orders, value,
            last_order_at, balance, tier, email_status, sms_status, created_at, deleted_at,
        ) = row  # fmt: skip
        out.write(
            [
                str(customer_id),
                external_id,
                name,
                email,
                phone_number,
                country,
                city,
                birthday.isoformat() if birthday else None,
                locale,
                timezone,
                tag_list,
                group_list,
                company,
                tax_id,
                orders,
                Decimal(value or 0).quantize(CENT),
                last_order_at.isoformat() if last_order_at else None,
                balance or 0,
                tier,
                email_status.value if email_status else None,
                sms_status.value if sms_status else None,
                created_at.isoformat(),
                deleted_at.isoformat() if deleted_at else None,
            ]
        )
    more = len(customers) == EXPORT_CHUNK_ROWS
    return len(customers), customers[-1].id if customers and more else None


def _subscriber_rows(
    session: Session, selection: dict[str, Any], after: uuid.UUID | None, out: CsvChunks
) -> tuple[int, uuid.UUID | None]:
    query = select(Subscriber).order_by(Subscriber.id).limit(EXPORT_CHUNK_ROWS)
    if after is not None:
        query = query.where(Subscriber.id > after)
    if "subscriber_status" in selection:
        query = query.where(Subscriber.status == selection["subscriber_status"])
    subscribers = list(session.scalars(query))
    topic = selection.get("topic")
    written = 0
    for s in subscribers:
        if topic is not None and topic not in s.topics:
            continue
        written += 1
        out.write(
            [
                str(s.id),
                s.email,
                s.status.value,
                ", ".join(s.topics),
                s.locale,
                str(s.customer_id) if s.customer_id else None,
                s.source,
                s.created_at.isoformat(),
                s.confirmed_at.isoformat() if s.confirmed_at else None,
                s.unsubscribed_at.isoformat() if s.unsubscribed_at else None,
            ]
        )
    more = len(subscribers) == EXPORT_CHUNK_ROWS
    return written, subscribers[-1].id if more else None


def end(session: Session, ended: ExportEnd) -> None:
    export = _get(session, ended.export_id)
    if export.status is ExportStatus.expired:  # withdrawn while it was written
        return
    if ended.error is not None:
        export.status, export.error = ExportStatus.failed, ended.error
    elif ended.cancelled:
        export.status = ExportStatus.cancelled
    else:
        export.status = ExportStatus.ready
        export.expires_at = utcnow() + timedelta(seconds=ended.keep_seconds)
    export.finished_at = utcnow()
    if export.status is not ExportStatus.ready:
        session.execute(delete(ExportChunk).where(ExportChunk.export_id == export.id))
    session.commit()


def expire(session: Session, export_id: uuid.UUID) -> None:
    """Delete the file: its link opens nothing more."""
    export = _get(session, export_id)
    session.execute(delete(ExportChunk).where(ExportChunk.export_id == export.id))
    if export.status is ExportStatus.ready:
        export.status = ExportStatus.expired
    session.commit()


# -- the download --------------------------------------------------------------------------------


def download_organization(
    session: Session, export_id: uuid.UUID, token: str, links: Links
) -> uuid.UUID:
    """The organization whose export the link opens (an unscoped read: the link carries no key);
    a forged, foreign or expired link is a 404, as if there were no export."""
    export = session.get(DataExport, export_id)
    if export is None:
        raise NotFound("no such export")
    if links.read_customer_token(DOWNLOAD, export.organization_id, token) != export.id:
        raise NotFound("no such export")
    if export.status is not ExportStatus.ready or (
        export.expires_at is not None and export.expires_at <= utcnow()
    ):
        raise NotFound("the file is not ready, or its link has expired")
    return export.organization_id


def file_chunks(session: Session, export_id: uuid.UUID) -> Iterator[str]:
    seq = 0
    while True:
        text = session.scalar(
            select(ExportChunk.text).where(
                ExportChunk.export_id == export_id, ExportChunk.seq == seq
            )
        )
        if text is None:
            return
        yield text
        seq += 1
