"""Journeys over the API with the real dev server, worker and API processes."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from herald.access.models import Role
from herald.db import utcnow
from herald.journeys.contracts import JourneyEvent, journey_workflow_id, legacy_journey_id
from herald.journeys.service import get_journey
from herald.journeys.triggers import journey_start
from herald.settings import Settings
from herald.temporal import connect, start_run
from tests.support import TEST_SECRET, Org, Stack, create_customer, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

HERALD = str(Path(sys.executable).parent / "herald")

WELCOME: dict[str, Any] = {
    "name": "Welcome series",
    "trigger": {"event": "customer.signed_up"},
    "exit_on": [{"event": "customer.unsubscribed"}],
    "steps": [
        {"id": "hello", "type": "send", "channel": "email", "template": "hello", "next": "pause"},
        {"id": "pause", "type": "wait", "duration": "P3D", "next": "tips"},
        {"id": "tips", "type": "send", "channel": "email", "template": "tips", "next": None},
    ],
}


def _templates(stack: Stack, org: Org) -> None:
    stack.api.put(
        "/v1/messaging/settings", json={"postal_address": "1 Main St"}, headers=org.headers()
    )
    for key in ("hello", "tips"):
        template = {
            "key": key,
            "name": key,
            "channel": "email",
            "category": "transactional",
            "default_locale": "en",
            "variants": {"en": {"subject": f"{key} {{{{ customer.first_name }}}}", "html": "x"}},
        }
        assert stack.api.post("/v1/templates", json=template, headers=org.headers()).is_success


def _journey(stack: Stack, org: Org, definition: dict[str, Any], key: str = "welcome") -> None:
    created = stack.api.post(
        "/v1/journeys", json={"key": key, "definition": definition}, headers=org.headers()
    )
    assert created.status_code == 201, created.text
    published = stack.api.post(f"/v1/journeys/{key}/publish", headers=org.headers())
    assert published.status_code == 200 and published.json()["status"] == "active"


def _signup(stack: Stack, org: Org, customer: dict[str, Any]) -> None:
    event = {"type": "customer.signed_up", "customer": {"id": customer["id"]}}
    assert stack.api.post("/v1/events", json=event, headers=org.headers()).status_code == 202


def _runs(stack: Stack, org: Org, **params: str) -> list[dict[str, Any]]:
    response = stack.api.get("/v1/journeys/welcome/runs", params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def _waiting_in_pause(stack: Stack, org: Org) -> tuple[dict[str, Any], dict[str, Any]]:
    """The welcome journey published, and one customer's run waiting in its "pause" step."""
    _templates(stack, org)
    _journey(stack, org, WELCOME)
    customer = create_customer(stack, org)
    _signup(stack, org, customer)
    [run] = wait_until(lambda: _runs(stack, org, step="pause"))
    return customer, run


def _publish_v2(stack: Stack, org: Org, definition: dict[str, Any]) -> None:
    put = stack.api.put(
        "/v1/journeys/welcome", json={"definition": definition}, headers=org.headers()
    )
    assert put.status_code == 200, put.text
    assert stack.api.post("/v1/journeys/welcome/publish", headers=org.headers()).is_success


def _subjects(stack: Stack, org: Org, customer: dict[str, Any]) -> list[str]:
    items = stack.api.get("/v1/outbox", headers=org.headers()).json()["items"]
    mine = [m for m in items if m["customer_id"] == customer["id"]]
    return sorted(m["content"]["subject"].split(" ")[0] for m in mine)


