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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from activities.loyalty import LoyaltyActivities  # noqa: E402
from activities.messaging import MessagingActivities  # noqa: E402
from herald.customers.schemas import CustomerCreate  # noqa: E402
from herald.customers.service import create_customer  # noqa: E402
from herald.db import Database  # noqa: E402
from herald.devserver import temporal_cli  # noqa: E402
from herald.loyalty.schemas import AwardOrderPointsInput, ReverseOrderPointsInput  # noqa: E402
from herald.messaging.delivery import DeliveryRequest  # noqa: E402
from herald.messaging.schemas import TemplateCreate  # noqa: E402
from herald.messaging.templates import create_template  # noqa: E402
from herald.messaging.unsubscribe import Links  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402
from workflows.loyalty import AwardOrderPoints, ReverseOrderPoints  # noqa: E402
from workflows.messaging import SendMessage  # noqa: E402

OUT = ROOT / "tests" / "histories"


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
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_cli(), data_converter=pydantic_data_converter
        )
        async with env:
            loyalty = LoyaltyActivities(db)
            messaging = MessagingActivities(db, Links("http://127.0.0.1:8000", "replay-secret"))
            with ThreadPoolExecutor(4) as executor:
                async with Worker(
                    env.client,
                    task_queue="record",
                    workflows=[AwardOrderPoints, ReverseOrderPoints, SendMessage],
                    activities=[
                        loyalty.award_order_points,
                        loyalty.reverse_order_points,
                        messaging.deliver_message,
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
        db.dispose()


if __name__ == "__main__":
    asyncio.run(record())
