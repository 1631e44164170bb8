"""Record workflow histories into tests/histories/ for the replay test.

    .venv/bin/python scripts/record_histories.py

Existing files are kept; delete none to make a replay pass. Add a run here when a workflow
gains a path worth guarding.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from activities.journeys import JourneyActivities  # noqa: E402
from activities.loyalty import LoyaltyActivities  # noqa: E402
from activities.messaging import MessagingActivities  # noqa: E402
from herald.customers.schemas import CustomerCreate  # noqa: E402
from herald.customers.service import create_customer  # noqa: E402
from herald.db import Database  # noqa: E402
from herald.devserver import temporal_cli  # noqa: E402
from herald.journeys.definition import JourneyDefinition  # noqa: E402
from herald.journeys.schemas import JourneyCreate, JourneyEvent  # noqa: E402
from herald.journeys.service import create_journey, get_journey, publish  # noqa: E402
from herald.journeys.triggers import journey_start  # noqa: E402
from herald.loyalty.schemas import AwardOrderPointsInput, ReverseOrderPointsInput  # noqa: E402
from herald.messaging.delivery import DeliveryRequest  # noqa: E402
from herald.messaging.schemas import TemplateCreate  # noqa: E402
from herald.messaging.templates import create_template  # noqa: E402
from herald.messaging.unsubscribe import Links  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402
from herald.temporal import SEARCH_ATTRIBUTES  # noqa: E402
from workflows.journeys import JourneyRun  # noqa: E402
from workflows.loyalty import AwardOrderPoints, ReverseOrderPoints  # noqa: E402
from workflows.messaging import SendMessage  # noqa: E402

OUT = ROOT / "tests" / "histories"
# Every step type but the webhook (it would need an endpoint), with waits of seconds.
JOURNEY = {
    "name": "Replay journey",
    "trigger": {"event": "customer.signed_up"},
    "goal": {"event": "order.paid", "within": "P1D", "exit_on_conversion": False},
    "steps": [
        {"id": "hello", "type": "send", "channel": "email", "template": "replay", "next": "pause"},
        {"id": "pause", "type": "wait", "duration": "PT1S", "next": "vip"},
        {
            "id": "vip",
            "type": "branch",
            "condition": {"tag": "vip"},
            "then": "gift",
            "else": "split",
        },
        {
            "id": "split",
            "type": "random_split",
            "paths": [{"weight": 1, "next": "gift"}, {"weight": 1, "next": "tag"}],
        },
        {"id": "gift", "type": "award_points", "points": 5, "reason": "replay", "next": "order"},
        {"id": "tag", "type": "update", "add_tags": ["replayed"], "next": "order"},
        {
            "id": "order",
            "type": "wait_for_event",
            "event": "order.paid",
            "timeout": "PT3S",
            "on_event": "thanks",
            "on_timeout": "gate",
        },
        {"id": "thanks", "type": "send", "channel": "email", "template": "replay", "next": None},
        {
            "id": "gate",
            "type": "rate_limit",
            "max_customers": 1000,
            "period": "P1D",
            "next": "done",
        },
        {"id": "done", "type": "exit"},
    ],
}


async def record_journey(
    client: Client, db: Database, org_id: uuid.UUID, name: str, order: bool
) -> None:
    """One journey run, with an order arriving while it waits for one, or not."""
    if (OUT / f"{name}.json").exists():
        return
    with db.session(org_id) as session:
        journey = get_journey(session, "replay")
        customer = create_customer(
            session, CustomerCreate(name=name, emails=[f"{name}@example.com"])
        )
    now = datetime.now(UTC)
    trigger = JourneyEvent(id=uuid.uuid4(), type="customer.signed_up", occurred_at=now)
    start = journey_start(journey, customer.id, trigger)
    handle = await client.start_workflow(
        JourneyRun.run,
        start.arg,  # type: ignore[arg-type]
        id=start.workflow_id,
        task_queue="record",
        start_signal="event",
        start_signal_args=[trigger],
    )
    if order:
        await asyncio.sleep(2)
        paid = JourneyEvent(id=uuid.uuid4(), type="order.paid", occurred_at=datetime.now(UTC))
        await handle.signal(JourneyRun.on_event, paid)
    await handle.result()
    (OUT / f"{name}.json").write_text((await handle.fetch_history()).to_json())
    print(f"recorded {name}")


async def record() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/herald.db"
        upgrade(url)
        db = Database(url)
        with db.system_session() as session:
            org, _ = create_organization(session, "History Shop")
        with db.session(org.id) as session:
            customer = create_customer(
                session, CustomerCreate(name="Replay", emails=["replay@example.com"])
            )
            template = create_template(
                session,
                TemplateCreate(
                    key="replay",
                    name="Replay",
                    channel="email",
                    default_locale="en",
                    variants={"en": {"subject": "Hi {{ customer.name }}", "html": "<p>Hi</p>"}},
                ),
            )
            create_journey(
                session,
                JourneyCreate(key="replay", definition=JourneyDefinition.model_validate(JOURNEY)),
            )
            publish(session, "replay")
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_cli(),
            data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTES,
        )
        async with env:
            loyalty = LoyaltyActivities(db)
            links = Links("http://127.0.0.1:8000", "replay-secret")
            messaging = MessagingActivities(db, links)
            journeys = JourneyActivities(db, links)
            with ThreadPoolExecutor(4) as executor:
                async with Worker(
                    env.client,
                    task_queue="record",
                    workflows=[AwardOrderPoints, ReverseOrderPoints, SendMessage, JourneyRun],
                    activities=[
                        loyalty.award_order_points,
                        loyalty.reverse_order_points,
                        messaging.deliver_message,
                        *journeys.all_activities(),
                    ],
                    activity_executor=executor,
                ):
                    runs = [
                        (
                            "award_order_points",
                            AwardOrderPoints.run,
                            AwardOrderPointsInput(
                                organization_id=org.id,
                                customer_id=customer.id,
                                order_id="H-1",
                                amount=Decimal("42.50"),
                                currency="EUR",
                                event_id=uuid.uuid4(),
                            ),
                        ),
                        (
                            "reverse_order_points",
                            ReverseOrderPoints.run,
                            ReverseOrderPointsInput(
                                organization_id=org.id,
                                customer_id=customer.id,
                                order_id="H-1",
                                event_id=uuid.uuid4(),
                            ),
                        ),
                        (
                            "send_message",
                            SendMessage.run,
                            DeliveryRequest(
                                organization_id=org.id,
                                idempotency_key="replay-1",
                                template_id=template.id,
                                customer_id=customer.id,
                            ),
                        ),
                    ]
                    OUT.mkdir(exist_ok=True)
                    for name, run, arg in runs:
                        if (OUT / f"{name}.json").exists():
                            continue  # recorded histories are kept: they guard old runs
                        handle = await env.client.start_workflow(
                            run, arg, id=f"{name}-{uuid.uuid4()}", task_queue="record"
                        )
                        await handle.result()
                        history = await handle.fetch_history()
                        (OUT / f"{name}.json").write_text(history.to_json())
                        print(f"recorded {name}")
                    # Recorded by each interpreter generation (see workflow.patched in
                    # workflows/journeys.py); the older files stay, guarding older runs.
                    await record_journey(env.client, db, org.id, "journey_run_ordered", True)
                    await record_journey(env.client, db, org.id, "journey_run_timed_out", False)
                    await record_journey(env.client, db, org.id, "journey_run_v2_ordered", True)
                    await record_journey(env.client, db, org.id, "journey_run_v2_timed_out", False)
        db.dispose()


if __name__ == "__main__":
    asyncio.run(record())
