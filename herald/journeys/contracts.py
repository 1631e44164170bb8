"""Journey runs' Temporal names: what starters and the worker agree on. A run in flight depends
on these; renaming one strands it."""

from __future__ import annotations

import uuid

from herald.temporal import LegacyId, tenant_workflow_id

JOURNEY_WORKFLOW = "JourneyRun"
# What a journey key and a step id look like (they are search attribute values too).
JOURNEY_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# Events reach a running journey as this signal (or with its start).
EVENT_SIGNAL = "event"
PROGRESS_QUERY = "progress"
EXIT_UPDATE = "exit"
SKIP_WAIT_UPDATE = "skip_wait"
MIGRATE_UPDATE = "migrate"

# Runs started before the one id scheme were "journey/<organization>/<key>/<customer>".
LEGACY_PREFIX = "journey/"


def journey_workflow_id(organization_id: uuid.UUID, key: str, customer_id: uuid.UUID) -> str:
    """One id per journey and customer: never two runs at once; entry rules decide re-entry."""
    return tenant_workflow_id(JOURNEY_WORKFLOW, organization_id, key, customer_id)


def legacy_journey_id(organization_id: uuid.UUID, key: str, customer_id: uuid.UUID) -> LegacyId:
    """The same run's id under the retired scheme: events reach such a run until it ends."""
    return LegacyId(f"{LEGACY_PREFIX}{organization_id}/{key}/{customer_id}", LEGACY_PREFIX)
