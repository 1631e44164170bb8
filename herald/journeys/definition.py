"""What a marketer writes: a journey's trigger, entry and exit rules, goal and step graph.

Steps run from the first in the list; each names the step after it (``next``), or several for
the steps that fork. ``null`` as a target ends the journey there. Saving checks the graph
(:func:`check_graph`): every target exists, every step is reachable, and no loop can spin without
a wait in it.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from herald.errors import InvalidInput
from herald.journeys.keys import STEP_ID_PATTERN
from herald.messaging.models import Channel
from herald.segments.rules import Rule, Scalar

StepId = Annotated[str, Field(pattern=STEP_ID_PATTERN)]
# A target step; null ends the journey. Required wherever it appears, so a fork cannot leave a
# path out by accident.
Target = StepId | None
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.:-]{0,99}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EventMatch(_Model):
    """An event type, and property values it must carry."""

    event: EventType
    where: dict[str, Scalar] = {}

    def matches(self, event_type: str, properties: dict[str, object]) -> bool:
        return event_type == self.event and all(
            properties.get(name) == value for name, value in self.where.items()
        )


class _Step(_Model):
    id: StepId
    name: str | None = Field(default=None, max_length=200)


class SendStep(_Step):
    type: Literal["send"]
    channel: Channel
    template: str = Field(min_length=1, max_length=100)  # the template's key
    next: Target = None


class WaitStep(_Step):
    """Wait a duration, until a time of day in the customer's time zone, or until a date kept
    in one of the customer's attributes (plus an offset, e.g. -P3D for three days before)."""

    type: Literal["wait"]
    duration: timedelta | None = None
    until_time: time | None = None
    until_attribute: str | None = Field(default=None, max_length=100)
    offset: timedelta = timedelta(0)
    next: Target = None

    @model_validator(mode="after")
    def _one_kind(self) -> WaitStep:
        kinds = [self.duration, self.until_time, self.until_attribute]
        if sum(k is not None for k in kinds) != 1:
            raise ValueError("give exactly one of duration, until_time, until_attribute")
        if self.duration is not None and self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        return self


class WaitForEventStep(_Step, EventMatch):
    type: Literal["wait_for_event"]
    timeout: timedelta = Field(gt=timedelta(0))
    on_event: Target
    on_timeout: Target


class BranchStep(_Step):
    type: Literal["branch"]
    condition: Rule
    then: Target
    else_: Target = Field(alias="else")


class SplitPath(_Model):
    weight: int = Field(ge=1, le=1000)
    next: Target


class RandomSplitStep(_Step):
    type: Literal["random_split"]
    paths: list[SplitPath] = Field(min_length=2, max_length=10)


class UpdateStep(_Step):
    type: Literal["update"]
    add_tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    remove_tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    set_attributes: dict[str, Scalar | None] = {}
    next: Target = None


class AwardPointsStep(_Step):
    type: Literal["award_points"]
    points: int = Field(ge=1, le=1_000_000)
    reason: str = Field(min_length=1, max_length=200)
    next: Target = None


class WebhookStep(_Step):
    """POST the run's context as JSON; retried, and the journey goes on either way."""

    type: Literal["webhook"]
    url: HttpUrl
    next: Target = None


class RateLimitStep(_Step):
    """At most ``max_customers`` pass per ``period``; the rest wait for a later period."""

    type: Literal["rate_limit"]
    max_customers: int = Field(ge=1, le=1_000_000)
    period: timedelta = Field(gt=timedelta(0))
    next: Target = None


class ExitStep(_Step):
    type: Literal["exit"]


Step = Annotated[
    SendStep
    | WaitStep
    | WaitForEventStep
    | BranchStep
    | RandomSplitStep
    | UpdateStep
    | AwardPointsStep
    | WebhookStep
    | RateLimitStep
    | ExitStep,
    Field(discriminator="type"),
]
# Steps during which a run rests on a durable timer; a loop must pass one.
WAITING_STEPS = (WaitStep, WaitForEventStep, RateLimitStep)


class Trigger(EventMatch):
    pass


class EntryRules(_Model):
    """Whether a customer may go through the journey again. Never two runs at once."""

    reentry: Literal["never", "always", "cooldown"] = "never"
    cooldown: timedelta | None = None

    @model_validator(mode="after")
    def _cooldown_given(self) -> EntryRules:
        if (self.reentry == "cooldown") != (self.cooldown is not None):
            raise ValueError("a cooldown goes with reentry 'cooldown', and only with it")
        return self


