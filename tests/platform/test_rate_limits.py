"""Budgets are counted per client address as a trusted proxy reports it, and only then: a bot
behind the proxy exhausts its own budget, not every visitor's; a client that merely claims an
address in X-Forwarded-For gains nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from herald.access.models import Role
from herald.database import Database
from herald.devserver import wait_for_port
from herald.errors import TooManyRequests
from herald.ratelimits import RateLimits
from tests.support import Org, Stack, api_process


def _subscribe(client: httpx.Client, org: Org, forwarded_for: str) -> int:
    response = client.post(
        f"/v1/public/{org.slug}/newsletter",
        json={"email": f"reader-{forwarded_for}@example.com"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def test_behind_a_trusted_proxy_each_visitor_has_a_budget(
    stack: Stack, org: Org, tmp_path: Path
) -> None:
    api, base_url = api_process({**stack.env, "HERALD_TRUSTED_PROXIES": "127.0.0.1"}, tmp_path)
    api.start()
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        with httpx.Client(base_url=base_url, timeout=30) as client:
            bot = [_subscribe(client, org, "203.0.113.9") for _ in range(25)]
            assert bot[0] == 202 and bot[-1] == 429
            assert _subscribe(client, org, "198.51.100.4") == 202  # a person behind the proxy
    finally:
        api.stop()


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(stack: Stack, org: Org) -> None:
    codes = [_subscribe(stack.api, org, f"203.0.113.{i}") for i in range(25)]
    assert codes[0] == 202 and codes[-1] == 429  # one client, whatever it claims


def test_test_sends_are_rate_limited_per_organization(
    stack: Stack, org: Org, other_org: Org
) -> None:
    template = {
        "key": "ping",
        "name": "Ping",
        "channel": "sms",
        "category": "transactional",
        "default_locale": "en",
        "variants": {"en": {"body": "ping"}},
    }
    ids = {}
    for shop in (org, other_org):
        created = stack.api.post("/v1/templates", json=template, headers=shop.headers())
        assert created.status_code == 201, created.text
        ids[shop.slug] = created.json()["id"]

    def send(shop: Org, role: Role = Role.owner) -> int:
        return stack.api.post(
            f"/v1/templates/{ids[shop.slug]}/test-send",
            json={"to": "+14155550123"},
            headers=shop.headers(role),
        ).status_code

    assert send(org, Role.cashier) == 403  # refused callers spend nothing
    codes = [send(org) for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429
    assert send(other_org) == 200


def test_a_budget_counts_the_same_in_the_database_and_in_another_limits_storage(
    db: Database,
) -> None:
    """The default keeps counters in Herald's database; HERALD_RATE_LIMIT_STORAGE may name any
    storage the limits library knows (redis://... in production; memory:// here)."""
    for limits in (RateLimits.of("", db.engine), RateLimits.of("memory://", db.engine)):
        visitor = uuid.uuid4().hex
        for _ in range(3):
            limits.spend("3/minute", "probe", visitor)
        with pytest.raises(TooManyRequests):
            limits.spend("3/minute", "probe", visitor)
        limits.spend("3/minute", "probe", uuid.uuid4().hex)  # someone else's budget
