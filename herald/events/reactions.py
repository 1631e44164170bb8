"""What an event sets off. Each domain contributes a function (its ``triggers.reactions``); the
process hands the list to the dispatcher (``herald.assembly``), so this package, which every
domain records events through, imports none of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.temporal import WorkflowSignal, WorkflowStart

Action = WorkflowStart | WorkflowSignal
# Given a system session (reactions filter by the event's organization themselves).
Reaction = Callable[[Session, Event], Sequence[Action]]


def actions_for(reactions: Sequence[Reaction], session: Session, event: Event) -> list[Action]:
    return [action for reaction in reactions for action in reaction(session, event)]
