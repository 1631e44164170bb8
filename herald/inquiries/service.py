"""Sales inquiries: capture, listing, the follow-up's settings and every write its run makes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.access.models import Role, User
from herald.access.service import list_users
from herald.customers.models import Customer
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.db import read_snapshot, session_organization, utcnow

if TYPE_CHECKING:  # the type only: the domain sits below the registry
    from herald.database import Database
from herald.errors import InvalidInput, NotFound
from herald.events.models import Event
from herald.inquiries.contracts import (
    CLOSED,
    FOLLOW_UP_WORKFLOW,
    ConvertRequest,
    EmailKind,
    EmailRequest,
    FollowUpTimers,
    Recorded,
    SentEmail,
)
from herald.inquiries.emails import STAFF_ROLES, TEMPLATES, inquiry_context
from herald.inquiries.models import Inquiry, InquiryEntry, InquirySettings
from herald.inquiries.schemas import (
    Assignee,
    InquiryDetail,
    InquiryIn,
    InquiryOut,
    InquiryPage,
    InquiryQuery,
    InquirySettingsIn,
    InquirySettingsOut,
    TimelineEntry,
)
from herald.messaging.contracts import DeliveryBatch, Recipient
from herald.messaging.delivery import DeliveryEnv, deliver_batch
from herald.messaging.templates import ensure_template
from herald.temporal import tenant_workflow_id

INQUIRY_RECEIVED = "inquiry.received"
INQUIRY_CONVERTED = "inquiry.converted"
# Who may be given an inquiry to work.
WORKING_ROLES = (Role.owner, Role.manager, Role.sales)
DEFAULT_SETTINGS = InquirySettingsOut(
    unassigned_reminder_hours=4,
    reply_escalation_hours=24,
    nudge_after_days=3,
    lost_after_days=14,
    notify_emails=[],
)


def follow_up_workflow_id(organization_id: uuid.UUID, inquiry_id: uuid.UUID) -> str:
    return tenant_workflow_id(FOLLOW_UP_WORKFLOW, organization_id, inquiry_id)


# -- settings ----------------------------------------------------------------------------------


def settings_out(row: InquirySettings | None) -> InquirySettingsOut:
    if row is None:
        return DEFAULT_SETTINGS
    return InquirySettingsOut.model_validate(row, from_attributes=True)


def get_settings(session: Session) -> InquirySettingsOut:
    return settings_out(session.scalar(select(InquirySettings)))


def put_settings(session: Session, data: InquirySettingsIn) -> InquirySettingsOut:
    row = session.scalar(select(InquirySettings))
    if row is None:
        row = InquirySettings(**DEFAULT_SETTINGS.model_dump())
        session.add(row)
    for field in data.model_fields_set:
        value = getattr(data, field)
        if value is not None:
            setattr(
                row, field, [str(v).lower() for v in value] if field == "notify_emails" else value
            )
    row.updated_at = utcnow()
    session.commit()
    return settings_out(row)


def follow_up_timers(settings: InquirySettingsOut) -> FollowUpTimers:
    return FollowUpTimers(
        unassigned_reminder=timedelta(hours=settings.unassigned_reminder_hours),
        reply_escalation=timedelta(hours=settings.reply_escalation_hours),
        nudge_after=timedelta(days=settings.nudge_after_days),
        lost_after=timedelta(days=settings.lost_after_days),
    )


# -- capture and reading -----------------------------------------------------------------------


def capture(session: Session, data: InquiryIn) -> tuple[Inquiry, uuid.UUID] | None:
    """Store a contact-form inquiry with its ``inquiry.received`` event, in one commit.

    The event starts the follow-up run (and any journey listening for it); returns the
    inquiry and the event's id for dispatch. A form with the honeypot filled in (people never
    see the field) stores nothing: None.
    """
    if data.fax:
        return None
    email = data.email.lower()
    customer_id = session.scalar(
        select(Customer.id).where(Customer.primary_email == email, Customer.deleted_at.is_(None))
    )
    now = utcnow()
    inquiry = Inquiry(
        id=uuid.uuid4(),
        name=data.name,
        email=email,
        phone=data.phone,
        company=data.company,
        company_size=data.company_size.value if data.company_size else None,
        industry=data.industry,
        website=str(data.website) if data.website else None,
        message=data.message,
        source_page=data.source_page,
        customer_id=customer_id,
        created_at=now,
        updated_at=now,
    )
    event = Event(
        id=uuid.uuid4(),
        type=INQUIRY_RECEIVED,
        customer_id=customer_id,
        occurred_at=now,
        received_at=now,
        properties={"inquiry_id": str(inquiry.id)},
    )
    session.add_all([inquiry, event])
    session.flush()  # the timeline entry refers to the inquiry
    session.add(
        InquiryEntry(inquiry_id=inquiry.id, key="received", at=now, kind="received", actor="form")
    )
    session.commit()
    return inquiry, event.id


def get_inquiry(session: Session, inquiry_id: uuid.UUID) -> Inquiry:
    inquiry = session.get(Inquiry, inquiry_id)
    if inquiry is None:
        raise NotFound("no such inquiry")
    return inquiry


def to_out(inquiry: Inquiry) -> InquiryOut:
    return InquiryOut.model_validate(inquiry, from_attributes=True)


def inquiry_detail(session: Session, inquiry_id: uuid.UUID) -> InquiryDetail:
    read_snapshot(session)
    inquiry = get_inquiry(session, inquiry_id)
    entries = session.scalars(
        select(InquiryEntry).where(InquiryEntry.inquiry_id == inquiry_id).order_by(InquiryEntry.at)
    )
    return InquiryDetail(
        **to_out(inquiry).model_dump(),
        run_id=follow_up_workflow_id(inquiry.organization_id, inquiry.id),
        timeline=[TimelineEntry.model_validate(e, from_attributes=True) for e in entries],
    )


def list_inquiries(session: Session, query: InquiryQuery) -> InquiryPage:
    conditions = []
    if query.status is not None:
        conditions.append(Inquiry.status == query.status)
    if query.assignee_id is not None:
        conditions.append(Inquiry.assignee_id == query.assignee_id)
    if query.created_after is not None:
        conditions.append(Inquiry.created_at >= query.created_after)
    if query.created_before is not None:
        conditions.append(Inquiry.created_at < query.created_before)
    read_snapshot(session)
    total = session.scalar(select(func.count()).select_from(Inquiry).where(*conditions)) or 0
    rows = session.scalars(
        select(Inquiry)
        .where(*conditions)
        .order_by(Inquiry.created_at.desc(), Inquiry.id)
        .limit(query.limit)
        .offset(query.offset)
    )
    return InquiryPage(items=[to_out(r) for r in rows], total=total)


class InquiryFeed:
    """New inquiries of one organization, each once, for a live stream that polls.

    A row's timestamp is taken before its commit, so each poll looks back ``LAG`` for rows
    that committed late, and remembers what it already handed out.
    """

    LAG = timedelta(seconds=10)

    def __init__(self, db: Database, organization_id: uuid.UUID, after: str | None) -> None:
        self._db, self._organization_id = db, organization_id
        with db.session(organization_id) as session:
            # Resuming (SSE Last-Event-ID): from the last inquiry the client saw; else from now.
            last_id = _uuid_or_none(after) if after else None
            last = session.get(Inquiry, last_id) if last_id else None
            self._cursor = last.created_at if last else utcnow()
            # The client has these already, or connected after them.
            self._sent = {
                row.id: row.created_at
                for row in self._since(session, self._cursor - self.LAG)
                if row.created_at <= self._cursor
            }

    @staticmethod
    def _since(session: Session, since: datetime) -> list[Inquiry]:
        return list(
            session.scalars(
                select(Inquiry)
                .where(Inquiry.created_at >= since)
                .order_by(Inquiry.created_at, Inquiry.id)
                .limit(1000)
            )
        )

    def poll(self) -> list[InquiryOut]:
        with self._db.session(self._organization_id) as session:
            rows = self._since(session, self._cursor - self.LAG)
            fresh = [to_out(row) for row in rows if row.id not in self._sent]
        for row in rows:
            self._sent[row.id] = row.created_at
            self._cursor = max(self._cursor, row.created_at)
        horizon = self._cursor - self.LAG
        self._sent = {k: at for k, at in self._sent.items() if at >= horizon}
        return fresh


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def assignees(session: Session) -> list[Assignee]:
    return [
        Assignee(id=u.id, email=u.email, role=u.role.value)
        for u in list_users(session, WORKING_ROLES)
    ]


def check_assignee(session: Session, user_id: uuid.UUID) -> None:
    role = session.scalar(select(User.role).where(User.id == user_id))
    if role not in WORKING_ROLES:
        raise InvalidInput(
            "the assignee must be a user with the owner, manager or sales role",
            field="assignee_id",
        )


def check_customer(session: Session, customer_id: uuid.UUID) -> None:
    found = session.get(Customer, customer_id)
    if found is None or found.deleted_at is not None:
        raise InvalidInput("no such customer", field="customer_id")


# -- what the follow-up run writes -------------------------------------------------------------


def record(session: Session, change: Recorded) -> None:
    """Apply a state change to the inquiry and its timeline, once (a retry finds its key)."""
    inquiry = get_inquiry(session, change.inquiry_id)
    state = change.state
    inquiry.status = state.status
    inquiry.assignee_id = state.assignee_id
    inquiry.customer_id = state.customer_id or inquiry.customer_id
    inquiry.lost_reason = state.lost_reason
    inquiry.updated_at = change.at
    if state.status in CLOSED:
        inquiry.closed_at = change.at
    session.add(
        InquiryEntry(
            inquiry_id=inquiry.id,
            key=change.key,
            at=change.at,
            kind=change.kind,
            actor=change.actor,
            details=change.details,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # recorded by an earlier attempt


def _human(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    if hours % 24 == 0 and hours >= 24:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _staff_addresses(session: Session, roles: tuple[str, ...], kind: EmailKind) -> set[str]:
    users = session.scalars(select(User.email).where(User.role.in_([Role(r) for r in roles])))
    addresses = set(users)
    if kind is not EmailKind.no_reply:  # the shared inbox hears of new and unassigned leads
        addresses |= set(get_settings(session).notify_emails)
    return addresses


def send_email(session: Session, request: EmailRequest, env: DeliveryEnv) -> list[SentEmail]:
    """One of the follow-up's emails, through the delivery path, once per recipient and intent."""
    inquiry = get_inquiry(session, request.inquiry_id)
    context: dict[str, object] = {"inquiry": inquiry_context(inquiry)}
    if request.waited is not None:
        context["waited"] = _human(request.waited)
    if request.kind in STAFF_ROLES:
        addresses = _staff_addresses(session, STAFF_ROLES[request.kind], request.kind)
    else:
        addresses = {inquiry.email}
    if request.assignee_id is not None:
        assignee = session.scalar(select(User.email).where(User.id == request.assignee_id))
        context["assignee"] = assignee or "the assignee"
        if assignee and request.kind is EmailKind.no_reply:
            addresses.add(assignee)
    if request.reply is not None:
        context["reply"] = request.reply.model_dump()
    if not addresses:
        return []
    template = ensure_template(session, TEMPLATES[request.kind])
    recipients = sorted(addresses)
    outcomes = deliver_batch(
        session,
        DeliveryBatch(
            organization_id=session_organization(session),
            template_id=template.id,
            recipients=[
                Recipient(idempotency_key=f"inquiry/{inquiry.id}/{request.intent}/{to}", to=to)
                for to in recipients
            ],
            event=context,
            workflow_time=request.workflow_time,
        ),
        env,
    )
    return [
        SentEmail(message_id=o.message_id, to=to, status=o.status, reason=o.reason)
        for to, o in zip(recipients, outcomes, strict=True)
    ]


