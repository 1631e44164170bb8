"""Audience rules: a tree of AND / OR / NOT over what Herald knows about a customer.

A rule compiles to one SQL condition on the customers table, so the same tree answers "is this
customer in?" (a journey's branch) and "who is in?" (a segment), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_validator,
)
from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    not_,
    select,
)
from sqlalchemy.orm import Session

from herald.customers.models import (
    Customer,
    CustomerBusiness,
    CustomerGroup,
    CustomerGroupMember,
    CustomerTag,
)
from herald.db import all_true, any_true, session_organization
from herald.errors import InvalidInput
from herald.events.models import Event
from herald.loyalty.models import LoyaltyAccount, LoyaltyTier
from herald.messaging.models import Channel, Consent, ConsentStatus
from herald.newsletter.models import Subscriber, SubscriberStatus
from herald.orders import money
from herald.orders.models import Order, OrderItem, OrderStatus
from herald.predictions.models import CustomerPrediction
from herald.segments.models import Segment

# Values a rule compares with: numbers any database stores exactly, text of a sane length.
Number = (
    Annotated[int, Field(ge=-(10**15), le=10**15)]
    | Annotated[float, Field(ge=-1e15, le=1e15, allow_inf_nan=False)]
)
Scalar = bool | Number | Annotated[str, Field(max_length=1000)]
# Attribute and property names a rule reads (a JSON path on both databases): no quotes,
# brackets or control characters.
FieldName = Annotated[str, Field(pattern=r"^[\w .:/-]{1,100}$")]
Values = Annotated[list[Scalar], Field(max_length=100)]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte"]


MAX_DAYS = 36_500


def _kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "text"


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Compared(_Node):
    """A node comparing a field with ``value`` by ``op``, the fields its subclass declares."""

    if TYPE_CHECKING:
        op: str
        value: Scalar | list[Scalar] | None

    @model_validator(mode="after")
    def _value_fits_the_operator(self) -> Self:
        if self.op in ("gt", "gte", "lt", "lte") and (
            self.value is None or isinstance(self.value, bool | list)
        ):
            raise ValueError(f"{self.op} compares with one number, date or text")
        if isinstance(self.value, list) and self.op not in ("in", "between"):
            raise ValueError(f"{self.op} compares with one value; a list is for in and between")
        if isinstance(self.value, list) and len({_kind(v) for v in self.value}) > 1:
            raise ValueError("a list of values holds one kind: numbers, text or true/false")
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError("between takes [low, high]")
        return self


class AllOf(_Node):
    all: list[Rule] = Field(min_length=1)


class AnyOf(_Node):
    any: list[Rule] = Field(min_length=1)


class NotRule(_Node):
    not_: Rule = Field(alias="not")


class AttributeRule(_Compared):
    """A customer attribute compared with a value; ``exists`` needs none."""

    attribute: FieldName
    op: Operator | Literal["exists", "contains", "in", "between"] = "eq"
    value: Scalar | Values | None = None


class TagRule(_Node):
    tag: str = Field(min_length=1, max_length=64)


class GroupRule(_Node):
    """In the customer group with this key."""

    group: str = Field(min_length=1, max_length=100)


class BusinessRule(_Node):
    """A business (``true``) or a person (``false``)."""

    business: bool


class PointsRule(_Node):
    points: Annotated[int, Field(ge=-(10**15), le=10**15)]
    op: Operator = "gte"


class ConsentRule(_Node):
    consent: Channel


class DaysAgo(_Node):
    op: Operator
    days_ago: float = Field(ge=0, le=3650)


class EventRule(_Node):
    """Performed an event type (with property filters) between ``at_least`` and ``at_most``
    times, within the last ``within_days`` days if given."""

    performed: str = Field(min_length=1, max_length=100)
    where: dict[FieldName, Scalar] = Field(default={}, max_length=20)
    within_days: int | None = Field(default=None, ge=1, le=3650)
    at_least: int = Field(default=1, ge=0, le=10**9)
    at_most: int | None = Field(default=None, ge=0, le=10**9)
    # When they first or last did it, in days ago: {"op": "lte", "days_ago": 7} is "within
    # the last week". Someone who never did it has no first or last time and does not match.
    first: DaysAgo | None = None
    last: DaysAgo | None = None


class ProfileRule(_Compared):
    """A profile field: when they joined (``within_days`` / ``before`` / ``after``), or a value."""

    profile: Literal[
        "created_at", "birthday", "locale", "timezone", "name", "external_id", "country"
    ]
    op: (
        Operator | Literal["exists", "contains", "in", "within_days", "before", "after", "between"]
    ) = "eq"
    value: Scalar | Values | None = None

    @model_validator(mode="after")
    def _dates_are_dates(self) -> Self:
        dated = self.profile in ("created_at", "birthday")
        if self.op == "within_days" and not (
            isinstance(self.value, int | float)
            and not isinstance(self.value, bool)
            and 0 <= self.value <= MAX_DAYS
        ):
            raise ValueError(f"within_days takes a number of days from 0 to {MAX_DAYS}")
        if self.op in ("before", "after") or (self.op == "between" and dated):
            values = self.value if isinstance(self.value, list) else [self.value]
            for value in values:
                try:
                    date.fromisoformat(str(value))
                except ValueError as exc:
                    raise ValueError(f"{self.op} takes dates as YYYY-MM-DD") from exc
        return self


class SubscribedRule(_Node):
    """On the newsletter: subscribed (confirmed), pending (waiting for the double opt-in) or
    unsubscribed, optionally to one topic."""

    newsletter: SubscriberStatus  # no default: stored rules drop defaults, and it names the node
    topic: str | None = Field(default=None, min_length=1, max_length=100)


class TierRule(_Node):
    """In one of these loyalty tiers (by name)."""

    tier: list[str] = Field(min_length=1)


class OrdersRule(_Node):
    """An order aggregate over the customer's orders paid within the last ``within_days`` days
    if given: total spent, number of orders, average order value, or days since the last.
    Money is paid less refunded, in the reporting currency; an order no rate converts is left
    out of it."""

    orders: Literal["total_spent", "count", "average_value", "days_since_last"]
    op: Operator = "gte"
    value: float = Field(ge=-1e15, le=1e15, allow_inf_nan=False)
    within_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _days_in_range(self) -> Self:
        if self.orders == "days_since_last" and not 0 <= self.value <= MAX_DAYS:
            raise ValueError(f"days_since_last is between 0 and {MAX_DAYS}")
        return self


class RfmRule(_Node):
    """Recency, frequency and monetary scores from the orders paid in the last
    ``within_days`` days, each 1 to 5 by the customer's place among the shop's buyers (5: the
    most recent, most frequent, biggest spenders; equal values score alike); ``total`` is their
    sum, 3 to 15. A customer with no order in the window has no score and never matches."""

    rfm: Literal["recency", "frequency", "monetary", "total"]
    op: Operator = "gte"
    value: int = Field(ge=1, le=15)
    within_days: int = Field(default=365, ge=1, le=3650)


class PurchasedRule(_Node):
    """Bought this product (the shop's product id) in an order paid within the last
    ``within_days`` days if given; an order refunded in full does not count."""

    purchased: str = Field(min_length=1, max_length=200)
    within_days: int | None = Field(default=None, ge=1, le=3650)


class PredictedRule(_Node):
    """A score from the organization's latest lifetime-value fit: ``churn_risk`` and
    ``probability_alive`` from 0 to 1, ``expected_purchases`` over the fit's horizon,
    ``predicted_clv`` and ``expected_value`` in the reporting currency. A customer the fit did
    not score (no order then) has no score and never matches."""

    predicted: Literal[
        "churn_risk", "probability_alive", "expected_purchases", "predicted_clv", "expected_value"
    ]
    op: Operator = "gte"
    value: float = Field(ge=-1e15, le=1e15, allow_inf_nan=False)


class SegmentRule(_Node):
    """In a saved segment (by key), as that segment reads when the rule is evaluated."""

    segment: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")


# Each node is told apart by its one identifying key, so a mistake is reported inside the
# node it belongs to (``rule.all.1.orders.op``), not once per kind of node.
_KINDS: dict[str, type[_Node]] = {
    "all": AllOf,
    "any": AnyOf,
    "not": NotRule,
    "attribute": AttributeRule,
    "tag": TagRule,
    "group": GroupRule,
    "business": BusinessRule,
    "points": PointsRule,
    "consent": ConsentRule,
    "performed": EventRule,
    "profile": ProfileRule,
    "newsletter": SubscribedRule,
    "tier": TierRule,
    "orders": OrdersRule,
    "rfm": RfmRule,
    "purchased": PurchasedRule,
    "predicted": PredictedRule,
    "segment": SegmentRule,
}
_KIND_OF = {model: kind for kind, model in _KINDS.items()}


def _rule_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((kind for kind in _KINDS if kind in value), None)
    return _KIND_OF.get(type(value))


# A rule a person builds fits easily; a deeper or larger tree is a mistake or an attack (each
# node becomes SQL, and a deep one recursed past Python's stack).
MAX_RULE_DEPTH = 12
MAX_RULE_NODES = 300


def _bounded_tree(value: Any) -> Any:
    """Refuse a rule tree too deep or too large before pydantic descends into it."""
    count, pending = 0, [(value, 1)]
    while pending:
        node, depth = pending.pop()
        count += 1
        if depth > MAX_RULE_DEPTH:
            raise ValueError(f"rules nest at most {MAX_RULE_DEPTH} levels deep")
        if count > MAX_RULE_NODES:
            raise ValueError(f"a rule has at most {MAX_RULE_NODES} conditions and groups")
        if isinstance(node, dict):
            for group in ("all", "any"):
                if isinstance(node.get(group), list):
                    pending.extend((child, depth + 1) for child in node[group])
            if "not" in node:
                pending.append((node["not"], depth + 1))
    return value


Rule = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotRule, Tag("not")]
    | Annotated[AttributeRule, Tag("attribute")]
    | Annotated[TagRule, Tag("tag")]
    | Annotated[GroupRule, Tag("group")]
    | Annotated[BusinessRule, Tag("business")]
    | Annotated[PointsRule, Tag("points")]
    | Annotated[ConsentRule, Tag("consent")]
    | Annotated[EventRule, Tag("performed")]
    | Annotated[ProfileRule, Tag("profile")]
    | Annotated[SubscribedRule, Tag("newsletter")]
    | Annotated[TierRule, Tag("tier")]
    | Annotated[OrdersRule, Tag("orders")]
    | Annotated[RfmRule, Tag("rfm")]
    | Annotated[PurchasedRule, Tag("purchased")]
    | Annotated[PredictedRule, Tag("predicted")]
    | Annotated[SegmentRule, Tag("segment")],
    Discriminator(
        _rule_kind,
        custom_error_type="rule_kind",
        custom_error_message=f"a rule has one of the keys {', '.join(_KINDS)}",
    ),
    BeforeValidator(_bounded_tree),
]


# Each operator on SQL columns and on plain values alike.
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    return _OPERATORS[op](column, value)


def _typed(element: Any, value: Any) -> Any:
    """A JSON value read as the type of what it is compared with."""
    if isinstance(value, bool):
        return element.as_boolean()
    if isinstance(value, int | float):
        return element.as_float()
    return element.as_string()


def event_property_is(name: str, value: Any) -> ColumnElement[bool]:
    """An event's property equals ``value``, compared as the value's type."""
    return _typed(Event.properties[name], value) == value


def _attribute(rule: AttributeRule) -> ColumnElement[bool]:
    element = Customer.attributes[rule.attribute]
    if rule.op == "exists":
        # PostgreSQL's ->> and SQLite's json_extract give NULL only for a missing key or a null.
        return element.as_string().is_not(None)
    if rule.op == "in":
        values = rule.value if isinstance(rule.value, list) else [rule.value]
        return _typed(element, values[0]).in_(values) if values else false()
    if rule.op == "contains":
        return element.as_string().contains(str(rule.value), autoescape=True)
    if rule.op == "between" and isinstance(rule.value, list):
        low, high = rule.value
        return _typed(element, low).between(low, high)
    return _compare(_typed(element, rule.value), rule.op, rule.value)


def _grouped(
    scope: uuid.UUID, filters: list[ColumnElement[bool]], having: ColumnElement[bool]
) -> ColumnElement[bool]:
    """Customers whose events passing ``filters`` pass ``having`` as a group: one pass over the
    organization's events (a window of one type, by its index), joined to the customers."""
    return Customer.id.in_(
        select(Event.customer_id)
        .where(Event.organization_id == scope, Event.customer_id.is_not(None), *filters)
        .group_by(Event.customer_id)
        .having(having)
    )


def _per_customer(filters: list[ColumnElement[bool]], value: Any) -> Any:
    """``value`` over the customer's own events passing ``filters``."""
    return (
        select(value)
        .where(Event.customer_id == Customer.id, *filters)
        .correlate(Customer)
        .scalar_subquery()
    )


def _event(rule: EventRule, now: datetime, scope: uuid.UUID | None) -> ColumnElement[bool]:
    filters = [Event.type == rule.performed]
    if rule.within_days is not None:
        filters.append(Event.occurred_at >= now - timedelta(days=rule.within_days))
    filters.extend(event_property_is(name, value) for name, value in rule.where.items())
    # Someone who never did it matches only "at least 0" with no first or last time.
    grouped = scope is not None and (rule.at_least > 0 or rule.first or rule.last)

    def over(value: Any) -> Any:
        return value if grouped else _per_customer(filters, value)

    count = over(func.count())
    conditions = [count >= rule.at_least]
    if rule.at_most is not None:
        conditions.append(count <= rule.at_most)
    for moment, when in ((func.min, rule.first), (func.max, rule.last)):
        if when is not None:
            at = over(moment(Event.occurred_at))
            conditions.append(_days_ago(at, when.op, when.days_ago, now))
    if grouped:
        assert scope is not None
        return _grouped(scope, filters, and_(*conditions))
    return and_(*conditions)


def _days_ago(moment: Any, op: str, days: float, now: datetime) -> ColumnElement[bool]:
    """``moment`` was ``op`` ``days`` days ago: more days ago is an earlier moment, so the
    comparison turns around ("at least 90 days ago" is "at or before now - 90 days")."""
    flipped = {"gte": "lte", "gt": "lt", "lte": "gte", "lt": "gt"}.get(op, op)
    return _compare(moment, flipped, now - timedelta(days=days))


def _profile(rule: ProfileRule, now: datetime) -> ColumnElement[bool]:
    column: Any = getattr(Customer, rule.profile)
    if rule.op == "exists":
        return column.is_not(None)
    if rule.op == "within_days":
        return column >= now - timedelta(days=float(str(rule.value)))
    if rule.op in ("before", "after"):
        moment: Any = date.fromisoformat(str(rule.value))
        if rule.profile == "created_at":
            moment = datetime.combine(moment, time(), tzinfo=UTC)
        return column < moment if rule.op == "before" else column >= moment
    if rule.op == "between" and isinstance(rule.value, list):
        if rule.profile not in ("created_at", "birthday"):
            return column.between(*rule.value)
        first, last = (date.fromisoformat(str(v)) for v in rule.value)
        if rule.profile == "birthday":
            return column.between(first, last)
        # Joined on any day from the first to the last, both included.
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
        return and_(column >= start, column < end)
    if rule.op == "in":
        return column.in_(rule.value if isinstance(rule.value, list) else [rule.value])
    if rule.op == "contains":
        return column.contains(str(rule.value), autoescape=True)
    return _compare(column, rule.op, rule.value)


def _tier(rule: TierRule) -> ColumnElement[bool]:
    return exists().where(
        LoyaltyAccount.customer_id == Customer.id,
        LoyaltyTier.id == LoyaltyAccount.tier_id,
        LoyaltyTier.name.in_(rule.tier),
    )


# What an order aggregate is for a customer with no order in the window.
_NO_ORDERS: dict[str, float | None] = {
    "total_spent": 0,
    "count": 0,
    "average_value": 0,
    "days_since_last": None,
}


# Over all of a customer's orders, these are the figures the customer row keeps current
# (herald.orders.figures, the same expressions): an indexed column instead of an aggregate of
# the orders table. (The average is left to the aggregate: it skips orders no rate converts.)
_KEPT_ON_CUSTOMER: dict[str, Any] = {
    "count": Customer.orders_count,
    "total_spent": Customer.lifetime_value,
    "days_since_last": Customer.last_order_at,
}


def _orders(
    rule: OrdersRule, now: datetime, scope: uuid.UUID | None, reporting: Any
) -> ColumnElement[bool]:
    if rule.within_days is None and rule.orders in _KEPT_ON_CUSTOMER:
        return _orders_test(rule, _KEPT_ON_CUSTOMER[rule.orders], now)
    filters = []
    if rule.within_days is not None:
        filters.append(Order.paid_at >= now - timedelta(days=rule.within_days))
    value = money.converted_net(reporting)
    aggregate = {
        "total_spent": func.coalesce(func.sum(value), 0),
        "count": func.count(Order.id),
        "average_value": func.coalesce(func.avg(value), 0),
        "days_since_last": func.max(Order.paid_at),
    }[rule.orders]
    none = _NO_ORDERS[rule.orders]
    # Grouped when a customer without orders cannot match (no last order, or 0 fails the test).
    if scope is not None and (none is None or not _OPERATORS[rule.op](none, rule.value)):
        grouped = (
            select(Order.customer_id)
            .where(Order.organization_id == scope, Order.customer_id.is_not(None), *filters)
            .group_by(Order.customer_id)
            .having(_orders_test(rule, aggregate, now))
        )
        return Customer.id.in_(grouped)
    own = (
        select(aggregate)
        .where(Order.customer_id == Customer.id, *filters)
        .correlate(Customer)
        .scalar_subquery()
    )
    return _orders_test(rule, own, now)


def _purchased(rule: PurchasedRule, now: datetime, scope: uuid.UUID | None) -> ColumnElement[bool]:
    """Order lines of the product (by its index), their orders joined: one set for the whole
    audience, or a look-up for one customer."""
    filters = [
        OrderItem.product_id == rule.purchased,
        Order.id == OrderItem.order_pk,
        Order.status != OrderStatus.refunded,
    ]
    if rule.within_days is not None:
        filters.append(Order.paid_at >= now - timedelta(days=rule.within_days))
    if scope is not None:
        return Customer.id.in_(
            select(Order.customer_id).where(OrderItem.organization_id == scope, *filters)
        )
    return exists().where(Order.customer_id == Customer.id, *filters)


def _orders_test(rule: OrdersRule, value: Any, now: datetime) -> ColumnElement[bool]:
    if rule.orders == "days_since_last":
        return _days_ago(value, rule.op, rule.value, now)
    return _compare(value, rule.op, rule.value)


def _quintile(value: Any) -> Any:
    """1 to 5 by the share of buyers with a lower value, in integer arithmetic (the same on
    both databases): 1 + 5 * (rank - 1) / buyers."""
    rank = func.rank().over(order_by=value)
    return 1 + (5 * (rank - 1)) / func.count().over()


def _rfm(rule: RfmRule, now: datetime, session: Session | None) -> ColumnElement[bool]:
    if session is None:
        raise RuntimeError("an RFM rule is compiled with a session")
    # Scores rank the organization's own buyers, so the filter is explicit here: the session's
    # scoping does not reach inside a window over a subquery.
    spent = money.converted_net(money.reporting_currency(session))
    buyers = (
        select(
            Order.customer_id,
            func.max(Order.paid_at).label("last"),
            func.count(Order.id).label("orders"),
            func.coalesce(func.sum(spent), 0).label("spent"),
        )
        .where(
            Order.organization_id == session_organization(session),
            Order.customer_id.is_not(None),
            Order.paid_at >= now - timedelta(days=rule.within_days),
        )
        .group_by(Order.customer_id)
        .subquery()
    )
    scores = select(
        buyers.c.customer_id,
        _quintile(buyers.c.last).label("recency"),
        _quintile(buyers.c.orders).label("frequency"),
        _quintile(buyers.c.spent).label("monetary"),
    ).subquery()
    score = (
        scores.c.recency + scores.c.frequency + scores.c.monetary
        if rule.rfm == "total"
        else scores.c[rule.rfm]
    )
    return Customer.id.in_(select(scores.c.customer_id).where(_compare(score, rule.op, rule.value)))


# With the segments it names written out, a rule stays below this many nodes: otherwise three
# segments of 300 conditions naming each other 300 times would compile to 27 million.
MAX_EXPANDED_NODES = 2_000


@dataclass
class _Budget:
    left: int = MAX_EXPANDED_NODES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise InvalidInput(
                f"with the segments it names, the rule has more than {MAX_EXPANDED_NODES:,} "
                "conditions",
                field="rule",
            )


def condition(
    rule: Rule,
    now: datetime,
    session: Session | None = None,
    within: tuple[str, ...] = (),
    *,
    semi_join: bool = False,
    budget: _Budget | None = None,
) -> ColumnElement[bool]:
    """The rule as a SQL condition on ``customers``. Saved segments it names are read through
    ``session`` (``within``: the segments being expanded, to refuse a circle).

    ``semi_join``: the rule sits in a chain of ANDs at the top of a whole-audience query. There
    an event or order condition becomes one grouped pass over its window, which the database
    joins to the customers; under OR or NOT, or when one customer is checked, it stays a look-up
    per customer (a set there would be probed row by row, or built whole for one customer)."""
    budget = budget or _Budget()
    budget.spend()
    if isinstance(rule, AllOf):
        return all_true(
            [
                condition(r, now, session, within, semi_join=semi_join, budget=budget)
                for r in rule.all
            ]
        )
    if isinstance(rule, AnyOf):
        return any_true([condition(r, now, session, within, budget=budget) for r in rule.any])
    if isinstance(rule, NotRule):
        return not_(condition(rule.not_, now, session, within, budget=budget))
    if isinstance(rule, SegmentRule):
        return _segment(rule, now, session, within, semi_join, budget)
    if isinstance(rule, AttributeRule):
        return _attribute(rule)
    if isinstance(rule, TagRule):
        return exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == rule.tag)
    if isinstance(rule, GroupRule):
        return exists().where(
            CustomerGroupMember.customer_id == Customer.id,
            CustomerGroup.id == CustomerGroupMember.group_id,
            CustomerGroup.key == rule.group,
        )
    if isinstance(rule, BusinessRule):
        is_business = exists().where(CustomerBusiness.customer_id == Customer.id)
        return is_business if rule.business else ~is_business
    if isinstance(rule, PointsRule):
        balance = (
            select(LoyaltyAccount.balance)
            .where(LoyaltyAccount.customer_id == Customer.id)
            .correlate(Customer)
            .scalar_subquery()
        )
        return _compare(func.coalesce(balance, 0), rule.op, rule.points)
    if isinstance(rule, ConsentRule):
        return exists().where(
            Consent.customer_id == Customer.id,
            Consent.channel == rule.consent,
            Consent.status == ConsentStatus.granted,
        )
    if isinstance(rule, SubscribedRule):
        listed = [Subscriber.customer_id == Customer.id, Subscriber.status == rule.newsletter]
        if rule.topic is not None:
            # The topics are a JSON list of short names; its text holds each one in quotes.
            topics = cast(Subscriber.topics, String)
            listed.append(topics.contains(json.dumps(rule.topic), autoescape=True))
        return exists().where(*listed)
    if isinstance(rule, ProfileRule):
        return _profile(rule, now)
    if isinstance(rule, TierRule):
        return _tier(rule)
    if isinstance(rule, PredictedRule):
        score = getattr(CustomerPrediction, rule.predicted)
        return exists().where(
            CustomerPrediction.customer_id == Customer.id, _compare(score, rule.op, rule.value)
        )
    scope = session_organization(session) if semi_join and session is not None else None
    if isinstance(rule, OrdersRule):
        # The reporting currency read once when there is a session; else each order's own.
        reporting = (
            money.reporting_currency(session)
            if session is not None
            else money.own_reporting_currency()
        )
        return _orders(rule, now, scope, reporting)
    if isinstance(rule, RfmRule):
        return _rfm(rule, now, session)
    if isinstance(rule, PurchasedRule):
        return _purchased(rule, now, scope)
    return _event(rule, now, scope)


RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)


def _segment(
    rule: SegmentRule,
    now: datetime,
    session: Session | None,
    within: tuple[str, ...],
    semi_join: bool,
    budget: _Budget,
) -> ColumnElement[bool]:
    if rule.segment in within:
        raise InvalidInput(
            f"segment {rule.segment!r} would contain itself ({' → '.join((*within, rule.segment))})",
            field="rule",
        )
    if session is None:
        raise RuntimeError("a rule naming a segment is compiled with a session")
    stored = session.scalar(select(Segment.rule).where(Segment.key == rule.segment))
    if stored is None:
        raise InvalidInput(f"no segment {rule.segment!r}", field="rule")
    return condition(
        RULE_ADAPTER.validate_python(stored),
        now,
        session,
        (*within, rule.segment),
        semi_join=semi_join,
        budget=budget,
    )


def customer_matches(session: Session, customer_id: Any, rule: Rule, now: datetime) -> bool:
    matched = session.scalar(
        select(Customer.id).where(
            Customer.id == customer_id,
            Customer.deleted_at.is_(None),
            condition(rule, now, session),
        )
    )
    return matched is not None


for _model in (AllOf, AnyOf, NotRule):
    _model.model_rebuild()
