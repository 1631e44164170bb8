"""Puts one process's ``Runtime`` together: the database, Temporal, signed links, and the event
dispatcher with every domain's reactions. The top of the domain package: it may import any
domain; none imports it (the API, the console and the CLI call ``build_runtime``)."""

from __future__ import annotations

from herald.database import Database
from herald.events.dispatch import EventDispatcher
from herald.events.reactions import Reaction
from herald.inquiries.triggers import inquiry_workflows_for
from herald.journeys.simulation import JourneySimulator
from herald.journeys.triggers import journey_actions_for
from herald.loyalty.triggers import loyalty_workflows_for
from herald.messaging.unsubscribe import Links
from herald.newsletter.triggers import newsletter_workflows_for
from herald.outbound import Outbound
from herald.runtime import Runtime
from herald.settings import Settings, signing_key
from herald.temporal import TemporalConnection

# What events set off, in this order.
REACTIONS: list[Reaction] = [
    loyalty_workflows_for,
    newsletter_workflows_for,
    inquiry_workflows_for,
    journey_actions_for,
]


def build_runtime(settings: Settings, simulate_journey: JourneySimulator | None = None) -> Runtime:
    db = Database(settings.database_url)
    temporal = TemporalConnection(settings)
    return Runtime(
        settings=settings,
        db=db,
        temporal=temporal,
        links=Links(settings.public_url, signing_key(settings)),
        dispatcher=EventDispatcher(db, temporal.client, settings.task_queue, REACTIONS),
        outbound=Outbound.allowing(settings.outbound_allow),
        simulate_journey=simulate_journey,
    )
