"""The workflows an event starts. Each domain contributes a function; dispatch asks them all."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from herald.events.models import Event


@dataclass(frozen=True)
class WorkflowStart:
    workflow: str
    workflow_id: str
    arg: BaseModel
    organization_id: uuid.UUID
    customer_id: uuid.UUID | None


Reaction = Callable[[Event], list[WorkflowStart]]


def reactions() -> list[Reaction]:
    # Imported here: domains import this module for WorkflowStart.
    from herald.loyalty.triggers import loyalty_workflows_for

    return [loyalty_workflows_for]


def workflows_for(event: Event) -> list[WorkflowStart]:
    return [start for reaction in reactions() for start in reaction(event)]
