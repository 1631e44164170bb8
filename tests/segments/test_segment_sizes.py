"""A saved segment's size over time (the daily record) and two segments compared."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from herald.schedules import SEGMENT_SIZES_HOUR_UTC, segment_sizes_schedule_id
from herald.segments.contracts import SEGMENT_SIZES_WORKFLOW, SegmentSizesInput
from herald.settings import Settings
from herald.temporal import connect
from tests.support import TEST_SECRET, Org, Stack, create_customer, order_paid, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def _segment(stack: Stack, org: Org, key: str, rule: dict[str, Any]) -> None:
    response = stack.api.post(
        "/v1/segments", json={"key": key, "name": key.title(), "rule": rule}, headers=org.headers()
    )
    assert response.status_code == 201, response.text


def _tag(stack: Stack, org: Org, customer: dict[str, Any], tags: list[str]) -> None:
    response = stack.api.patch(
        f"/v1/customers/{customer['id']}", json={"tags": tags}, headers=org.headers()
    )
    assert response.status_code == 200, response.text


async def _client(stack: Stack) -> Client:
    return await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )


async def _record(stack: Stack, client: Client, day: date) -> dict[str, Any]:
    """One daily run (what the schedule starts), bounded: a run that cannot finish fails here."""
    return await client.execute_workflow(  # type: ignore[no-any-return]
        SEGMENT_SIZES_WORKFLOW,
        SegmentSizesInput(day=day),
        id=f"sizes-test-{uuid.uuid4().hex}",
        task_queue=stack.env["HERALD_TASK_QUEUE"],
        result_type=dict,
        execution_timeout=timedelta(minutes=3),
    )


def _sizes(stack: Stack, org: Org, key: str) -> list[dict[str, Any]]:
    response = stack.api.get(f"/v1/segments/{key}/sizes", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def test_each_day_keeps_one_size_per_segment_and_a_repeated_run_changes_nothing(
    stack: Stack, org: Org
) -> None:
    _segment(stack, org, "vip", {"tag": "vip"})
    first = create_customer(stack, org, tags=["vip"])
    create_customer(stack, org, tags=["vip"])
    client = await _client(stack)
    schedule = client.get_schedule_handle(segment_sizes_schedule_id(stack.env["HERALD_TASK_QUEUE"]))
    [calendar] = (await schedule.describe()).schedule.spec.calendars
    assert calendar.hour[0].start == SEGMENT_SIZES_HOUR_UTC

    async def record(day: date) -> dict[str, Any]:
        return await _record(stack, client, day)

    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    assert (await record(yesterday))["recorded"] >= 1
    _tag(stack, org, first, [])  # one leaves: today's count is smaller
    await record(today)
    create_customer(stack, org, tags=["vip"])
    await record(today)  # made again (a retry, a manual trigger): the first count stays

    sizes = stack.api.get("/v1/segments/vip/sizes", headers=org.headers())
    assert sizes.status_code == 200
    assert sizes.json()["items"] == [
        {"day": yesterday.isoformat(), "size": 2},
        {"day": today.isoformat(), "size": 1},
    ]
    assert stack.api.get("/v1/segments/vip/sizes?days=1", headers=org.headers()).json()[
        "items"
    ] == [{"day": today.isoformat(), "size": 1}]
    refused = stack.api.get("/v1/segments/vip/sizes?days=0", headers=org.headers())
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_two_segments_compared_by_size_overlap_and_revenue(
    stack: Stack, org: Org, other_org: Org
) -> None:
    _segment(stack, org, "vip", {"tag": "vip"})
    _segment(stack, org, "buyers", {"orders": "count", "op": "gte", "value": 1})
    both = create_customer(stack, org, tags=["vip"])
    only_vip = create_customer(stack, org, tags=["vip"])
    only_buyer = create_customer(stack, org)
    create_customer(stack, org)  # in neither
    currency = stack.api.get("/v1/organization", headers=org.headers()).json()["reporting_currency"]
    # A buyer of another organization: never in this one's figures.
    stranger = create_customer(stack, other_org, tags=["vip"])
    for shop, customer, amount in (
        (org, both, "30.00"),
        (org, only_buyer, "12.50"),
        (other_org, stranger, "99.00"),
    ):
        posted = stack.api.post(
            "/v1/events",
            json=order_paid(customer["id"], f"C-{uuid.uuid4().hex[:8]}", amount, currency),
            headers=shop.headers(),
        )
        assert posted.status_code == 202
    wait_until(
        lambda: all(
            stack.api.get(f"/v1/customers/{c['id']}", headers=shop.headers()).json()["orders"]
            for shop, c in ((org, both), (org, only_buyer), (other_org, stranger))
        )
    )
    assert only_vip  # a VIP who never ordered

    compared = stack.api.get("/v1/segments/compare?a=vip&b=buyers", headers=org.headers())
    assert compared.status_code == 200, compared.text
    body = compared.json()
    assert (body["a"], body["b"], body["currency"]) == ("vip", "buyers", currency)
    figures = {
        k: (body[k]["customers"], body[k]["revenue"])
        for k in body
        if k.startswith(("in_", "only_", "both"))
    }
    assert figures == {
        "in_a": (2, "30.00"),
        "in_b": (2, "42.50"),
        "both": (1, "30.00"),
        "only_a": (1, "0.00"),
        "only_b": (1, "12.50"),
    }
    # Another organization's keys see neither segment.
    foreign = stack.api.get("/v1/segments/compare?a=vip&b=buyers", headers=other_org.headers())
    assert foreign.status_code == 404


async def test_a_segment_that_cannot_be_counted_holds_up_no_one_and_a_large_one_is_counted(
    stack: Stack, org: Org, other_org: Org
) -> None:
    # 6 x 299 conditions: within the budget, deeper than SQLite parses a flat OR.
    wide = {"any": [{"tag": f"t{i}"} for i in range(299)]}
    _segment(stack, org, "wide", wide)
    _segment(stack, org, "widest", {"any": [{"segment": "wide"}] * 6})
    _segment(stack, org, "base", {"tag": "t7"})
    _segment(stack, org, "derived", {"segment": "base"})
    deleted = stack.api.delete("/v1/segments/base", headers=org.headers())
    assert deleted.status_code == 204  # "derived" now names a segment that is gone
    _segment(stack, other_org, "everyone", {"not": {"tag": "nobody"}})
    create_customer(stack, org, tags=["t298"])
    create_customer(stack, other_org)

    day = datetime.now(UTC).date() - timedelta(days=2)
    outcome = await _record(stack, await _client(stack), day)
    assert outcome["skipped"] >= 1

    assert _sizes(stack, org, "widest")[-1] == {"day": day.isoformat(), "size": 1}
    assert _sizes(stack, other_org, "everyone")[-1] == {"day": day.isoformat(), "size": 1}
    assert not [p for p in _sizes(stack, org, "derived") if p["day"] == day.isoformat()]
