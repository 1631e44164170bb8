"""Segments: rules against a known set of customers (the same members on SQLite and
PostgreSQL), and the segments API."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from herald.access.models import Role
from herald.customers.models import Customer
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.database import Database
from herald.events.schemas import CustomerRef, OrderPaidEvent, OrderRefundedEvent
from herald.events.service import record_events
from herald.loyalty.schemas import TierIn, TierLadderIn
from herald.loyalty.service import award_points
from herald.loyalty.tiers import put_ladder
from herald.messaging.audience import set_consent
from herald.messaging.models import ConsentStatus
from herald.messaging.schemas import ConsentIn
from herald.newsletter.models import Subscriber, SubscriberStatus
from herald.orders.models import Order
from herald.orders.schemas import OrderItemIn, OrderPaidProperties, OrderRefundedProperties
from herald.segments import service
from herald.segments.rules import RULE_ADAPTER, Rule, customer_matches
from herald.segments.service import TEMPLATES
from tests.support import Org, Stack
from tests.support import create_customer as api_customer

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

NOW = datetime.now(UTC)


def _person(
    db: Database,
    org: Org,
    name: str,
    *,
    orders: list[tuple[int, float]] = (),  # type: ignore[assignment]
    bought: str | None = None,
    joined_days_ago: int = 400,
    consent: bool = True,
    points: int = 0,
    **fields: Any,
) -> uuid.UUID:
    """A customer with paid orders (days ago, amount), the newest with one line of the product
    ``bought``, joined some days ago."""
    with db.session(org.id) as session:
        customer = create_customer(session, CustomerCreate(name=name, **fields))
        if consent:
            set_consent(session, customer.id, ConsentIn(email=ConsentStatus.granted))
        # Recorded as the API records them: the event and its order (in the reporting currency).
        record_events(
            session,
            [
                OrderPaidEvent(
                    type="order.paid",
                    customer=CustomerRef(id=customer.id),
                    occurred_at=NOW - timedelta(days=days_ago),
                    properties=OrderPaidProperties(
                        order_id=uuid.uuid4().hex,
                        amount=Decimal(str(amount)),
                        currency="USD",
                        items=[OrderItemIn(product_id=bought, unit_price=Decimal(str(amount)))]
                        if bought and place == 0
                        else [],
                    ),
                )
                for place, (days_ago, amount) in enumerate(orders)
            ],
        )
        session.execute(
            update(Customer)
            .where(Customer.id == customer.id)
            .values(created_at=NOW - timedelta(days=joined_days_ago))
        )
        session.commit()
        if points:
            # Points earned count towards the tier ladder like any award.
            award_points(session, customer.id, points, "import", uuid.uuid4().hex, {})
        return customer.id


def _members(db: Database, org: Org, rule: dict[str, Any]) -> set[str]:
    """The segment's members; a journey's branch, asking customer by customer, agrees."""
    with db.session(org.id) as session:
        parsed: Rule = RULE_ADAPTER.validate_python(rule)
        page = service.members(session, parsed, limit=1000, cursor=None)
        count = service.preview(session, parsed).count
        one_by_one = {
            c.name
            for c in session.scalars(select(Customer))
            if customer_matches(session, c.id, parsed, datetime.now(UTC))
        }
    assert count == len(page.items)
    assert one_by_one == {m.name for m in page.items}, rule
    return one_by_one


def test_rules_find_the_same_members_on_every_database(db: Database, org: Org) -> None:
    with db.session(org.id) as session:
        put_ladder(
            session,
            TierLadderIn(
                tiers=[
                    TierIn(name="Bronze", threshold=Decimal(0)),
                    TierIn(name="Gold", threshold=Decimal(1000)),
                ]
            ),
        )
    whale = _person(
        db,
        org,
        "whale",
        orders=[(10, 400.0), (40, 300.0)],
        bought="boots",
        tags=["vip"],
        locale="de",
        attributes={"visits": 12},
    )
    _person(db, org, "whale-no-consent", orders=[(5, 900.0)], consent=False)
    _person(
        db,
        org,
        "lapsed",
        orders=[(200, 50.0), (300, 70.0)],
        bought="boots",
        attributes={"city": "Lyon", "visits": 3},
    )
    _person(db, org, "one-old-order", orders=[(250, 20.0)])
    _person(db, org, "newbie", joined_days_ago=3, attributes={"city": "Paris"}, locale="fr")
    gold = _person(db, org, "gold", orders=[(1, 30.0)], points=1500, bought="boots")

    vip, at_risk, new, inactive = (t.rule.model_dump(by_alias=True) for t in TEMPLATES)
    assert _members(db, org, vip) == {"whale"}
    assert _members(db, org, at_risk) == {"lapsed"}
    assert _members(db, org, new) == {"newbie"}
    assert _members(db, org, inactive) == {"lapsed", "one-old-order", "newbie"}
    assert _members(db, org, {"tier": ["Gold"]}) == {"gold"}
    assert _members(db, org, {"orders": "average_value", "op": "gte", "value": 350}) == {
        "whale",
        "whale-no-consent",
    }
    assert _members(db, org, {"attribute": "city", "op": "in", "value": ["Lyon", "Paris"]}) == {
        "lapsed",
        "newbie",
    }
    assert _members(
        db, org, {"any": [{"tag": "vip"}, {"profile": "locale", "op": "eq", "value": "fr"}]}
    ) == {"whale", "newbie"}
    assert _members(
        db,
        org,
        {"all": [{"not": {"consent": "email"}}, {"orders": "count", "op": "gte", "value": 1}]},
    ) == {"whale-no-consent"}
    # Conditions that customers without any order pass.
    few_orders = {"whale-no-consent", "one-old-order", "newbie", "gold"}
    assert _members(db, org, {"orders": "count", "op": "lt", "value": 2}) == few_orders
    assert _members(db, org, {"performed": "order.paid", "at_least": 0, "at_most": 1}) == few_orders
    assert _members(db, org, {"performed": "order.paid", "at_least": 2}) == {"whale", "lapsed"}
    assert _members(db, org, {"orders": "total_spent", "op": "lte", "value": 20}) == {
        "one-old-order",
        "newbie",
    }
    # Over all orders, the figures the customer row keeps answer as the orders themselves do.
    for orders, op, value in (
        ("count", "gte", 2),
        ("total_spent", "gt", 100),
        ("days_since_last", "gte", 100),
    ):
        kept = {"orders": orders, "op": op, "value": value}
        assert _members(db, org, kept) == _members(db, org, {**kept, "within_days": 3650}), kept
    assert _members(db, org, {"orders": "days_since_last", "op": "gte", "value": 100}) == {
        "lapsed",
        "one-old-order",
    }
    # Between, first and last time, the newsletter.
    assert _members(db, org, {"attribute": "visits", "op": "between", "value": [2, 10]}) == {
        "lapsed"
    }
    recent = [(NOW - timedelta(days=10)).date().isoformat(), NOW.date().isoformat()]
    assert _members(db, org, {"profile": "created_at", "op": "between", "value": recent}) == {
        "newbie"
    }
    last_week = {"performed": "order.paid", "last": {"op": "lte", "days_ago": 7}}
    assert _members(db, org, last_week) == {"whale-no-consent", "gold"}
    long_ago = {"performed": "order.paid", "first": {"op": "gte", "days_ago": 200}}
    assert _members(db, org, long_ago) == {"lapsed", "one-old-order"}
    with db.session(org.id) as session:
        session.add(
            Subscriber(
                email="whale@example.com",
                status=SubscriberStatus.subscribed,
                topics=["news"],
                customer_id=whale,
                token=uuid.uuid4().hex,
            )
        )
        session.commit()
    assert _members(db, org, {"newsletter": "subscribed"}) == {"whale"}
    assert _members(db, org, {"newsletter": "subscribed", "topic": "news"}) == {"whale"}
    assert _members(db, org, {"newsletter": "subscribed", "topic": "deals"}) == set()
    # RFM among the five buyers: recency, frequency and monetary scores 1-5, and their sum.
    assert _members(db, org, {"rfm": "total", "op": "gte", "value": 10}) == {
        "whale",
        "whale-no-consent",
    }
    assert _members(db, org, {"rfm": "recency", "op": "gte", "value": 4}) == {
        "whale-no-consent",
        "gold",
    }
    assert _members(db, org, {"rfm": "frequency", "op": "eq", "value": 4}) == {"whale", "lapsed"}
    assert _members(db, org, {"rfm": "monetary", "op": "lte", "value": 2}) == {
        "one-old-order",
        "gold",
    }
    assert _members(db, org, {"not": {"rfm": "total", "op": "gte", "value": 3}}) == {"newbie"}
    # A product bought, within a window; an order refunded in full no longer counts.
    assert _members(db, org, {"purchased": "boots"}) == {"whale", "lapsed", "gold"}
    assert _members(db, org, {"purchased": "boots", "within_days": 30}) == {"whale", "gold"}
    assert _members(db, org, {"purchased": "socks"}) == set()
    with db.session(org.id) as session:
        [order_id] = session.scalars(select(Order.order_id).where(Order.customer_id == gold))
        record_events(
            session,
            [
                OrderRefundedEvent(
                    type="order.refunded",
                    customer=CustomerRef(id=gold),
                    properties=OrderRefundedProperties(order_id=order_id),
                )
            ],
        )
        session.commit()
    assert _members(db, org, {"purchased": "boots", "within_days": 30}) == {"whale"}
    joined_before = (NOW - timedelta(days=30)).date().isoformat()
    assert "newbie" not in _members(
        db, org, {"profile": "created_at", "op": "before", "value": joined_before}
    )


def _segment(stack: Stack, org: Org, **body: Any) -> Any:
    return stack.api.post("/v1/segments", json=body, headers=org.headers(Role.marketing))


def test_marketers_save_size_list_and_export_a_segment(stack: Stack, org: Org) -> None:
    tagged = [api_customer(stack, org, name=f"Fan {n}", tags=["fan"]) for n in range(5)]
    api_customer(stack, org, name="Not a fan")
    rule = {"tag": "fan"}
    sized = stack.api.post(
        "/v1/segments/preview", json={"rule": rule}, headers=org.headers(Role.marketing)
    )
    assert sized.status_code == 200 and sized.json()["count"] == 5
    created = _segment(stack, org, key="fans", name="Fans", rule=rule)
    assert created.status_code == 201, created.text
    assert _segment(stack, org, key="fans", name="Again", rule=rule).status_code == 409
    preview = stack.api.get("/v1/segments/fans/preview", headers=org.headers()).json()
    assert preview["count"] == 5 and len(preview["first"]) == 5

    pages, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = stack.api.get(
            "/v1/segments/fans/members", params=params, headers=org.headers()
        ).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert {m["id"] for p in pages for m in p} == {c["id"] for c in tagged}

    export = stack.api.get("/v1/segments/fans/export.csv", headers=org.headers())
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(r["name"] for r in rows) == [f"Fan {n}" for n in range(5)]

    listed = stack.api.get("/v1/segments/templates", headers=org.headers()).json()
    assert [t["key"] for t in listed] == ["vip", "at-risk", "new", "inactive"]


def test_an_export_opens_a_name_typed_as_a_formula_as_text(stack: Stack, org: Org) -> None:
    for name in ('=HYPERLINK("https://evil.example","click")', "+1 555", "@SUM(A1)", "Ada"):
        api_customer(stack, org, name=name, tags=["typed"])
    assert _segment(stack, org, key="typed", name="Typed", rule={"tag": "typed"}).is_success
    export = stack.api.get("/v1/segments/typed/export.csv", headers=org.headers())
    names = sorted(r["name"] for r in csv.DictReader(io.StringIO(export.text)))
    assert names == ["'+1 555", '\'=HYPERLINK("https://evil.example","click")', "'@SUM(A1)", "Ada"]


def test_a_bad_rule_is_refused_with_the_path_to_the_bad_node(stack: Stack, org: Org) -> None:
    bad = _segment(
        stack,
        org,
        key="broken",
        name="Broken",
        rule={"all": [{"tag": "vip"}, {"orders": "total_spent", "op": "about", "value": 5}]},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "rule.all.1" in bad.text
    assert stack.api.get("/v1/segments/broken", headers=org.headers()).status_code == 404
    one_bound = {"any": [{"attribute": "visits", "op": "between", "value": 3}]}
    refused = _segment(stack, org, key="broken", name="Broken", rule=one_bound)
    assert refused.status_code == 422 and "[low, high]" in refused.text
    assert "rule.any.0" in refused.text
    for role in (Role.cashier, Role.sales):
        assert stack.api.get("/v1/segments", headers=org.headers(role)).status_code == 403


def test_a_segment_builds_on_another_but_never_on_itself(stack: Stack, org: Org) -> None:
    vip_fan = api_customer(stack, org, name="VIP fan", tags=["fan", "vip"])
    api_customer(stack, org, name="Plain fan", tags=["fan"])
    assert _segment(stack, org, key="fans", name="Fans", rule={"tag": "fan"}).status_code == 201
    layered = _segment(
        stack,
        org,
        key="vip-fans",
        name="VIP fans",
        rule={"all": [{"segment": "fans"}, {"tag": "vip"}]},
    )
    assert layered.status_code == 201, layered.text
    members = stack.api.get("/v1/segments/vip-fans/members", headers=org.headers()).json()
    assert [m["id"] for m in members["items"]] == [vip_fan["id"]]
    circle = stack.api.patch(
        "/v1/segments/fans",
        json={"rule": {"any": [{"tag": "fan"}, {"segment": "vip-fans"}]}},
        headers=org.headers(Role.marketing),
    )
    assert circle.status_code == 422 and "contain itself" in circle.text
    unknown = _segment(stack, org, key="ghosts", name="Ghosts", rule={"segment": "nope"})
    assert unknown.status_code == 422 and "no segment 'nope'" in unknown.text
    # The refused change left the segment as it was.
    fans = stack.api.get("/v1/segments/fans", headers=org.headers()).json()
    assert fans["rule"] == {"tag": "fan"}
