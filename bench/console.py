"""The console's pages and fragments at scale: server time per route, and the JavaScript each
page loads.

    python bench/console.py [--quick] [--customers N] [--requests R]

On PostgreSQL from HERALD_BENCH_DATABASE_URL (default: the local `test` database), the
organization `bench/customers.py` fills (1,000,000 customers, two orders each on average;
100,000 with --quick), written on the first run and reused after. Herald's API process serves
the console as in production; a staff owner signs in and each page, then each fragment a page
loads, is asked R times (50) over one keep-alive connection, as a browser does. The time is
the request's round trip on loopback: the server's time, with no network to speak of.

Report fragments load after their page behind an indicator and keep their own issues' targets:
the customer statistics (`stats_s` in bench/customers.py), the segment builder's live count and
two segments' comparison (`preview_s` in bench/segments.py); they are shown, not counted in
``max_p99_ms``. The bench's organization gets two saved segments and a draft campaign to the
second (written once) for the segment and campaign pages. Prints a table and, last, one JSON
line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.customers import counts, seed  # noqa: E402
from bench.stack import bench_organization, running_herald  # noqa: E402
from herald.access.models import Role, User  # noqa: E402
from herald.access.service import create_user  # noqa: E402
from herald.campaigns import service as campaigns  # noqa: E402
from herald.campaigns.models import Campaign  # noqa: E402
from herald.campaigns.schemas import Audience, CampaignStart  # noqa: E402
from herald.customers.models import Customer  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.messaging.models import Channel  # noqa: E402
from herald.segments import service as segments  # noqa: E402
from herald.segments.models import Segment  # noqa: E402
from herald.segments.schemas import SegmentIn  # noqa: E402
from herald.staff.service import give_password  # noqa: E402

PASSWORD = "bench console passphrase"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SCRIPT = re.compile(r'<script src="([^"]+)"')
# Fragments a page loads after it, with their own (report) targets: shown, not counted.
REPORTS = {"/customers/stats", "/customers/segments/preview", "/customers/segments/compare/figures"}
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# Saved segments of the bench's organization (key, name, rule): a filter-like one and a spend one.
SEGMENTS = [
    (
        "bench-de-repeat",
        "Repeat buyers in Germany",
        {
            "all": [
                {"profile": "country", "op": "eq", "value": "DE"},
                {"orders": "count", "op": "gte", "value": 2},
            ]
        },
    ),
    ("bench-big", "Big spenders", {"orders": "total_spent", "op": "gt", "value": 500}),
]
# The builder's live count as the page sends it (the first segment's rule, as form fields).
PREVIEW_FORM = {
    "r.node": "all",
    "r.0.node": "profile",
    "r.0.profile": "country",
    "r.0.op": "eq",
    "r.0.value": "DE",
    "r.1.node": "orders",
    "r.1.orders": "count",
    "r.1.op": "gte",
    "r.1.value": "2",
}


def owner(db: Database, org_id: uuid.UUID) -> str:
    email = "bench-owner@bench.example"
    with db.session(org_id) as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(session, email, Role.owner)
        if user.password_hash is None:
            give_password(session, user.id, PASSWORD)
    return email


def saved_segments(db: Database, org_id: uuid.UUID) -> None:
    """The bench's segments, each with today's size recorded (what the list shows)."""
    today = datetime.now(UTC).date()
    with db.session(org_id) as session:
        for key, name, rule in SEGMENTS:
            found = session.scalar(select(Segment).where(Segment.key == key))
            if found is None:
                data = SegmentIn.model_validate({"key": key, "name": name, "rule": rule})
                found = segments.create_segment(session, data)
            segments.record_size(session, found.id, today)


# A draft campaign of the bench's organization, to the big spenders, for the campaign pages.
CAMPAIGN = "bench-spring"


def draft_campaign(db: Database, org_id: uuid.UUID) -> None:
    with db.session(org_id) as session:
        if session.scalar(select(Campaign.id).where(Campaign.key == CAMPAIGN)) is None:
            start = CampaignStart(
                name="Bench spring",
                channel=Channel.email,
                audience=Audience(segment=SEGMENTS[1][0]),
                starter="promotional",
            )
            campaigns.start_campaign(session, start)


def a_buyer(db: Database, org_id: uuid.UUID) -> uuid.UUID:
    with db.session(org_id) as session:
        found = session.scalar(
            select(Customer.id).where(Customer.orders_count >= 3).order_by(Customer.id).limit(1)
        )
    assert found is not None
    return found


class SignedIn:
    """A browser's session over one keep-alive connection (cookies kept by hand: they are
    Secure, and this is plain HTTP on loopback)."""

    def __init__(self, base_url: str, email: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.cookies: dict[str, str] = {}
        page = self.get("/sign-in")
        token = CSRF.search(page.text)
        assert token
        answer = self.request(
            "POST",
            "/sign-in",
            data={"email": email, "password": PASSWORD, "next": "/", "csrf_token": token.group(1)},
        )
        assert answer.status_code == 303, answer.text

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.cookies.update(response.cookies.items())
        return response

    def get(self, path: str, fragment_of: str | None = None) -> httpx.Response:
        headers = {"HX-Request": "true", "HX-Target": fragment_of} if fragment_of else {}
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fragment_of: str, form: dict[str, str], csrf: str) -> httpx.Response:
        headers = {"HX-Request": "true", "HX-Target": fragment_of, "X-CSRF-Token": csrf}
        return self.request("POST", path, headers=headers, data=form)


def routes(customer_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    """(name, path, the element a fragment is swapped into or None for a full page)."""
    profile = f"/customers/{customer_id}"
    segment = f"/customers/segments/{SEGMENTS[0][0]}"
    pair = f"a={SEGMENTS[0][0]}&b={SEGMENTS[1][0]}"
    campaign = f"/marketing/campaigns/{CAMPAIGN}"
    return [
        ("sign-in", "/sign-in", None),
        ("home", "/", None),
        ("customers", "/customers", None),
        ("customers (search)", "/customers?q=Person%2012345", "customer-table"),
        ("customers (search, common term)", "/customers?q=person", "customer-table"),
        (
            "customers (country, by value)",
            "/customers?country=DE&sort=-lifetime_value",
            "customer-table",
        ),
        (
            "customers (orders 2+, last purchase)",
            "/customers?min_orders=2&sort=-last_order",
            "customer-table",
        ),
        ("/customers/stats", "/customers/stats", "stats"),
        ("customers/{id}", profile, None),
        ("customers/{id}/timeline", f"{profile}/timeline", "timeline"),
        ("customers/segments", "/customers/segments", None),
        ("customers/segments/{key}", segment, None),
        ("customers/segments/{key}/members (next)", f"{segment}/members", "more-members"),
        ("customers/segments/compare", f"/customers/segments/compare?{pair}", None),
        (
            "customers/segments/compare/figures",
            f"/customers/segments/compare/figures?{pair}",
            "compare-figures",
        ),
        ("marketing/campaigns", "/marketing/campaigns", None),
        ("marketing/campaigns (calendar)", "/marketing/campaigns?view=calendar", None),
        ("marketing/campaigns/new", "/marketing/campaigns/new", None),
        ("marketing/campaigns/{key}/edit", f"{campaign}/edit", None),
        (
            "marketing/campaigns/{key}/variants/A/preview",
            f"{campaign}/variants/A/preview",
            "preview",
        ),
        ("marketing/campaigns/{key}", campaign, None),
        ("marketing/loyalty", "/marketing/loyalty", None),
        ("marketing/loyalty (members)", "/marketing/loyalty?tab=members", None),
        ("marketing/loyalty (tiers)", "/marketing/loyalty?tab=tiers", None),
        ("marketing/newsletter", "/marketing/newsletter", None),
        ("inquiries", "/inquiries", None),
        ("settings/organization", "/settings/organization", None),
        ("settings/messaging", "/settings/messaging", None),
        ("settings/users", "/settings/users", None),
        ("settings/keys", "/settings/keys", None),
        ("settings/security", "/settings/security", None),
    ]


def key_of(name: str) -> str:
    route = name.split(" (")[0].strip("/") or "home"
    variant = name.split(" (")[1].rstrip(")") if " (" in name else ""
    key = re.sub(r"[{}]", "", route).replace("/", "_").replace("-", "_")
    if variant:
        key += "_" + re.sub(r"[^a-z0-9]+", "_", variant.lower()).strip("_")
    return f"{key}_p99_ms"


def js_kb(client: SignedIn, html: str) -> float:
    """The page's JavaScript as a browser downloads it compressed (gzip -9), in KB."""
    total = 0
    for src in SCRIPT.findall(html):
        body = client.get(src).content
        total += len(gzip.compress(body, compresslevel=9))
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 customers, not 1,000,000")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    total = args.customers or (100_000 if args.quick else 1_000_000)
    console = Console(stderr=True)
    db, org_id = bench_organization(f"bench-customers-{total}", f"Customer bench {total}")
    seed(db, org_id, total, console)
    customers, _ = counts(db, org_id)
    email = owner(db, org_id)
    saved_segments(db, org_id)
    draft_campaign(db, org_id)
    customer_id = a_buyer(db, org_id)
    db.dispose()

    results: dict[str, Any] = {}
    table = Table(title=f"console pages and fragments, {customers:,} customers")
    for column in ("route", "kind", "p50 ms", "p99 ms", "JS KB (gzip)"):
        table.add_column(column, justify="left" if column in ("route", "kind") else "right")
    js_max = 0.0
    counted: list[float] = []
    with running_herald(db.url) as stack:
        client = SignedIn(stack.base_url, email)
        page = client.get(f"/customers/segments/{SEGMENTS[0][0]}").text
        token = META_CSRF.search(page)
        assert token
        preview = partial(client.post, form=PREVIEW_FORM, csrf=token.group(1))
        asked: list[tuple[str, str, str | None, Callable[..., httpx.Response]]] = [
            (name, path, target, client.get) for name, path, target in routes(customer_id)
        ]
        # The builder's live count: a fragment the segment's page posts as it loads.
        after = next(i for i, a in enumerate(asked) if a[0] == "customers/segments/{key}") + 1
        asked.insert(
            after, ("customers/segments/preview", "/customers/segments/preview", "preview", preview)
        )
        for name, path, target, ask in asked:
            first = ask(path, target)
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            timings = []
            for _ in range(args.requests):
                started = time.perf_counter()
                answer = ask(path, target)
                timings.append(1000 * (time.perf_counter() - started))
                assert answer.status_code == 200
            timings.sort()
            p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))]
            kb = js_kb(client, first.text) if target is None else 0.0
            js_max = max(js_max, kb)
            report = path.split("?")[0] in REPORTS
            if not report:
                counted.append(p99)
            results[key_of(name)] = round(p99, 1)
            kind = "report fragment" if report else ("fragment" if target else "page")
            table.add_row(
                name,
                kind,
                f"{statistics.median(timings):.1f}",
                f"{p99:.1f}",
                f"{kb:.1f}" if target is None else "",
            )
    console.print(table)
    figures = {
        "customers": customers,
        "max_p99_ms": round(max(counted), 1),
        "js_kb_max": round(js_max, 1),
        **results,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
