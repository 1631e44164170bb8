"""Record workflow histories into tests/histories/ for the replay test.

    .venv/bin/python scripts/record_histories.py

Run it when a workflow gains a new path worth guarding; never re-record to make a replay pass.
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
from herald.customers.schemas import CustomerCreate  # noqa: E402
from herald.customers.service import create_customer  # noqa: E402
from herald.db import Database  # noqa: E402
from herald.devserver import temporal_cli  # noqa: E402
from herald.loyalty.schemas import AwardOrderPointsInput, ReverseOrderPointsInput  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402
from workflows.loyalty import AwardOrderPoints, ReverseOrderPoints  # noqa: E402

OUT = ROOT / "tests" / "histories"


async def record() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/herald.db"
        upgrade(url)
        db = Database(url)
        with db.system_session() as session:
            org, _ = create_organization(session, "History Shop")
        with db.session(org.id) as session:
            customer = create_customer(session, CustomerCreate(name="Replay"))
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_cli(), data_converter=pydantic_data_converter
        )
        async with env:
            loyalty = LoyaltyActivities(db)
            with ThreadPoolExecutor(4) as executor:
                async with Worker(
                    env.client,
                    task_queue="record",
                    workflows=[AwardOrderPoints, ReverseOrderPoints],
                    activities=[loyalty.award_order_points, loyalty.reverse_order_points],
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
                    ]
                    OUT.mkdir(exist_ok=True)
                    for name, run, arg in runs:
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
