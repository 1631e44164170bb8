"""Which journey runs an event starts or reaches."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.journeys.contracts import (
    EVENT_SIGNAL,
    JOURNEY_WORKFLOW,
    JourneyEvent,
    JourneyRunInput,
    journey_workflow_id,
    legacy_journey_id,
)
from herald.journeys.definition import EventMatch
from herald.journeys.models import Journey, JourneyStatus
from herald.temporal import WorkflowSignal, WorkflowStart

# The event type a run started by hand carries, with the properties given.
MANUAL_ENROLLMENT = "journey.enrolled"


def journey_event(journey: Journey, event: Event) -> JourneyEvent:
    """An event as the journey's runs get it: its id, and only the properties the journey
    compares (the others may be personal data; a send reads them by the id)."""
    return JourneyEvent(
        id=event.id,
        type=event.type,
        properties={k: v for k, v in event.properties.items() if k in journey.matched_properties},
        occurred_at=event.occurred_at,
    )


def journey_start(
    journey: Journey, customer_id: uuid.UUID, trigger: JourneyEvent | None
) -> WorkflowStart:
    return WorkflowStart(
        workflow=JOURNEY_WORKFLOW,
        workflow_id=journey_workflow_id(journey.organization_id, journey.key, customer_id),
        arg=JourneyRunInput(
            organization_id=journey.organization_id,
            journey_id=journey.id,
            journey_key=journey.key,
            customer_id=customer_id,
            trigger=trigger,
        ),
        organization_id=journey.organization_id,
        customer_id=customer_id,
        summary=f"Journey '{journey.name}' ({journey.key}) for one customer",
        signal=EVENT_SIGNAL if trigger is not None else None,
        signal_arg=trigger,
        rerun=True,
        journey=journey.key,
        memo={"journey": journey.name},
        legacy=legacy_journey_id(journey.organization_id, journey.key, customer_id),
    )


def journey_actions_for(session: Session, event: Event) -> list[WorkflowStart | WorkflowSignal]:
    """Start a run where the event is an active journey's trigger (signal-with-start: a run
    already under way gets the event instead); signal runs of journeys that listen for it."""
    if event.customer_id is None:
        return []
    journeys = session.scalars(
        select(Journey).where(
            Journey.organization_id == event.organization_id,
            Journey.status.in_((JourneyStatus.active, JourneyStatus.paused)),
        )
    )
    if event.type == MANUAL_ENROLLMENT:
        # Enrolled by a bulk action: the journey it names, if it still takes entries.
        return [
            journey_start(journey, event.customer_id, journey_event(journey, event))
            for journey in journeys
            if journey.key == event.properties.get("journey")
            and journey.status is JourneyStatus.active
        ]
    actions: list[WorkflowStart | WorkflowSignal] = []
    for journey in journeys:
        triggers = (
            journey.status is JourneyStatus.active
            and journey.trigger is not None
            and EventMatch.model_validate(journey.trigger).matches(event.type, event.properties)
        )
        seen = journey_event(journey, event)
        if triggers:
            actions.append(journey_start(journey, event.customer_id, seen))
        elif event.type in journey.listens_to:
            org, key, customer = event.organization_id, journey.key, event.customer_id
            actions.append(
                WorkflowSignal(
                    JOURNEY_WORKFLOW,
                    journey_workflow_id(org, key, customer),
                    EVENT_SIGNAL,
                    seen,
                    legacy=legacy_journey_id(org, key, customer),
                )
            )
    return actions
