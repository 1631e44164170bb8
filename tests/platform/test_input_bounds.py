"""Inputs that would make the API work without bound are refused with a 422: aliases that
expand a small YAML body a billionfold, rule trees too deep or too large, segments naming
segments until the SQL has millions of conditions."""

from __future__ import annotations

import time
from typing import Any

from tests.support import Org, Stack


def _yaml_bomb() -> str:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "key: bomb\ndefinition:\n  name: Bomb\n  steps: []\n" + "\n".join(levels) + "\n"


def test_a_yaml_journey_whose_aliases_explode_is_refused_at_once(stack: Stack, org: Org) -> None:
    """488 bytes of aliases once took the API 12 s and ~950 MB."""
    body = _yaml_bomb()
    assert len(body) < 500
    started = time.monotonic()
    response = stack.api.post(
        "/v1/journeys",
        content=body,
        headers={**org.headers(), "Content-Type": "application/yaml"},
    )
    assert response.status_code == 422, response.text
    assert "aliases" in response.json()["detail"]
    assert time.monotonic() - started < 1
    loop = "key: loop\ndefinition: &d {name: Loop, steps: [*d]}\n"
    response = stack.api.post(
        "/v1/journeys", content=loop, headers={**org.headers(), "Content-Type": "application/yaml"}
    )
    assert response.status_code == 422, response.text


def _nested(depth: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"tag": "vip"}
    for _ in range(depth):
        rule = {"not": rule}
    return rule


def test_rule_trees_are_bounded_in_depth_and_size(stack: Stack, org: Org) -> None:
    ok = stack.api.post("/v1/segments/preview", json={"rule": _nested(10)}, headers=org.headers())
    assert ok.status_code == 200, ok.text
    for rule, words in [
        (_nested(13), "levels deep"),
        (_nested(900), "levels deep"),
        ({"any": [{"tag": f"t{i}"} for i in range(400)]}, "at most 300"),
    ]:
        response = stack.api.post(
            "/v1/segments/preview", json={"rule": rule}, headers=org.headers()
        )
        assert response.status_code == 422, response.text
        assert words in response.text
    # Deeper than any JSON parser will follow: still a client error, not a crash.
    deep = '{"rule": ' + '{"not": ' * 5000 + '{"tag": "vip"}' + "}" * 5001
    response = stack.api.post(
        "/v1/segments/preview",
        content=deep,
        headers={**org.headers(), "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text


def test_segments_naming_segments_cannot_multiply_past_the_budget(stack: Stack, org: Org) -> None:
    wide = {"key": "wide", "name": "Wide", "rule": {"any": [{"tag": f"t{i}"} for i in range(299)]}}
    assert stack.api.post("/v1/segments", json=wide, headers=org.headers()).status_code == 201
    fits = {"key": "six", "name": "Six", "rule": {"any": [{"segment": "wide"}] * 6}}
    assert stack.api.post("/v1/segments", json=fits, headers=org.headers()).status_code == 201
    many = {"key": "seven", "name": "Seven", "rule": {"any": [{"segment": "wide"}] * 7}}
    response = stack.api.post("/v1/segments", json=many, headers=org.headers())
    assert response.status_code == 422, response.text
    assert "segments it names" in response.json()["detail"]


FUZZ_FINDINGS = [
    # Each once answered 500; found by tests/platform/test_fuzz.py.
    ("GET", "/v1/journeys/%C3%BB%F3%8E%AD%87/runs", None, 422),
    ("GET", "/v1/inquiries?offset=4877526244980382475747328", None, 422),
    ("GET", "/v1/runs?cursor=journey_versions", None, 422),
    ("POST", "/v1/segments/preview", {"rule": {"attribute": '\\"[\u0000', "op": "in"}}, 422),
    ("POST", "/v1/segments/preview", {"rule": {"orders": "days_since_last", "value": -1e16}}, 422),
    ("POST", "/v1/segments/preview", {"rule": {"profile": "created_at", "op": "before"}}, 422),
    ("POST", "/v1/segments/preview", {"rule": {"profile": "name", "op": "gte"}}, 422),
    ("POST", "/v1/segments/preview", {"rule": {"profile": "created_at", "value": [True]}}, 422),
    (
        "POST",
        "/v1/segments/preview",
        {"rule": {"attribute": "size", "op": "in", "value": [1, "M", True]}},
        422,
    ),
    (
        "POST",
        "/v1/loyalty/rewards",
        {"name": "Mug", "kind": "custom", "cost_points": 10, "per_customer_limit": 10**30},
        422,
    ),
    (
        "POST",
        "/v1/segments",
        {"key": "readers", "name": "Readers", "rule": {"newsletter": "subscribed", "topic": None}},
        201,
    ),
]


def test_what_the_fuzz_found_is_answered_as_the_client_s_mistake(stack: Stack, org: Org) -> None:
    for method, path, body, status in FUZZ_FINDINGS:
        response = stack.api.request(method, path, json=body, headers=org.headers())
        assert response.status_code == status, (method, path, response.text)
    stored = stack.api.get("/v1/segments/readers", headers=org.headers())
    assert stored.status_code == 200, stored.text
    assert stored.json()["rule"]["newsletter"] == "subscribed"
