"""Journey use cases that reach Temporal: enrolling by hand, moving runs to a newer version,
simulating, and the views that read runs from Temporal's visibility. The API and the console
call these."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.orm import Session

from herald.errors import HeraldError, InvalidInput
from herald.journeys import service
from herald.journeys.contracts import JOURNEY_WORKFLOW, MIGRATE_UPDATE
from herald.journeys.schemas import EnrollRequest, JourneyStats, MigrateOutcome
from herald.journeys.simulation import SimulateRequest, SimulationResult, simulated_definition
from herald.runs import service as runs
from herald.runs.schemas import RunPage, RunQuery
from herald.runtime import Runtime

# Each simulation starts a time-skipping server: a few at a time per process.
SIMULATIONS = asyncio.Semaphore(2)
# Updates in flight at once while migrating runs.
MIGRATE_CONCURRENCY = 20


async def enroll(
    runtime: Runtime, organization_id: uuid.UUID, key: str, request: EnrollRequest
) -> tuple[str, str]:
    """Enroll a customer by hand: the run's workflow id and run id."""
    start = await runtime.in_org(
        organization_id, lambda s: service.enrollment_start(s, key, request)
    )
    handle = await runtime.start_run(start)
    return start.workflow_id, handle.result_run_id or ""


async def migrate(
    runtime: Runtime, organization_id: uuid.UUID, key: str, to_version: int | None
) -> MigrateOutcome:
    """Move waiting runs of older versions to a newer one, at the same step; each run decides
    (a run whose step is gone or changed shape stays, and the answer says why)."""
    version = await runtime.in_org(
        organization_id, lambda s: service.migration_target(s, key, to_version)
    )
    client = await runtime.client()
    workflow_ids = await runs.running_journey_runs(client, organization_id, key, version)
    limit = asyncio.Semaphore(MIGRATE_CONCURRENCY)
    refused: dict[str, str] = {}

    async def move(workflow_id: str) -> None:
        async with limit:
            try:
                await runs.update_run(client, organization_id, workflow_id, MIGRATE_UPDATE, version)
            except HeraldError as exc:
                refused[workflow_id] = exc.detail

    await asyncio.gather(*(move(w) for w in workflow_ids))
    return MigrateOutcome(
        version=version, migrated=len(workflow_ids) - len(refused), refused=refused
    )


async def simulate(
    runtime: Runtime, organization_id: uuid.UUID, key: str, request: SimulateRequest
) -> SimulationResult:
    """Run the journey for a real or hypothetical customer on simulated time; sends nothing."""
    if runtime.simulate_journey is None:
        raise InvalidInput("this process cannot simulate journeys")
    journey_id, version, definition = await runtime.in_org(
        organization_id, lambda s: simulated_definition(s, key, request)
    )
    async with SIMULATIONS:
        return await runtime.simulate_journey(
            runtime.db,
            runtime.links,
            organization_id,
            journey_id,
            key,
            version,
            definition,
            request,
        )


async def journey_runs(
    runtime: Runtime, organization_id: uuid.UUID, key: str, query: RunQuery
) -> RunPage:
    """The journey's runs, by step and status (a 404 for an unknown journey)."""
    await runtime.in_org(organization_id, lambda s: service.get_journey(s, key))
    return await runs.list_runs(
        await runtime.client(), organization_id, query, types={JOURNEY_WORKFLOW}
    )


async def stats(runtime: Runtime, organization_id: uuid.UUID, key: str) -> JourneyStats:
    """Entries, exits and conversions from the database; who waits in each step from
    Temporal's visibility."""

    def counts(session: Session) -> tuple[JourneyStats, list[str]]:
        return service.journey_stats(session, key), service.step_ids(session, key)

    found, steps = await runtime.in_org(organization_id, counts)
    client = await runtime.client()
    occupancy = await asyncio.gather(
        *(
            runs.count_runs(
                client, organization_id, RunQuery(journey=key, step=s, status="running")
            )
            for s in steps
        )
    )
    found.active_per_step = {s: n for s, n in zip(steps, occupancy, strict=True) if n}
    return found