def _run(stack: Stack, org: Org, workflow_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/runs/{workflow_id}", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_signup_starts_the_welcome_series_and_operators_see_its_step(
    stack: Stack, org: Org
) -> None:
    _templates(stack, org)
    _journey(stack, org, WELCOME)
    customer = create_customer(stack, org, name="Ines Duarte")
    _signup(stack, org, customer)

    waiting = wait_until(lambda: _runs(stack, org, step="pause", status="running"), timeout_s=30)
    [run] = waiting
    assert run["customer_id"] == customer["id"] and run["journey"] == "welcome"
    assert _subjects(stack, org, customer) == ["hello"]
    detail = _run(stack, org, run["workflow_id"])
    assert detail["progress"]["step"] == "pause" and detail["progress"]["version"] == 1
    stats = stack.api.get("/v1/journeys/welcome/stats", headers=org.headers()).json()
    assert stats["entered"] == 1 and stats["active"] == 1
    assert stats["active_per_step"] == {"pause": 1}
    assert stats["messages_per_step"] == {"hello": 1}

    # An operator skips the three-day wait: the second email goes and the run completes.
    skipped = stack.api.post(f"/v1/runs/{run['workflow_id']}/skip-wait", headers=org.headers())
    assert skipped.status_code == 200, skipped.text
    wait_until(lambda: _run(stack, org, run["workflow_id"])["status"] == "completed")
    assert _subjects(stack, org, customer) == ["hello", "tips"]

    # Re-entry is off: signing up again starts a run that does not enter.
    _signup(stack, org, customer)
    wait_until(lambda: _run(stack, org, run["workflow_id"])["run_id"] != run["run_id"])
    again = wait_until(
        lambda: (r := _run(stack, org, run["workflow_id"]))["status"] == "completed" and r
    )
    assert again["result"]["status"] == "not_entered"
    assert _subjects(stack, org, customer) == ["hello", "tips"]
    stats = stack.api.get("/v1/journeys/welcome/stats", headers=org.headers()).json()
    assert (stats["entered"], stats["completed"], stats["active"]) == (1, 1, 0)


def test_exit_events_and_operators_end_runs(stack: Stack, org: Org) -> None:
    _templates(stack, org)
    _journey(stack, org, WELCOME)
    leaving, stopped = create_customer(stack, org), create_customer(stack, org)
    for customer in (leaving, stopped):
        _signup(stack, org, customer)
    runs = wait_until(lambda: len(r := _runs(stack, org, step="pause")) == 2 and r)
    by_customer = {r["customer_id"]: r["workflow_id"] for r in runs}
    # One run a page: the cursor leads to the other.
    first = stack.api.get("/v1/runs", params={"limit": 1}, headers=org.headers()).json()
    second = stack.api.get(
        "/v1/runs", params={"limit": 1, "cursor": first["next_cursor"]}, headers=org.headers()
    ).json()
    paged = {run["workflow_id"] for run in first["items"] + second["items"]}
    assert paged == set(by_customer.values())

    event = {"type": "customer.unsubscribed", "customer": {"id": leaving["id"]}}
    assert stack.api.post("/v1/events", json=event, headers=org.headers()).status_code == 202
    ended = wait_until(
        lambda: (r := _run(stack, org, by_customer[leaving["id"]]))["status"] == "completed" and r
    )
    assert ended["result"] == {
        "status": "exited",
        "reason": "exit event: customer.unsubscribed",
        "version": 1,
        "converted": False,
    }

    path = f"/v1/runs/{by_customer[stopped['id']]}/exit"
    response = stack.api.post(path, json={"reason": "asked by phone"}, headers=org.headers())
    assert response.status_code == 200, response.text
    assert response.json()["exit_reason"] == "by hand: asked by phone"
    assert stack.api.post(path, json={"reason": "x"}, headers=org.headers()).status_code == 409
    for customer in (leaving, stopped):
        assert _subjects(stack, org, customer) == ["hello"]


def test_a_run_on_v1_keeps_v1_after_v2_is_published(stack: Stack, org: Org) -> None:
    first, old = _waiting_in_pause(stack, org)

    changed = copy.deepcopy(WELCOME)
    changed["steps"][2]["template"] = "hello"  # v2 ends with another email
    put = stack.api.put("/v1/journeys/welcome", json={"definition": changed}, headers=org.headers())
    assert put.status_code == 200 and put.json()["unpublished_changes"] is True
    v2 = stack.api.post("/v1/journeys/welcome/publish", headers=org.headers()).json()
    assert v2["current_version"] == 2 and [v["version"] for v in v2["versions"]] == [1, 2]
    unchanged = stack.api.post("/v1/journeys/welcome/publish", headers=org.headers()).json()
    assert unchanged["current_version"] == 2

    second = create_customer(stack, org)
    _signup(stack, org, second)
    wait_until(lambda: len(_runs(stack, org, step="pause")) == 2)
    assert _run(stack, org, old["workflow_id"])["progress"]["version"] == 1
    for customer, version, last in ((first, 1, "tips"), (second, 2, "hello")):
        workflow_id = next(
            r["workflow_id"] for r in _runs(stack, org) if r["customer_id"] == customer["id"]
        )
        assert _run(stack, org, workflow_id)["progress"]["version"] == version
        stack.api.post(f"/v1/runs/{workflow_id}/skip-wait", headers=org.headers())
        wait_until(lambda w=workflow_id: _run(stack, org, w)["status"] == "completed")
        assert sorted(_subjects(stack, org, customer)) == sorted(["hello", last])


