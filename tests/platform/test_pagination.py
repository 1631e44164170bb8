"""Lists that grow come in cursor pages: every row once, in order, whatever the page size."""

from __future__ import annotations

from typing import Any

from tests.support import Org, Stack


def _all_pages(stack: Stack, org: Org, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = stack.api.get(path, params=params, headers=org.headers())
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_suppressions_and_templates_page_through_every_row_once(stack: Stack, org: Org) -> None:
    for i in range(5):
        added = stack.api.post(
            "/v1/suppressions",
            json={"channel": "email", "address": f"gone{i}@example.com"},
            headers=org.headers(),
        )
        assert added.status_code == 201, added.text
        template = {
            "key": f"t-{i}",
            "name": f"T {i}",
            "channel": "sms",
            "default_locale": "en",
            "variants": {"en": {"body": "Hello"}},
        }
        created = stack.api.post("/v1/templates", json=template, headers=org.headers())
        assert created.status_code == 201, created.text

    pages = _all_pages(stack, org, "/v1/suppressions", limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    addresses = [s["address"] for page in pages for s in page]
    assert addresses == [f"gone{i}@example.com" for i in reversed(range(5))]  # newest first

    keys = [t["key"] for page in _all_pages(stack, org, "/v1/templates", limit=3) for t in page]
    assert keys == [f"t-{i}" for i in range(5)]  # by key


def test_a_bad_cursor_or_limit_is_a_422(stack: Stack, org: Org) -> None:
    for params in ({"cursor": "not-a-cursor"}, {"limit": 201}, {"limit": 0}):
        response = stack.api.get("/v1/suppressions", params=params, headers=org.headers())
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
