"""What a journey run does outside its workflow: entering, sending, deciding, updating.

Each function is one activity's work, idempotent under retries: entry is keyed by the run,
messages by enrollment + step + visit, points by the same, rate-limit slots by window.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.customers.schemas import CustomerUpdate
from herald.customers.service import update_customer
from herald.db import insert_if_absent, session_organization
from herald.errors import InvalidInput, NotFound
from herald.events.models import Event
from herald.journeys.contracts import (
    ConditionRequest,
    Entered,
    EnterRequest,
    FinishRequest,
    PointsRequest,
    ProfileUpdate,
    RateSlotRequest,
    SendRequest,
    SendResult,
    WaitRequest,
)
from herald.journeys.models import (
    Journey,
    JourneyEnrollment,
    JourneyStatus,
    RateLimitWindow,
)
from herald.journeys.service import version_definition
from herald.loyalty.models import LedgerEntry
from herald.loyalty.service import award_points, get_settings
from herald.messaging.contracts import DeliveryRequest
from herald.messaging.delivery import DeliveryEnv, deliver
from herald.messaging.templates import template_for_key
from herald.segments.rules import customer_matches

# How often a run held by a paused journey looks again.
PAUSED_RECHECK = timedelta(minutes=15)

log = logging.getLogger(__name__)


def _entered(session: Session, enrollment: JourneyEnrollment) -> Entered:
    return Entered(
        enrollment_id=enrollment.id,
        version=enrollment.version,
        definition=version_definition(session, enrollment.journey_id, enrollment.version),
    )


def enter(session: Session, request: EnterRequest) -> Entered:
    """Let the customer in on the current version, if the journey and its entry rules allow."""
    recorded = session.scalar(
        select(JourneyEnrollment).where(JourneyEnrollment.run_id == request.run_id)
    )
    if recorded is not None:  # a retry of this very entry
        return _entered(session, recorded)
    journey = session.get(Journey, request.journey_id)
    if journey is None or journey.status is not JourneyStatus.active:
        status = journey.status.value if journey else "deleted"
        return Entered(reason=f"the journey is {status}")
    # Only whether the customer is there: not the profile with its emails, phones and tags.
    present = session.scalar(
        select(Customer.id).where(Customer.id == request.customer_id, Customer.deleted_at.is_(None))
    )
    if present is None:
        return Entered(reason="no such customer")
    assert journey.current_version is not None  # active journeys are published
    definition = version_definition(session, journey.id, journey.current_version)
    previous = session.scalar(
        select(JourneyEnrollment)
        .where(
            JourneyEnrollment.journey_id == journey.id,
            JourneyEnrollment.customer_id == request.customer_id,
        )
        .order_by(JourneyEnrollment.entered_at.desc())
        .limit(1)
    )
    rules = definition.entry
    if previous is not None and rules.reentry == "never":
        return Entered(reason="already went through this journey; re-entry is off")
    if previous is not None and rules.cooldown is not None:
        until = (previous.finished_at or previous.entered_at) + rules.cooldown
        if until > request.at:
            return Entered(reason=f"cooling down until {until.isoformat()}")
    enrollment = JourneyEnrollment(
        journey_id=journey.id,
        customer_id=request.customer_id,
        version=journey.current_version,
        workflow_id=request.workflow_id,
        run_id=request.run_id,
        entered_at=request.at,
    )
    session.add(enrollment)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return enter(session, request)
    return Entered(enrollment_id=enrollment.id, version=enrollment.version, definition=definition)


def finish(session: Session, request: FinishRequest) -> None:
    enrollment = session.get(JourneyEnrollment, request.enrollment_id)
    if enrollment is None:
        raise NotFound("no such enrollment")
    enrollment.status = request.status
    enrollment.exit_reason = request.reason
    enrollment.finished_at = request.at
    enrollment.converted_at = request.converted_at
    session.commit()


def send(session: Session, request: SendRequest, env: DeliveryEnv) -> SendResult:
    journey = session.get(Journey, request.journey_id)
    if journey is not None and journey.status is JourneyStatus.paused:
        return SendResult(
            status="held",
            reason="the journey is paused",
            retry_at=request.workflow_time + PAUSED_RECHECK,
        )
    # Held here, so the delivery finds it in the session instead of reading it again.
    template = template_for_key(session, request.template)
    if template is None:
        return SendResult(status="failed", reason=f"no template {request.template!r}")
    outcome = deliver(
        session,
        DeliveryRequest(
            organization_id=request.organization_id,
            idempotency_key=request.idempotency_key,
            template_id=template.id,
            customer_id=request.customer_id,
            event=_trigger_properties(session, request),
            workflow_time=request.workflow_time,
        ),
        env,
    )
    return SendResult(
        status=outcome.status.value,
        reason=outcome.reason,
        message_id=outcome.message_id,
        retry_at=outcome.deferred_until,
    )


def _trigger_properties(session: Session, request: SendRequest) -> dict[str, Any]:
    """All the trigger's properties, read from the stored event (erased with the person), or
    those the run holds when it has no stored event (runs enrolled by hand before the
    enrollment was recorded)."""
    if request.event_id is not None:
        properties = session.scalar(select(Event.properties).where(Event.id == request.event_id))
        if properties is not None:
            return properties
    return request.event


def matches(session: Session, request: ConditionRequest) -> bool:
    try:
        return customer_matches(session, request.customer_id, request.condition, request.at)
    except InvalidInput as exc:  # a segment it names was deleted: nobody is in it
        log.warning("journey branch: %s", exc.detail)
        return False


def _zone(customer: Customer) -> ZoneInfo:
    return ZoneInfo(customer.timezone) if customer.timezone else ZoneInfo("UTC")


def wait_until(session: Session, request: WaitRequest) -> datetime | None:
    """When a time-of-day or date-attribute wait ends (UTC); None when there is nothing to
    wait for (the attribute is missing or its date has passed)."""
    customer = session.get(Customer, request.customer_id)
    if customer is None:
        return None
    zone = _zone(customer)
    offset = timedelta(seconds=request.offset_s)
    if request.until_time is not None:
        at = time.fromisoformat(request.until_time)
        local = request.after.astimezone(zone)
        candidate = datetime.combine(local.date(), at, tzinfo=zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
        return candidate.astimezone(UTC)
    raw = customer.attributes.get(request.until_attribute or "")
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return None
    if moment.tzinfo is None:  # a date (midnight) or a wall time: the customer's own calendar
        moment = moment.replace(tzinfo=zone)
    target = (moment + offset).astimezone(UTC)
    return target if target > request.after else None


def update_profile(session: Session, request: ProfileUpdate) -> None:
    customer = session.get(Customer, request.customer_id)
    if customer is None or customer.deleted_at is not None:
        return
    tags = (set(t.tag for t in customer.tags) | set(request.add_tags)) - set(request.remove_tags)
    update_customer(
        session,
        customer.id,
        CustomerUpdate.model_validate({"tags": sorted(tags), "attributes": request.set_attributes}),
        actor="journey",  # a journey step set it, not staff
    )


# The ledger source of points a journey step awards.
JOURNEY_SOURCE = "journey"


def give_points(session: Session, request: PointsRequest) -> int:
    """Award the step's points once, within what the loyalty settings let one run award in all
    (``journey_points_per_run``): a run that has reached it awards nothing more."""
    run = request.source_id.rsplit("/", 2)[0] + "/"  # journey/<key>/<enrollment>/
    given = session.scalar(
        select(func.sum(LedgerEntry.points)).where(
            LedgerEntry.source == JOURNEY_SOURCE,
            LedgerEntry.source_id.startswith(run, autoescape=True),
            LedgerEntry.source_id != request.source_id,
        )
    )
    left = get_settings(session).journey_points_per_run - (given or 0)
    points = min(request.points, max(0, left))
    if points == 0:
        return 0
    outcome = award_points(
        session,
        request.customer_id,
        points,
        JOURNEY_SOURCE,
        request.source_id,
        {"reason": request.reason},
    )
    return outcome.points


def take_rate_slot(session: Session, request: RateSlotRequest) -> datetime | None:
    """Count the customer into this period of the step, or say when the next period starts."""
    period = request.period_s
    starts = datetime.fromtimestamp(request.at.timestamp() // period * period, tz=UTC)
    insert_if_absent(
        session,
        RateLimitWindow,
        {
            "id": uuid.uuid4(),
            "organization_id": session_organization(session),
            "journey_id": request.journey_id,
            "step_id": request.step_id,
            "starts_at": starts,
            "passed": 0,
        },
        ["organization_id", "journey_id", "step_id", "starts_at"],
    )
    window = session.scalars(
        select(RateLimitWindow)
        .where(
            RateLimitWindow.journey_id == request.journey_id,
            RateLimitWindow.step_id == request.step_id,
            RateLimitWindow.starts_at == starts,
        )
        .with_for_update()
    ).one()
    if window.passed >= request.max_customers:
        session.rollback()
        return starts + timedelta(seconds=period)
    window.passed += 1
    session.commit()
    return None
