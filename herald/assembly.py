"""Puts one process's ``Runtime`` together: the database, Temporal, signed links, and the event
dispatcher with every domain's reactions. The top of the domain package: it may import any
domain; none imports it (the API, the console and the CLI call ``build_runtime``)."""

from __future__ import annotations

from herald.access.models import Role
from herald.access.permissions import Permission, allows
from herald.analytics.contracts import ANALYTICS_ROLLUP_WORKFLOW, ANALYTICS_SWEEP_WORKFLOW
from herald.campaigns.contracts import CAMPAIGN_WORKFLOW
from herald.database import Database
from herald.dataops.contracts import BULK_WORKFLOW, EXPORT_WORKFLOW, IMPORT_WORKFLOW
from herald.events.dispatch import EventDispatcher
from herald.events.reactions import Reaction
from herald.inquiries.contracts import FOLLOW_UP_WORKFLOW
from herald.inquiries.triggers import inquiry_workflows_for
from herald.journeys.contracts import JOURNEY_WORKFLOW
from herald.journeys.simulation import JourneySimulator
from herald.journeys.triggers import journey_actions_for
from herald.loyalty.contracts import (
    AWARD_WORKFLOW,
    BIRTHDAY_SWEEP_WORKFLOW,
    BIRTHDAY_WORKFLOW,
    EXPIRY_SWEEP_WORKFLOW,
    REDEMPTION_WORKFLOW,
    REFERRAL_WORKFLOW,
    REVERSE_WORKFLOW,
    TIER_REVIEW_WORKFLOW,
)
from herald.loyalty.triggers import loyalty_workflows_for
from herald.messaging.contracts import SEND_WORKFLOW
from herald.messaging.unsubscribe import Links
from herald.newsletter.triggers import newsletter_workflows_for
from herald.orders.contracts import REFRESH_FIGURES_WORKFLOW
from herald.orders.triggers import orders_workflows_for
from herald.outbound import Outbound
from herald.predictions.contracts import CUSTOMER_PREDICTIONS_WORKFLOW, PREDICTIONS_SWEEP_WORKFLOW
from herald.ratelimits import RateLimits
from herald.runtime import Runtime
from herald.secrets import install
from herald.segments.contracts import SEGMENT_SIZES_WORKFLOW, SEGMENT_SWEEP_WORKFLOW
from herald.settings import Settings, secret_keys
from herald.temporal import TemporalConnection

# What events set off, in this order.
REACTIONS: list[Reaction] = [
    loyalty_workflows_for,
    newsletter_workflows_for,
    inquiry_workflows_for,
    orders_workflows_for,
    journey_actions_for,
]


# Who may see which runs in /v1/runs: a run shows what its domain shows, so reading it takes
# that domain's read permission (a marketer sees no sales follow-up, a cashier no campaign).
RUN_READERS: dict[str, Permission] = {
    AWARD_WORKFLOW: Permission.loyalty_read,
    REVERSE_WORKFLOW: Permission.loyalty_read,
    REDEMPTION_WORKFLOW: Permission.loyalty_read,
    TIER_REVIEW_WORKFLOW: Permission.loyalty_read,
    REFERRAL_WORKFLOW: Permission.loyalty_read,
    BIRTHDAY_WORKFLOW: Permission.loyalty_read,
    BIRTHDAY_SWEEP_WORKFLOW: Permission.loyalty_configure,
    EXPIRY_SWEEP_WORKFLOW: Permission.loyalty_configure,
    SEND_WORKFLOW: Permission.messages_read,
    JOURNEY_WORKFLOW: Permission.journeys_read,
    CAMPAIGN_WORKFLOW: Permission.campaigns_read,
    FOLLOW_UP_WORKFLOW: Permission.inquiries_read,
    SEGMENT_SWEEP_WORKFLOW: Permission.segments_read,
    SEGMENT_SIZES_WORKFLOW: Permission.segments_read,
    REFRESH_FIGURES_WORKFLOW: Permission.customers_read,
    IMPORT_WORKFLOW: Permission.data_import,
    EXPORT_WORKFLOW: Permission.data_export,
    BULK_WORKFLOW: Permission.customers_read,
    ANALYTICS_ROLLUP_WORKFLOW: Permission.analytics_read,
    ANALYTICS_SWEEP_WORKFLOW: Permission.analytics_configure,
    CUSTOMER_PREDICTIONS_WORKFLOW: Permission.analytics_read,
    PREDICTIONS_SWEEP_WORKFLOW: Permission.analytics_configure,
}


def visible_run_types(role: Role) -> frozenset[str]:
    return frozenset(kind for kind, needed in RUN_READERS.items() if allows(role, needed))


def install_secrets(settings: Settings) -> Links:
    """This process's keys: installed to open sealed credentials; the links they sign."""
    keys = secret_keys(settings)
    install(keys)
    return Links(settings.public_url, keys.current, keys.previous)


def build_runtime(settings: Settings, simulate_journey: JourneySimulator | None = None) -> Runtime:
    db = Database(settings.database_url)
    temporal = TemporalConnection(settings)
    return Runtime(
        settings=settings,
        db=db,
        temporal=temporal,
        links=install_secrets(settings),
        dispatcher=EventDispatcher(db, temporal.client, settings.task_queue, REACTIONS),
        outbound=Outbound.allowing(settings.outbound_allow),
        rate_limits=RateLimits.of(settings.rate_limit_storage, db.engine),
        simulate_journey=simulate_journey,
    )
