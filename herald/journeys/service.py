"""Journeys as marketers manage them: drafts, validation, versions, states."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.customers.service import get_customer
from herald.db import commit_or_conflict
from herald.errors import Conflict, Forbidden, InvalidInput, NotFound
from herald.events.models import Event
from herald.journeys.contracts import EnrollmentStatus, intent_prefix, intent_step
from herald.journeys.definition import (
    AwardPointsStep,
    JourneyDefinition,
    SendStep,
    UpdateStep,
    check_graph,
)
from herald.journeys.models import Journey, JourneyEnrollment, JourneyStatus, JourneyVersion
from herald.journeys.schemas import (
    EnrollRequest,
    JourneyCreate,
    JourneyOut,
    JourneyStats,
    JourneyVersionOut,
)
from herald.journeys.triggers import MANUAL_ENROLLMENT, journey_event, journey_start
from herald.messaging.models import Message, MessageTemplate
from herald.messaging.policy import WENT_OUT
from herald.pagination import Page, page_of
from herald.segments.membership import SEGMENT_ENTERED, SEGMENT_EXITED, track_referenced
from herald.temporal import WorkflowStart


def stored(definition: JourneyDefinition) -> dict[str, Any]:
    """The definition as kept in the database: JSON, with the names marketers write."""
    return definition.model_dump(mode="json", by_alias=True)


def load_definition(data: dict[str, Any]) -> JourneyDefinition:
    return JourneyDefinition.model_validate(data)


def validate_definition(session: Session, definition: JourneyDefinition) -> None:
    """The checks beyond the schema: the graph, and templates that exist on the right channel."""
    check_graph(definition)
    keys = {s.template for s in definition.steps if isinstance(s, SendStep)}
    templates = {
        t.key: t
        for t in session.scalars(
            select(MessageTemplate).where(
                MessageTemplate.key.in_(keys), MessageTemplate.deleted_at.is_(None)
            )
        )
    }
    for i, step in enumerate(definition.steps):
        if not isinstance(step, SendStep):
            continue
        template = templates.get(step.template)
        if template is None:
            raise InvalidInput(
                f"step {step.id!r} sends template {step.template!r}, which does not exist",
                field=f"steps.{i}.template",
            )
        if template.channel is not step.channel:
            raise InvalidInput(
                f"step {step.id!r} sends {step.channel.value}, template {step.template!r} is "
                f"{template.channel.value}",
                field=f"steps.{i}.channel",
            )


def _validate_body(session: Session, definition: JourneyDefinition) -> None:
    """As validate_definition, naming fields as they sit in a request (under ``definition``)."""
    try:
        validate_definition(session, definition)
    except InvalidInput as exc:
        field = f"definition.{exc.field}" if exc.field else "definition"
        raise InvalidInput(exc.detail, field=field) from exc


def get_journey(session: Session, key: str, *, lock: bool = False) -> Journey:
    query = select(Journey).where(Journey.key == key)
    journey = session.scalar(query.with_for_update() if lock else query)
    if journey is None:
        raise NotFound(f"no journey {key!r}")
    return journey


def list_journeys(session: Session, *, limit: int, cursor: str | None) -> Page[JourneyOut]:
    """By key."""
    return page_of(
        session,
        select(Journey),
        Journey.key,
        Journey.id,
        lambda journey: journey_out(session, journey),
        limit=limit,
        cursor=cursor,
        descending=False,
    )


def _version_row(session: Session, journey_id: uuid.UUID, version: int) -> JourneyVersion | None:
    return session.scalar(
        select(JourneyVersion).where(
            JourneyVersion.journey_id == journey_id, JourneyVersion.version == version
        )
    )


def version_definition(session: Session, journey_id: uuid.UUID, version: int) -> JourneyDefinition:
    """A published version's definition: what runs on that version interpret."""
    row = _version_row(session, journey_id, version)
    if row is None:
        raise NotFound(f"no version {version}")
    return load_definition(row.definition)


def current_definition(session: Session, journey: Journey) -> JourneyVersion | None:
    if journey.current_version is None:
        return None
    return _version_row(session, journey.id, journey.current_version)


def journey_out(session: Session, journey: Journey) -> JourneyOut:
    versions = session.scalars(
        select(JourneyVersion)
        .where(JourneyVersion.journey_id == journey.id)
        .order_by(JourneyVersion.version)
    ).all()
    current = next((v for v in versions if v.version == journey.current_version), None)
    return JourneyOut(
        id=journey.id,
        key=journey.key,
        name=journey.name,
        status=journey.status,
        current_version=journey.current_version,
        draft=journey.draft,
        unpublished_changes=current is None or current.definition != journey.draft,
        versions=[
            JourneyVersionOut(version=v.version, published_at=v.published_at) for v in versions
        ],
        created_at=journey.created_at,
        updated_at=journey.updated_at,
    )


def create_journey(session: Session, data: JourneyCreate) -> Journey:
    _validate_body(session, data.definition)
    if session.scalar(select(Journey.id).where(Journey.key == data.key)) is not None:
        raise Conflict(f"a journey with key {data.key!r} exists", field="key")
    journey = Journey(key=data.key, name=data.definition.name, draft=stored(data.definition))
    session.add(journey)
    commit_or_conflict(session, f"a journey with key {data.key!r} exists", field="key")
    return journey


def update_draft(session: Session, key: str, definition: JourneyDefinition) -> Journey:
    journey = get_journey(session, key, lock=True)
    if journey.status is JourneyStatus.archived:
        raise Conflict("an archived journey cannot change")
    _validate_body(session, definition)
    journey.draft = stored(definition)
    journey.name = definition.name
    session.commit()
    return journey


