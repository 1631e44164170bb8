"""Simulation: a journey run for a real or hypothetical customer and a script of future events,
on a time-skipping Temporal server, sending nothing. What would go out, when, and why."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from herald.customers.models import Customer, CustomerTag
from herald.customers.service import get_customer
from herald.db import insert_if_absent, session_organization, utcnow

if TYPE_CHECKING:  # the type only: the domain sits below the registry
    from herald.database import Database
from herald.errors import InvalidInput
from herald.journeys.contracts import TimelineEntry
from herald.journeys.definition import EventType, JourneyDefinition
from herald.journeys.service import get_journey, load_definition, version_definition
from herald.loyalty.models import LoyaltyAccount
from herald.messaging.models import Channel, Consent, ConsentStatus
from herald.messaging.unsubscribe import Links

MAX_HORIZON = timedelta(days=366)


class ScriptedEvent(BaseModel):
    after: timedelta = Field(ge=timedelta(0), le=MAX_HORIZON, description="after entry")
    type: EventType
    properties: dict[str, Any] = {}


class HypotheticalCustomer(BaseModel):
    name: str = Field(default="Sample Customer", max_length=200)
    timezone: str | None = None
    locale: str | None = None
    attributes: dict[str, Any] = {}
    tags: list[str] = Field(default=[], max_length=50)
    points: int = 0
    consent: list[Channel] = [Channel.email]


class SimulateRequest(BaseModel):
    customer_id: uuid.UUID | None = None
    customer: HypotheticalCustomer | None = None
    # The trigger's properties (templates see them as ``event``).
    trigger: dict[str, Any] = {}
    events: list[ScriptedEvent] = Field(default=[], max_length=50)
    # A published version; the draft when omitted.
    version: int | None = Field(default=None, ge=1)
    horizon: timedelta = Field(default=timedelta(days=90), gt=timedelta(0), le=MAX_HORIZON)

    @model_validator(mode="after")
    def _one_customer(self) -> SimulateRequest:
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give either customer_id or a hypothetical customer")
        return self


class SimulatedMessage(BaseModel):
    at: datetime
    after: timedelta
    step: str
    channel: Channel
    template: str
    content: dict[str, Any]


class SimulationResult(BaseModel):
    status: str  # completed, exited, or still_running at the horizon
    reason: str | None
    converted: bool
    messages: list[SimulatedMessage]
    timeline: list[TimelineEntry]


def simulated_definition(
    session: Session, key: str, request: SimulateRequest
) -> tuple[uuid.UUID, int, JourneyDefinition]:
    """The journey id, the version number (0 for the draft) and the definition to simulate."""
    journey = get_journey(session, key)
    if request.customer_id is not None:
        get_customer(session, request.customer_id)
    if request.version is None:
        return journey.id, 0, load_definition(journey.draft)
    if journey.current_version is None or request.version > journey.current_version:
        raise InvalidInput(f"there is no version {request.version}", field="version")
    return journey.id, request.version, version_definition(session, journey.id, request.version)


@contextmanager
def customer_for(session: Session, request: SimulateRequest) -> Iterator[uuid.UUID]:
    """The real customer, or the hypothetical one written into this transaction and rolled back
    afterwards, so every rule and template sees it exactly as it would see a real profile."""
    if request.customer_id is not None:
        yield request.customer_id
        return
    profile = request.customer
    assert profile is not None
    customer_id = SIMULATED_CUSTOMER
    organization_id = session_organization(session)
    now = utcnow()
    session.add(
        Customer(
            id=customer_id,
            name=profile.name,
            timezone=profile.timezone,
            locale=profile.locale,
            attributes=profile.attributes,
            created_at=now,
            updated_at=now,
            tags=[CustomerTag(tag=t, organization_id=organization_id) for t in profile.tags],
        )
    )
    session.add_all(
        Consent(
            customer_id=customer_id,
            channel=channel,
            status=ConsentStatus.granted,
            source="simulation",
        )
        for channel in profile.consent
    )
    session.flush()
    insert_if_absent(
        session,
        LoyaltyAccount,
        {
            "organization_id": organization_id,
            "customer_id": customer_id,
            "balance": profile.points,
            "lifetime_earned": profile.points,
            "updated_at": now,
        },
        ["customer_id"],
    )
    try:
        yield customer_id
    finally:
        session.rollback()


# The hypothetical customer's id: never committed, so it can be the same every time.
SIMULATED_CUSTOMER = uuid.UUID("00000000-0000-4000-8000-000000000001")


class JourneySimulator(Protocol):
    """Runs a journey version on simulated time (``simulator.simulate``, which the composition
    hands to the ``Runtime``: the domain does not start Temporal servers itself)."""

    async def __call__(
        self,
        db: Database,
        links: Links,
        organization_id: uuid.UUID,
        journey_id: uuid.UUID,
        journey_key: str,
        version: int,
        definition: JourneyDefinition,
        request: SimulateRequest,
    ) -> SimulationResult: ...
