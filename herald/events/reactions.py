"""What an event sets off. Each domain contributes a function; dispatch asks them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.temporal import WorkflowSignal, WorkflowStart

Action = WorkflowStart | WorkflowSignal
# Given a system session (reactions filter by the event's organization themselves).
Reaction = Callable[[Session, Event], Sequence[Action]]


def reactions() -> list[Reaction]:
    # Imported here: domain trigger modules import the events package themselves.
    from herald.inquiries.triggers import inquiry_workflows_for
    from herald.journeys.triggers import journey_actions_for
    from herald.loyalty.triggers import loyalty_workflows_for
    from herald.newsletter.triggers import newsletter_workflows_for

    return [
        loyalty_workflows_for,
        newsletter_workflows_for,
        inquiry_workflows_for,
        journey_actions_for,
    ]


def actions_for(session: Session, event: Event) -> list[Action]:
    return [action for reaction in reactions() for action in reaction(session, event)]
