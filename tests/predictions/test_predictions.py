"""Predictions through the API on a real stack: orders posted as a shop would post them, the
fit run by its Temporal run, the model and each customer's scores read back, and the scores at
work in a segment, a journey's branch and a template."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from herald.db import utcnow
from herald.predictions import clv
from herald.predictions.contracts import PREDICTIONS_SWEEP_WORKFLOW, PredictionsSweepInput
from herald.settings import Settings
from herald.temporal import connect
from tests.predictions.cdnow import (
    CALIBRATION_END,
    PUBLISHED_BG_NBD,
    PUBLISHED_GAMMA_GAMMA,
    Purchase,
    purchases,
    summarised,
    within,
)
from tests.seed import seed_email_audience
from tests.support import TEST_SECRET, Org, Stack, wait_until

# The summaries are SQL that differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def post_purchases(
    stack: Stack, org: Org, bought: list[Purchase], shift: timedelta = timedelta(0)
) -> dict[int, str]:
    """The purchases as ``order.paid`` events of as many new customers (by CDNOW number),
    paid at noon UTC of their day moved by ``shift``; their Herald ids."""
    numbers = sorted({p.customer for p in bought})
    ids = seed_email_audience(stack.db, org.id, len(numbers))
    herald_id = {n: str(i) for n, i in zip(numbers, ids, strict=True)}
    events = [
        {
            "type": "order.paid",
            "customer": {"id": herald_id[p.customer]},
            "properties": {
                "order_id": f"cdnow-{p.line}",
                "amount": str(p.dollars),
                "currency": "USD",
                "paid_at": datetime.combine(p.day + shift, time(12), tzinfo=UTC).isoformat(),
            },
        }
        for p in bought
    ]
    for start in range(0, len(events), 1000):
        posted = stack.api.post(
            "/v1/events", json={"events": events[start : start + 1000]}, headers=org.headers()
        )
        assert posted.status_code == 202, posted.text
        assert all(e["history"] for e in posted.json()["events"])  # no runs: old orders
    return herald_id


def fit(stack: Stack, org: Org, **body: Any) -> dict[str, Any]:
    response = stack.api.post("/v1/analytics/clv/fit", json=body, headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_cdnow_back_test_gives_the_published_parameters_and_a_hold_out_check(
    stack: Stack, org: Org
) -> None:
    bought = purchases()
    post_purchases(stack, org, bought)

    model = fit(stack, org, as_of=CALIBRATION_END.isoformat())

    assert model["status"] == "fitted" and model["time_unit"] == "weeks"
    within(model["bg_nbd"], PUBLISHED_BG_NBD)
    within(model["gamma_gamma"], PUBLISHED_GAMMA_GAMMA)
    summary = summarised(bought, CALIBRATION_END)
    diagnostics = model["diagnostics"]
    assert diagnostics["customers"] == len(summary) == 2357
    assert diagnostics["repeat_buyers"] == sum(h.frequency[0] > 0 for h in summary.values())
    assert diagnostics["bg_nbd_log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    # A back-test scores no one; its hold-out is the 39 weeks of orders after it.
    assert model["scored"] == 0
    holdout = diagnostics["holdout"]
    later_days = {(p.customer, p.day) for p in bought if p.day > CALIBRATION_END}
    assert (holdout["weeks"], holdout["actual_purchases"]) == (39.0, len(later_days))
    assert abs(holdout["predicted_purchases"] - len(later_days)) < 0.15 * len(later_days)

    read = stack.api.get(f"/v1/analytics/clv/model?as_of={CALIBRATION_END}", headers=org.headers())
    assert read.status_code == 200 and read.json()["bg_nbd"] == model["bg_nbd"]
    current = stack.api.get("/v1/analytics/clv/model", headers=org.headers())
    assert current.status_code == 404  # nothing has scored the customers yet
    assert current.headers["content-type"].startswith("application/problem+json")


def test_a_shop_where_everyone_bought_once_says_not_enough_data(stack: Stack, org: Org) -> None:
    bought = [
        Purchase(line=n, customer=n, day=utcnow().date() - timedelta(days=40 + n), dollars=d)
        for n, d in ((n, purchases()[n].dollars) for n in range(1, 80))
    ]
    ids = post_purchases(stack, org, bought)

    model = fit(stack, org)

    assert model["status"] == "not_enough_data"
    assert model["bg_nbd"] is None and model["gamma_gamma"] is None
    assert "79 customers with orders, 0 of them repeat buyers" in model["reason"]
    assert model["diagnostics"]["repeat_buyers"] == 0
    assert stack.api.get("/v1/analytics/clv/model", headers=org.headers()).json()["status"] == (
        "not_enough_data"
    )
    scores = stack.api.get(f"/v1/customers/{ids[1]}/predictions", headers=org.headers())
    assert scores.status_code == 404
    future = (utcnow().date() + timedelta(days=2)).isoformat()
    refused = stack.api.post("/v1/analytics/clv/fit", json={"as_of": future}, headers=org.headers())
    assert refused.status_code == 422 and "future" in refused.text


# The first 600 CDNOW customers' calibration purchases, moved so the calibration ends 31 days
# ago (all history: no runs), then fitted as of today.
SHOP_CUSTOMERS = 600


def _scored_shop(stack: Stack, org: Org) -> tuple[dict[str, Any], dict[int, str], dict[int, Any]]:
    today = utcnow().date()
    shift = (today - timedelta(days=31)) - CALIBRATION_END
    bought = [p for p in purchases() if p.customer <= SHOP_CUSTOMERS and p.day <= CALIBRATION_END]
    ids = post_purchases(stack, org, bought, shift)
    model = fit(stack, org)
    moved = [Purchase(p.line, p.customer, p.day + shift, p.dollars) for p in bought]
    return model, ids, summarised(moved, today)


def _alive(model: dict[str, Any], history: clv.Histories) -> float:
    return float(clv.probability_alive(clv.BgNbd(**model["bg_nbd"]), history)[0])


def test_every_buyer_is_scored_and_the_scores_drive_a_segment_a_branch_and_a_template(
    stack: Stack, org: Org
) -> None:
    model, ids, histories = _scored_shop(stack, org)
    assert model["status"] == "fitted" and model["scored"] == SHOP_CUSTOMERS
    assert model["horizon_days"] == 365
    current = stack.api.get("/v1/analytics/clv/model", headers=org.headers()).json()
    assert current["as_of"] == utcnow().date().isoformat()

    # Each customer's churn risk is 1 - P(alive) from the fitted parameters and their history.
    risk = {n: 1 - _alive(model, h) for n, h in histories.items()}
    lapsed = max(risk, key=lambda n: risk[n])
    steady = min((n for n in risk if histories[n].frequency[0] >= 3), key=lambda n: risk[n])
    for number in (lapsed, steady):
        scores = stack.api.get(
            f"/v1/customers/{ids[number]}/predictions", headers=org.headers()
        ).json()
        assert scores["churn_risk"] == pytest.approx(risk[number], abs=1e-3)
        assert scores["probability_alive"] == pytest.approx(1 - risk[number], abs=1e-3)
        assert float(scores["predicted_clv"]) > 0 and scores["currency"] == "USD"
    assert risk[lapsed] > 0.7 > risk[steady]

    rule = {"predicted": "churn_risk", "op": "gte", "value": 0.7}
    created = stack.api.post(
        "/v1/segments",
        json={"key": "slipping", "name": "Slipping away", "rule": rule},
        headers=org.headers(),
    )
    assert created.status_code == 201, created.text
    members = _members(stack, org, "slipping")
    assert members == {ids[n] for n, r in risk.items() if r >= 0.7}
    assert ids[lapsed] in members and ids[steady] not in members

    _win_back_journey(stack, org)
    lapsed_run = _simulate(stack, org, ids[lapsed])
    steady_run = _simulate(stack, org, ids[steady])
    assert [m["template"] for m in lapsed_run["messages"]] == ["win-back"]
    subject = lapsed_run["messages"][0]["content"]["subject"]
    assert subject == f"We miss you ({round(risk[lapsed] * 100)}% at risk)"
    assert [m["template"] for m in steady_run["messages"]] == ["thanks"]


def _members(stack: Stack, org: Org, key: str) -> set[str]:
    found: set[str] = set()
    cursor = None
    while True:
        query = "?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = stack.api.get(f"/v1/segments/{key}/members{query}", headers=org.headers()).json()
        found |= {m["id"] for m in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _win_back_journey(stack: Stack, org: Org) -> None:
    for key, subject in (
        ("win-back", "We miss you ({{ (customer.churn_risk * 100) | round | int }}% at risk)"),
        ("thanks", "Thanks, worth {{ customer.predicted_clv }} to us"),
    ):
        template = {
            "key": key,
            "name": key,
            "channel": "email",
            "default_locale": "en",
            "variants": {"en": {"subject": subject, "html": "<p>Hi</p>"}},
        }
        response = stack.api.post("/v1/templates", json=template, headers=org.headers())
        assert response.status_code == 201, response.text
    definition = {
        "name": "Win back",
        "trigger": {"event": "customer.signed_up"},
        "steps": [
            {
                "id": "risk",
                "type": "branch",
                "condition": {"predicted": "churn_risk", "op": "gte", "value": 0.7},
                "then": "win",
                "else": "thank",
            },
            {"id": "win", "type": "send", "channel": "email", "template": "win-back", "next": None},
            {"id": "thank", "type": "send", "channel": "email", "template": "thanks", "next": None},
        ],
    }
    created = stack.api.post(
        "/v1/journeys", json={"key": "win-back", "definition": definition}, headers=org.headers()
    )
    assert created.status_code == 201, created.text


def _simulate(stack: Stack, org: Org, customer_id: str) -> dict[str, Any]:
    response = stack.api.post(
        "/v1/journeys/win-back/simulate", json={"customer_id": customer_id}, headers=org.headers()
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_another_tenant_reads_no_model_and_no_scores(
    stack: Stack, org: Org, other_org: Org
) -> None:
    bought = [p for p in purchases() if p.customer <= 200 and p.day <= CALIBRATION_END]
    ids = post_purchases(stack, org, bought, date(2026, 1, 1) - CALIBRATION_END)
    fit(stack, org, as_of="2026-01-01")
    assert (
        stack.api.get(
            "/v1/analytics/clv/model?as_of=2026-01-01", headers=other_org.headers()
        ).status_code
        == 404
    )
    assert (
        stack.api.get(
            f"/v1/customers/{ids[1]}/predictions", headers=other_org.headers()
        ).status_code
        == 404
    )
    assert (
        stack.api.get(
            f"/v1/customers/{uuid.uuid4()}/recommendations", headers=org.headers()
        ).status_code
        == 404
    )


async def test_the_nightly_sweep_fits_and_scores_each_organization_with_orders(
    stack: Stack, org: Org
) -> None:
    today = utcnow().date()
    bought = [p for p in purchases() if p.customer <= 200 and p.day <= CALIBRATION_END]
    post_purchases(stack, org, bought, (today - timedelta(days=31)) - CALIBRATION_END)
    client = await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    outcome = await client.execute_workflow(
        PREDICTIONS_SWEEP_WORKFLOW,
        PredictionsSweepInput(),
        id=f"predictions-sweep-test-{uuid.uuid4()}",
        task_queue=stack.env["HERALD_TASK_QUEUE"],
        result_type=dict,
    )
    assert outcome["organizations"] >= 1 and outcome["started"] >= 1

    def current() -> dict[str, Any] | None:
        response = stack.api.get("/v1/analytics/clv/model", headers=org.headers())
        return response.json() if response.status_code == 200 else None

    model = wait_until(current, timeout_s=120)
    assert model["as_of"] == today.isoformat() and model["status"] == "fitted"
    assert model["scored"] == 200