def publish(session: Session, key: str, *, may_publish_effects: bool) -> Journey:
    """Freeze the draft as the next version, unless it equals the current one. Runs already
    under way keep the version they started on. A draft whose steps award points or update
    profiles is published only by a role that may do those things itself
    (``may_publish_effects``): marketers draft such journeys, owners and managers publish them."""
    journey = get_journey(session, key, lock=True)
    if journey.status is JourneyStatus.archived:
        raise Conflict("an archived journey cannot be published")
    try:
        definition = load_definition(journey.draft)
    except ValidationError as exc:  # a draft from an older schema
        raise InvalidInput(f"the draft is no longer valid: {exc.errors()[0]['msg']}") from exc
    effects = sorted(s.id for s in definition.steps if isinstance(s, AwardPointsStep | UpdateStep))
    if effects and not may_publish_effects:
        raise Forbidden(
            f"steps {', '.join(effects)} award points or update profiles: an owner or a manager "
            "publishes this journey (journeys:publish_effects)"
        )
    validate_definition(session, definition)  # templates may have gone since the draft was saved
    current = current_definition(session, journey)
    if current is not None and current.definition == journey.draft:
        session.rollback()
        return journey
    journey.current_version = (journey.current_version or 0) + 1
    session.add(
        JourneyVersion(
            journey_id=journey.id, version=journey.current_version, definition=journey.draft
        )
    )
    journey.trigger = definition.trigger.model_dump(mode="json") if definition.trigger else None
    journey.listens_to = sorted(set(journey.listens_to) | definition.event_types())
    journey.matched_properties = sorted(
        set(journey.matched_properties) | definition.property_names()
    )
    track_referenced(
        session,
        (
            str(m.where["segment"])
            for m in definition.event_matches()
            if m.event in (SEGMENT_ENTERED, SEGMENT_EXITED) and "segment" in m.where
        ),
    )
    if journey.status is JourneyStatus.draft:
        journey.status = JourneyStatus.active
    session.commit()
    return journey


# What each state change needs and gives.
_TRANSITIONS: dict[str, tuple[set[JourneyStatus], JourneyStatus]] = {
    "pause": ({JourneyStatus.active}, JourneyStatus.paused),
    "resume": ({JourneyStatus.paused}, JourneyStatus.active),
    "archive": (
        {JourneyStatus.draft, JourneyStatus.active, JourneyStatus.paused},
        JourneyStatus.archived,
    ),
}


def change_status(session: Session, key: str, action: str) -> Journey:
    journey = get_journey(session, key, lock=True)
    allowed, after = _TRANSITIONS[action]
    if journey.status not in allowed:
        raise Conflict(f"a {journey.status.value} journey cannot {action}")
    journey.status = after
    session.commit()
    return journey


def enrollment_start(session: Session, key: str, request: EnrollRequest) -> WorkflowStart:
    """Enroll a customer by hand. The run applies the entry rules like any other."""
    journey = get_journey(session, key)
    if journey.status is not JourneyStatus.active:
        raise Conflict(f"a {journey.status.value} journey takes no entries")
    get_customer(session, request.customer_id)
    # Recorded (nothing reacts: the run starts here), so the run carries the event's id and
    # the properties its journey compares, and a send reads the rest from the record.
    recorded = Event.emitted(
        MANUAL_ENROLLMENT, request.customer_id, request.properties, react=False
    )
    session.add(recorded)
    session.commit()
    return journey_start(journey, request.customer_id, journey_event(journey, recorded))


def journey_stats(session: Session, key: str) -> JourneyStats:
    """Counts from the enrollments and messages tables; per-step occupancy comes from Temporal."""
    journey = get_journey(session, key)
    rows = session.execute(
        select(JourneyEnrollment.status, func.count(), func.count(JourneyEnrollment.converted_at))
        .where(JourneyEnrollment.journey_id == journey.id)
        .group_by(JourneyEnrollment.status)
    ).all()
    by_status = {status: count for status, count, _ in rows}
    intents = session.scalars(
        select(Message.idempotency_key).where(
            Message.idempotency_key.startswith(intent_prefix(key), autoescape=True),
            Message.status.in_(WENT_OUT),
        )
    )
    per_step = Counter(intent_step(intent) for intent in intents)
    return JourneyStats(
        entered=sum(by_status.values()),
        active=by_status.get(EnrollmentStatus.active, 0),
        completed=by_status.get(EnrollmentStatus.completed, 0),
        exited=by_status.get(EnrollmentStatus.exited, 0),
        converted=sum(converted for _, _, converted in rows),
        messages_per_step=dict(per_step),
    )


def step_ids(session: Session, key: str) -> list[str]:
    """Every step id of every published version, in order of first appearance."""
    journey = get_journey(session, key)
    versions = session.scalars(
        select(JourneyVersion.definition)
        .where(JourneyVersion.journey_id == journey.id)
        .order_by(JourneyVersion.version)
    )
    ids: dict[str, None] = {}
    for definition in versions:
        ids.update((step["id"], None) for step in definition["steps"])
    return list(ids)


def migration_target(session: Session, key: str, version: int | None) -> int:
    journey = get_journey(session, key)
    current = journey.current_version
    if current is None:
        raise Conflict("the journey has no published version")
    chosen = version or current
    if chosen > current:
        raise InvalidInput(f"there is no version {chosen}", field="version")
    return chosen
