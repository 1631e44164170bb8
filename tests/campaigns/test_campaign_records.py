"""A marketer's records of campaigns: emails designed from blocks, duplicates, the archive,
the list's filters and rates, and the audience's size before a send."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from herald.access.models import Role
from tests.campaigns.test_campaigns import _audience, _campaign, _settings
from tests.support import Org, Stack, wait_until

pytestmark = pytest.mark.dialects

DESIGN = {
    "preheader": "Sale starts now",
    "blocks": [
        {"type": "heading", "text": "Hello {{ customer.first_name or 'there' }}"},
        {"type": "text", "text": "Prices <down> & more.\n\n[See the sale](https://shop.test/sale)"},
        {
            "type": "columns",
            "columns": [
                [{"type": "button", "label": "Shop", "href": "https://shop.test/"}],
                [
                    {
                        "type": "products",
                        "products": [
                            {"name": "Mug", "price": "€12.00", "url": "https://shop.test/m"}
                        ],
                    }
                ],
            ],
        },
    ],
}


def _post(stack: Stack, org: Org, path: str, body: Any = None, role: Role = Role.marketing) -> Any:
    return stack.api.post(path, json=body, headers=org.headers(role))


def test_an_email_designed_from_blocks_is_stored_as_responsive_html_and_text(
    stack: Stack, org: Org
) -> None:
    body = {
        "key": "sale",
        "name": "Sale",
        "channel": "email",
        "default_locale": "en",
        "variants": {"en": {"subject": "Sale", "design": DESIGN}},
    }
    created = _post(stack, org, "/v1/templates", body)
    assert created.status_code == 201, created.text
    content = created.json()["variants"]["en"]
    assert content["design"]["blocks"][0]["type"] == "heading"  # kept, to edit again
    html = content["html"]
    assert "@media (max-width:620px)" in html and 'class="herald-col"' in html
    assert "Prices &lt;down&gt; &amp; more." in html
    assert '<a href="https://shop.test/sale"' in html
    assert "See the sale (https://shop.test/sale)" in content["text"]
    assert "Mug €12.00 https://shop.test/m" in content["text"]

    preview = _post(
        stack,
        org,
        f"/v1/templates/{created.json()['id']}/preview",
        {"sample": {"customer": {"first_name": "<Ann>"}}},
    ).json()
    assert "Hello &lt;Ann&gt;" in preview["content"]["html"]  # the token rendered, escaped
    assert "design" not in preview["content"]  # never sent

    broken = {**body, "key": "broken"}
    broken["variants"] = {"en": {"subject": "x", "design": {"blocks": [{"type": "button"}]}}}
    refused = _post(stack, org, "/v1/templates", broken)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"].startswith("variants.en.design.blocks.0")


def test_a_duplicate_is_a_draft_with_its_own_templates(stack: Stack, org: Org) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 3)
    original = _campaign(stack, org, key="spring", ab={"metric": "open"})
    copy = _post(stack, org, "/v1/campaigns/spring/duplicate")
    assert copy.status_code == 201, copy.text
    shown = copy.json()
    assert shown["key"] == "spring-copy" and shown["status"] == "draft"
    assert shown["name"] == "Spring collection (copy)"
    assert shown["audience"] == original["audience"] and shown["ab"]["metric"] == "open"
    assert [v["template"] for v in shown["variants"]] == ["spring-copy-a", "spring-copy-b"]
    again = _post(stack, org, "/v1/campaigns/spring/duplicate").json()
    assert again["key"] == "spring-copy-2"
    # The copy's template changes; the original's does not.
    templates = stack.api.get("/v1/templates", headers=org.headers()).json()["items"]
    by_key = {t["key"]: t for t in templates}
    change = {"variants": {"en": {"subject": "Changed", "html": "<p>new</p>"}}}
    stack.api.patch(
        f"/v1/templates/{by_key['spring-copy-a']['id']}", json=change, headers=org.headers()
    )
    original_a = stack.api.get(f"/v1/templates/{by_key['spring-a']['id']}", headers=org.headers())
    assert original_a.json()["variants"]["en"]["subject"] == "Spring is here"


def test_archived_campaigns_leave_the_list_and_come_back_as_they_were(
    stack: Stack, org: Org
) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 3)
    draft = _campaign(stack, org, key="draft-one")
    sent = _campaign(stack, org, key="sent-one", variants=[{"name": "A", "template": "spring-a"}])
    assert _post(stack, org, "/v1/campaigns/sent-one/send").status_code == 202
    wait_until(lambda: _status(stack, org, "sent-one") == "completed")
    running_later = _campaign(
        stack, org, key="later", send_at=(datetime.now(UTC) + timedelta(days=1)).isoformat()
    )
    _post(stack, org, "/v1/campaigns/later/send")
    refused = _post(stack, org, "/v1/campaigns/later/archive")
    assert refused.status_code == 409 and "scheduled" in refused.json()["detail"]

    for campaign in (draft, sent):
        archived = _post(stack, org, f"/v1/campaigns/{campaign['key']}/archive")
        assert archived.status_code == 200 and archived.json()["status"] == "archived"
    listed = _keys(stack, org)
    assert listed == ["later"]
    assert _keys(stack, org, status="archived") == ["sent-one", "draft-one"]
    analytics = stack.api.get("/v1/campaigns/sent-one/analytics", headers=org.headers()).json()
    assert analytics["variants"][0]["sent"] == 3  # results are kept
    assert _post(stack, org, "/v1/campaigns/sent-one/send").status_code == 409
    restored = _post(stack, org, "/v1/campaigns/sent-one/unarchive").json()
    assert restored["status"] == "completed" and restored["archived_from"] is None
    assert _post(stack, org, "/v1/campaigns/draft-one/unarchive").json()["status"] == "draft"
    assert set(_keys(stack, org)) == {"later", "sent-one", "draft-one", running_later["key"]}
    assert (
        _post(stack, org, "/v1/campaigns/draft-one/archive", role=Role.cashier).status_code == 403
    )


def _status(stack: Stack, org: Org, key: str) -> str:
    return str(stack.api.get(f"/v1/campaigns/{key}", headers=org.headers()).json()["status"])


def _keys(stack: Stack, org: Org, **params: str) -> list[str]:
    response = stack.api.get("/v1/campaigns", params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return [c["key"] for c in response.json()["items"]]


def test_the_list_filters_by_channel_and_date_and_shows_each_campaigns_rates(
    stack: Stack, org: Org
) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 4)
    _campaign(stack, org, key="sent", variants=[{"name": "A", "template": "spring-a"}])
    _post(stack, org, "/v1/campaigns/sent/send")
    wait_until(lambda: _status(stack, org, "sent") == "completed")
    in_march = _campaign(stack, org, key="march", send_at="2031-03-10T09:00:00+00:00")
    assert in_march["status"] == "draft"
    listed = stack.api.get("/v1/campaigns", headers=org.headers()).json()["items"]
    summary = {c["key"]: c["summary"] for c in listed}
    assert summary["march"] is None  # nothing sent yet
    assert summary["sent"]["sent"] == 4 and summary["sent"]["opened"]["rate"] == 0.0
    assert _keys(stack, org, since="2031-03-01T00:00:00Z", until="2031-04-01T00:00:00Z") == [
        "march"
    ]
    assert _keys(stack, org, channel="sms") == []
    bad = stack.api.get("/v1/campaigns", params={"channel": "fax"}, headers=org.headers())
    assert bad.status_code == 422


def test_the_audience_size_is_counted_before_the_send(stack: Stack, org: Org) -> None:
    ids = _audience(stack, stack.db, org, 7)
    size = _post(stack, org, "/v1/campaigns/audience-size", {"segment": "readers"})
    assert size.status_code == 200 and size.json() == {"customers": 7}
    listed = {"customers": [str(i) for i in ids[:2]]}
    assert _post(stack, org, "/v1/campaigns/audience-size", listed).json() == {"customers": 2}
    unknown = _post(stack, org, "/v1/campaigns/audience-size", {"segment": "nope"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "audience.segment"
    stranger = {"customers": [str(uuid.uuid4())]}
    assert _post(stack, org, "/v1/campaigns/audience-size", stranger).status_code == 422


def test_the_report_export_has_a_row_per_variant(stack: Stack, org: Org) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 2)
    _campaign(stack, org, key="two")
    _post(stack, org, "/v1/campaigns/two/send")
    wait_until(lambda: _status(stack, org, "two") == "completed")
    report = stack.api.get("/v1/campaigns/two/report.csv", headers=org.headers())
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [r["variant"] for r in rows] == ["A", "B"]
    assert sum(int(r["sent"]) for r in rows) == 2
    assert rows[0]["opened_rate"] in ("0.0000", "")