def test_a_paused_journey_takes_no_one_and_manual_enrollment_works_once_resumed(
    stack: Stack, org: Org
) -> None:
    _templates(stack, org)
    _journey(stack, org, WELCOME)
    paused = stack.api.post("/v1/journeys/welcome/pause", headers=org.headers())
    assert paused.json()["status"] == "paused"
    customer = create_customer(stack, org)
    _signup(stack, org, customer)
    enroll = {"customer_id": customer["id"]}
    refused = stack.api.post("/v1/journeys/welcome/enroll", json=enroll, headers=org.headers())
    assert refused.status_code == 409
    assert stack.api.post("/v1/journeys/welcome/pause", headers=org.headers()).status_code == 409

    stack.api.post("/v1/journeys/welcome/resume", headers=org.headers())
    started = stack.api.post("/v1/journeys/welcome/enroll", json=enroll, headers=org.headers())
    assert started.status_code == 202, started.text
    wait_until(lambda: _runs(stack, org, step="pause"))
    assert _subjects(stack, org, customer) == ["hello"]  # nothing from the paused signup


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["steps"][0].update(template="missing"), "definition.steps.0.template"),
        (
            lambda d: d["steps"][0].update(next="tips"),
            "definition.steps.1",
        ),  # "pause" is unreachable
        (lambda d: d["steps"][2].update(next="hello"), None),  # hello→…→hello waits: allowed
        (
            lambda d: (d["steps"][0].update(next="tips"), d["steps"][2].update(next="hello")),
            "definition.steps",
        ),
        (
            lambda d: d["steps"].append(
                {"id": "fork", "type": "branch", "condition": {"tag": "x"}, "then": None}
            ),
            "definition.steps.3",
        ),
    ],
)
def test_saving_refuses_graphs_that_cannot_run_and_names_the_step(
    stack: Stack, org: Org, change: Any, field: str | None
) -> None:
    _templates(stack, org)
    definition = copy.deepcopy(WELCOME)
    change(definition)
    response = stack.api.post(
        "/v1/journeys", json={"key": "j", "definition": definition}, headers=org.headers()
    )
    if field is None:
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] and any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert stack.api.get("/v1/journeys/j", headers=org.headers()).status_code == 404


def test_a_loop_without_a_wait_is_refused(stack: Stack, org: Org) -> None:
    _templates(stack, org)
    definition = copy.deepcopy(WELCOME)
    definition["steps"][2]["next"] = "tag"
    definition["steps"].append({"id": "tag", "type": "update", "add_tags": ["a"], "next": "tips"})
    response = stack.api.post(
        "/v1/journeys", json={"key": "loop", "definition": definition}, headers=org.headers()
    )
    assert response.status_code == 422
    assert "loop with no wait" in response.json()["detail"]


