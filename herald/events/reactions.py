"""The workflows an event starts. Each domain contributes a function; dispatch asks them all."""

from __future__ import annotations

from collections.abc import Callable

from herald.events.models import Event
from herald.temporal import WorkflowStart

Reaction = Callable[[Event], list[WorkflowStart]]


def reactions() -> list[Reaction]:
    # Imported here: domain trigger modules import the events package themselves.
    from herald.loyalty.triggers import loyalty_workflows_for
    from herald.newsletter.triggers import newsletter_workflows_for

    return [loyalty_workflows_for, newsletter_workflows_for]


def workflows_for(event: Event) -> list[WorkflowStart]:
    return [start for reaction in reactions() for start in reaction(event)]