def convert_customer(session: Session, request: ConvertRequest) -> uuid.UUID | None:
    """The customer profile a won inquiry belongs to: the one named, the one with the lead's
    address, or a new one. Records ``inquiry.converted`` for journeys, once."""
    inquiry = get_inquiry(session, request.inquiry_id)
    wanted = request.convert
    customer_id = wanted.customer_id or inquiry.customer_id
    if wanted.customer_id is not None:
        check_customer(session, wanted.customer_id)
    elif wanted.create_customer and customer_id is None:
        customer_id = session.scalar(
            select(Customer.id).where(
                Customer.primary_email == inquiry.email, Customer.deleted_at.is_(None)
            )
        )
        if customer_id is None:
            data = CustomerCreate(
                name=inquiry.name,
                emails=[inquiry.email],
                phones=[inquiry.phone] if inquiry.phone else [],
                attributes={"company": inquiry.company} if inquiry.company else {},
            )
            customer_id = create_customer(session, data, commit=False, source="inquiry").id
    if customer_id is not None:
        key = f"inquiry-converted/{inquiry.id}"
        if session.scalar(select(Event.id).where(Event.idempotency_key == key)) is None:
            now = utcnow()
            session.add(
                Event(
                    type=INQUIRY_CONVERTED,
                    customer_id=customer_id,
                    occurred_at=now,
                    received_at=now,
                    properties={"inquiry_id": str(inquiry.id)},
                    idempotency_key=key,
                )
            )
        inquiry.customer_id = customer_id
    session.commit()
    return customer_id