def test_journeys_can_be_written_in_yaml_and_only_marketers_and_up_write_them(
    stack: Stack, org: Org
) -> None:
    _templates(stack, org)
    body = yaml.safe_dump({"key": "yaml-welcome", "definition": WELCOME})
    headers = {"Content-Type": "application/yaml"}
    for role in (Role.cashier, Role.sales):
        denied = stack.api.post("/v1/journeys", content=body, headers=org.headers(role) | headers)
        assert denied.status_code == 403
    created = stack.api.post(
        "/v1/journeys", content=body, headers=org.headers(Role.marketing) | headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["draft"]["steps"][1]["duration"] == "P3D"
    broken = stack.api.post("/v1/journeys", content=b"key: [", headers=org.headers() | headers)
    assert broken.status_code == 422
    schema = stack.api.get("/v1/journeys/schema", headers=org.headers()).json()
    assert "steps" in schema["properties"]


def test_journeys_apply_creates_then_versions_a_file_from_git(
    stack: Stack, org: Org, tmp_path: Path
) -> None:
    _templates(stack, org)
    path = tmp_path / "welcome.yaml"
    path.write_text(yaml.safe_dump({"key": "welcome", "definition": WELCOME}))
    env = {
        **os.environ,
        "HERALD_API_URL": str(stack.api.base_url),
        "HERALD_API_KEY": org.keys[Role.owner],
    }

    def apply() -> str:
        done = subprocess.run(
            [HERALD, "journeys", "apply", str(path)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "created, version 1" in apply()
    assert "unchanged, version 1" in apply()
    changed = copy.deepcopy(WELCOME)
    changed["steps"][1]["duration"] = "P5D"
    path.write_text(yaml.safe_dump({"key": "welcome", "definition": changed}))
    assert "published version 2" in apply()
    journey = stack.api.get("/v1/journeys/welcome", headers=org.headers()).json()
    assert journey["draft"]["steps"][1]["duration"] == "P5D"
    assert journey["current_version"] == 2 and not journey["unpublished_changes"]


def test_migrate_moves_waiting_runs_to_the_new_version_at_the_same_step(
    stack: Stack, org: Org
) -> None:
    customer, run = _waiting_in_pause(stack, org)

    changed = copy.deepcopy(WELCOME)  # v2: after the pause, "hello" again instead of "tips"
    changed["steps"][1]["next"] = "again"
    changed["steps"][2]["template"] = "tips"
    changed["steps"].insert(
        2, {"id": "again", "type": "send", "channel": "email", "template": "hello", "next": None}
    )
    changed["steps"].pop()  # "tips" is gone in v2
    _publish_v2(stack, org, changed)

    moved = stack.api.post("/v1/journeys/welcome/migrate", json={}, headers=org.headers())
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"version": 2, "migrated": 1, "refused": {}}
    assert _run(stack, org, run["workflow_id"])["progress"]["version"] == 2
    again = stack.api.post("/v1/journeys/welcome/migrate", json={}, headers=org.headers()).json()
    assert again["migrated"] == 0  # nothing left on v1

    stack.api.post(f"/v1/runs/{run['workflow_id']}/skip-wait", headers=org.headers())
    done = wait_until(
        lambda: (r := _run(stack, org, run["workflow_id"]))["status"] == "completed" and r
    )
    assert done["result"]["version"] == 2
    assert _subjects(stack, org, customer) == ["hello", "hello"]  # v2's path, not v1's "tips"


SIMULATED: dict[str, Any] = {
    "name": "Simulated",
    "trigger": {"event": "customer.signed_up"},
    "steps": [
        {"id": "hello", "type": "send", "channel": "email", "template": "hello", "next": "pause"},
        {"id": "pause", "type": "wait", "duration": "P2D", "next": "vip"},
        {"id": "vip", "type": "branch", "condition": {"tag": "vip"}, "then": "offer", "else": None},
        {"id": "offer", "type": "send", "channel": "email", "template": "tips", "next": "order"},
        {
            "id": "order",
            "type": "wait_for_event",
            "event": "order.paid",
            "timeout": "P7D",
            "on_event": "thanks",
            "on_timeout": None,
        },
        {"id": "thanks", "type": "send", "channel": "email", "template": "hello", "next": None},
    ],
}


def test_simulation_shows_what_would_go_out_when_and_sends_nothing(stack: Stack, org: Org) -> None:
    _templates(stack, org)
    created = stack.api.post(
        "/v1/journeys", json={"key": "sim", "definition": SIMULATED}, headers=org.headers()
    )
    assert created.status_code == 201  # a draft: simulation needs no publishing
    body = {
        "customer": {"name": "Sam Lee", "tags": ["vip"]},
        "events": [{"after": "P4D", "type": "order.paid", "properties": {"order_id": "9"}}],
    }
    response = stack.api.post("/v1/journeys/sim/simulate", json=body, headers=org.headers())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "completed"
    sent = [(m["step"], m["content"]["subject"], m["after"]) for m in result["messages"]]
    assert [(step, subject) for step, subject, _ in sent] == [
        ("hello", "hello Sam"),
        ("offer", "tips Sam"),
        ("thanks", "hello Sam"),
    ]
    days = [TypeAdapter(timedelta).validate_python(after) / timedelta(days=1) for *_, after in sent]
    assert [round(d, 3) for d in days] == [0, 2, 4]

    regular = create_customer(stack, org, name="Kai Berg")
    plain = stack.api.post(
        "/v1/journeys/sim/simulate", json={"customer_id": regular["id"]}, headers=org.headers()
    ).json()
    assert [m["content"]["subject"] for m in plain["messages"]] == ["hello Kai"]
    assert any("condition not met" in e["what"] for e in plain["timeline"])

    # Nothing was sent, nobody was enrolled, no sample profile was left behind.
    assert stack.api.get("/v1/outbox", headers=org.headers()).json()["items"] == []
    stats = stack.api.get("/v1/journeys/sim/stats", headers=org.headers()).json()
    assert stats["entered"] == 0
    customers = stack.api.get("/v1/customers", headers=org.headers()).json()["items"]
    assert [c["name"] for c in customers] == ["Kai Berg"]
    both = {"customer_id": regular["id"], "customer": {"name": "x"}}
    assert (
        stack.api.post("/v1/journeys/sim/simulate", json=both, headers=org.headers()).status_code
        == 422
    )


def test_a_run_whose_step_is_gone_in_the_new_version_stays_where_it_is(
    stack: Stack, org: Org
) -> None:
    _, run = _waiting_in_pause(stack, org)
    shorter = copy.deepcopy(WELCOME)
    shorter["steps"] = [{**WELCOME["steps"][0], "next": None}]  # v2 has no "pause"
    _publish_v2(stack, org, shorter)

    moved = stack.api.post("/v1/journeys/welcome/migrate", json={}, headers=org.headers()).json()
    assert moved["migrated"] == 0
    assert "'pause' is not in version 2" in moved["refused"][run["workflow_id"]]
    detail = _run(stack, org, run["workflow_id"])
    assert (detail["status"], detail["progress"]["version"]) == ("running", 1)


def _dispatched(stack: Stack, org: Org, event: dict[str, Any]) -> None:
    posted = stack.api.post("/v1/events", json=event, headers=org.headers())
    assert posted.status_code == 202, posted.text
    [accepted] = posted.json()["events"]
    wait_until(
        lambda: stack.api.get(f"/v1/events/{accepted['id']}", headers=org.headers()).json()[
            "dispatched_at"
        ]
    )


async def test_a_run_under_the_retired_id_scheme_keeps_getting_its_events(
    stack: Stack, org: Org
) -> None:
    _templates(stack, org)
    _journey(stack, org, WELCOME)
    customer = create_customer(stack, org)
    customer_id = uuid.UUID(customer["id"])
    legacy = legacy_journey_id(org.id, "welcome", customer_id)
    # A run an earlier Herald started, under "journey/<organization>/<key>/<customer>".
    with stack.db.session(org.id) as session:
        start = journey_start(
            get_journey(session, "welcome"),
            customer_id,
            JourneyEvent(
                id=uuid.uuid4(), type="customer.signed_up", properties={}, occurred_at=utcnow()
            ),
        )
    client = await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    old = replace(start, workflow_id=legacy.workflow_id, legacy=None)
    await start_run(client, stack.env["HERALD_TASK_QUEUE"], old)
    wait_until(lambda: _run(stack, org, legacy.workflow_id)["step"] == "pause")

    # Another signup would start the journey (signal-with-start): the old run hears it, and
    # no second run starts beside it under the new id.
    _dispatched(stack, org, {"type": "customer.signed_up", "customer": {"id": customer["id"]}})
    new_id = journey_workflow_id(org.id, "welcome", customer_id)
    assert stack.api.get(f"/v1/runs/{new_id}", headers=org.headers()).status_code == 404
    # An exit event is a plain signal to the new id, which no run has: the old run gets it.
    _dispatched(stack, org, {"type": "customer.unsubscribed", "customer": {"id": customer["id"]}})
    ended = wait_until(
        lambda: (r := _run(stack, org, legacy.workflow_id))["status"] == "completed" and r
    )
    assert ended["result"]["reason"] == "exit event: customer.unsubscribed"
    assert _subjects(stack, org, customer) == ["hello"]


def test_a_marketer_drafts_a_journey_that_awards_points_and_a_manager_publishes_it(
    stack: Stack, org: Org
) -> None:
    """Marketing may not adjust points or edit profiles by hand, so it may not set a journey
    doing so running for every customer either."""
    _templates(stack, org)
    generous = {
        "name": "Generous",
        "trigger": {"event": "customer.signed_up"},
        "steps": [
            {"id": "gift", "type": "award_points", "points": 1000, "reason": "hi", "next": "tag"},
            {"id": "tag", "type": "update", "add_tags": ["gifted"], "next": None},
        ],
    }
    marketing = org.headers(Role.marketing)
    created = stack.api.post(
        "/v1/journeys", json={"key": "generous", "definition": generous}, headers=marketing
    )
    assert created.status_code == 201, created.text
    refused = stack.api.post("/v1/journeys/generous/publish", headers=marketing)
    assert refused.status_code == 403
    assert "gift, tag" in refused.json()["detail"]
    shown = stack.api.get("/v1/journeys/generous", headers=marketing).json()
    assert shown["current_version"] is None and shown["status"] == "draft"
    published = stack.api.post("/v1/journeys/generous/publish", headers=org.headers(Role.manager))
    assert published.status_code == 200 and published.json()["current_version"] == 1