class Goal(EventMatch):
    """The event that counts as a conversion when it happens within ``within`` of entry."""

    within: timedelta = Field(gt=timedelta(0))
    exit_on_conversion: bool = True


class JourneyDefinition(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    # The event that enrolls a customer; without one, customers are only enrolled by hand.
    trigger: Trigger | None = None
    entry: EntryRules = EntryRules()
    exit_on: list[EventMatch] = Field(default=[], max_length=20)
    goal: Goal | None = None
    steps: list[Step] = Field(min_length=1, max_length=200)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def event_matches(self) -> list[EventMatch]:
        """Every event the journey starts on or listens for, with its property filters."""
        matches: list[EventMatch] = [*self.exit_on]
        matches += [s for s in self.steps if isinstance(s, WaitForEventStep)]
        matches += [m for m in (self.goal, self.trigger) if m is not None]
        return matches

    def property_names(self) -> set[str]:
        """Every event property a run of this journey compares: all it needs of an event."""
        return {name for m in self.event_matches() for name in m.where}

    def event_types(self) -> set[str]:
        """Every event type a run of this journey listens for."""
        return {m.event for m in self.event_matches()}


def targets(step: Step) -> list[tuple[str, Target]]:
    """The steps a step may lead to, with the field naming each."""
    if isinstance(step, WaitForEventStep):
        return [("on_event", step.on_event), ("on_timeout", step.on_timeout)]
    if isinstance(step, BranchStep):
        return [("then", step.then), ("else", step.else_)]
    if isinstance(step, RandomSplitStep):
        return [(f"paths.{i}.next", p.next) for i, p in enumerate(step.paths)]
    if isinstance(step, ExitStep):
        return []
    return [("next", step.next)]


def target(step: Step, outcome: str) -> Target:
    """Where the step leads on the outcome named as in :func:`targets` (``next``, ``then``...)."""
    return dict(targets(step))[outcome]


def same_shape(old: Step, new: Step) -> bool:
    """Whether a run in ``old`` can carry on in ``new``: same kind, same outcomes."""
    return type(old) is type(new) and [o for o, _ in targets(old)] == [o for o, _ in targets(new)]


def check_graph(definition: JourneyDefinition) -> None:
    """Refuse a graph that cannot run as drawn, naming the step at fault."""
    index = {}
    for i, step in enumerate(definition.steps):
        if step.id in index:
            raise InvalidInput(f"step id {step.id!r} is used twice", field=f"steps.{i}.id")
        index[step.id] = i
    for i, step in enumerate(definition.steps):
        for name, target in targets(step):
            if target is not None and target not in index:
                raise InvalidInput(
                    f"step {step.id!r} leads to {target!r}, which is not a step",
                    field=f"steps.{i}.{name}",
                )
    reached = _reachable(definition, definition.steps[0].id)
    for i, step in enumerate(definition.steps):
        if step.id not in reached:
            raise InvalidInput(
                f"step {step.id!r} cannot be reached from the first step", field=f"steps.{i}"
            )
    loop = _loop_without_wait(definition)
    if loop is not None:
        raise InvalidInput(
            f"steps {' → '.join(loop)} form a loop with no wait in it",
            field=f"steps.{index[loop[0]]}",
        )


def _reachable(definition: JourneyDefinition, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        step_id = todo.pop()
        if step_id in seen:
            continue
        seen.add(step_id)
        todo += [t for _, t in targets(definition.step(step_id)) if t is not None]
    return seen


def _loop_without_wait(definition: JourneyDefinition) -> list[str] | None:
    """A cycle among the steps that never wait, if there is one (depth-first search)."""
    instant = {s.id: s for s in definition.steps if not isinstance(s, WAITING_STEPS)}
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(step_id: str, path: list[str]) -> list[str] | None:
        state[step_id] = "open"
        for _, target in targets(instant[step_id]):
            if target is None or target not in instant:
                continue
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target, [*path, target])
                if found:
                    return found
        state[step_id] = "done"
        return None

    for step_id in instant:
        if step_id not in state:
            found = visit(step_id, [step_id])
            if found:
                return found
    return None
