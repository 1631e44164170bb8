"""A worker killed mid-import and mid-bulk-action: every row done once, none lost."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from herald.customers.models import Customer, CustomerActivity, CustomerTag
from herald.events.models import Event
from tests.support import Org, Stack, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

ROWS = 12_000


def _progress(stack: Stack, org: Org, path: str) -> Any:
    return stack.api.get(path, headers=org.headers()).json()


@pytest.mark.slow  # chaos: processes killed
def test_a_worker_killed_mid_import_and_mid_bulk_action_does_every_row_once(
    stack: Stack, org: Org
) -> None:
    lines = ["external_id,email,name"] + [f"k-{n},k{n}@example.com,Kim {n}" for n in range(ROWS)]
    uploaded = stack.api.post(
        "/v1/imports",
        params={"kind": "customers"},
        content=("\n".join(lines) + "\n").encode(),
        headers={**org.headers(), "Content-Type": "text/csv"},
    ).json()
    path = f"/v1/imports/{uploaded['id']}"
    assert stack.api.post(f"{path}/start", headers=org.headers()).status_code == 202
    for done in (1_500, 5_000, 8_500):
        wait_until(
            lambda n=done: ((_progress(stack, org, path)["result"] or {}).get("processed", 0)) >= n,
            timeout_s=180,
            interval_s=0.1,
        )
        stack.worker.kill()  # SIGKILL, a batch in flight
        stack.worker.start()
    imported = wait_until(
        lambda: (i := _progress(stack, org, path))["status"] == "imported" and i,
        timeout_s=300,
        interval_s=0.5,
    )
    assert imported["result"] == {
        "processed": ROWS,
        "created": ROWS,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    with stack.db.session(org.id) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == ROWS
        created = select(func.count()).where(Event.type == "customer.created")
        assert session.scalar(created) == ROWS
        logged = select(func.count()).where(CustomerActivity.action == "created")
        assert session.scalar(logged) == ROWS

    started = stack.api.post(
        "/v1/bulk-actions", json={"action": "tag", "tag": "imported"}, headers=org.headers()
    )
    assert started.status_code == 202, started.text
    bulk_path = f"/v1/bulk-actions/{started.json()['id']}"
    for done in (2_000, 7_000):
        wait_until(
            lambda n=done: _progress(stack, org, bulk_path)["progress"]["processed"] >= n,
            timeout_s=180,
            interval_s=0.1,
        )
        stack.worker.kill()
        stack.worker.start()
    tagged = wait_until(
        lambda: (b := _progress(stack, org, bulk_path))["status"] == "done" and b,
        timeout_s=300,
        interval_s=0.5,
    )
    assert tagged["total"] == ROWS
    assert tagged["progress"]["updated"] == ROWS and tagged["progress"]["processed"] == ROWS
    with stack.db.session(org.id) as session:
        tags = select(func.count()).where(CustomerTag.tag == "imported")
        assert session.scalar(tags) == ROWS
        logged = select(func.count()).where(CustomerActivity.action == "bulk tag")
        assert session.scalar(logged) == ROWS
