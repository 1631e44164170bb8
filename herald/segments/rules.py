"""Audience rules: a tree of AND / OR / NOT over what Herald knows about a customer.

A rule compiles to one SQL condition on the customers table, so the same tree answers "is this
customer in?" (a journey's branch) and "who is in?" (a segment), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from herald.customers.models import Customer, CustomerTag
from herald.events.models import Event
from herald.loyalty.models import LoyaltyAccount
from herald.messaging.models import Channel, Consent, ConsentStatus

Scalar = str | int | float | bool
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte"]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AllOf(_Node):
    all: list[Rule] = Field(min_length=1)


class AnyOf(_Node):
    any: list[Rule] = Field(min_length=1)


class NotRule(_Node):
    not_: Rule = Field(alias="not")


class AttributeRule(_Node):
    """A customer attribute compared with a value; ``exists`` needs none."""

    attribute: str = Field(min_length=1, max_length=100)
    op: Operator | Literal["exists", "contains", "in"] = "eq"
    value: Scalar | list[Scalar] | None = None


class TagRule(_Node):
    tag: str = Field(min_length=1, max_length=64)


class PointsRule(_Node):
    points: int
    op: Operator = "gte"


class ConsentRule(_Node):
    consent: Channel


class EventRule(_Node):
    """Performed an event type (with property filters) between ``at_least`` and ``at_most``
    times, within the last ``within_days`` days if given."""

    performed: str = Field(min_length=1, max_length=100)
    where: dict[str, Scalar] = {}
    within_days: int | None = Field(default=None, ge=1, le=3650)
    at_least: int = Field(default=1, ge=0)
    at_most: int | None = Field(default=None, ge=0)


Rule = Annotated[
    AllOf | AnyOf | NotRule | AttributeRule | TagRule | PointsRule | ConsentRule | EventRule,
    Field(union_mode="smart"),
]


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    comparisons = {
        "eq": column == value,
        "ne": column != value,
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }
    return comparisons[op]


def _typed(element: Any, value: Any) -> Any:
    """A JSON value read as the type of what it is compared with."""
    if isinstance(value, bool):
        return element.as_boolean()
    if isinstance(value, int | float):
        return element.as_float()
    return element.as_string()


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
    return _compare(_typed(element, rule.value), rule.op, rule.value)


def _event(rule: EventRule, now: datetime) -> ColumnElement[bool]:
    filters = [Event.customer_id == Customer.id, Event.type == rule.performed]
    if rule.within_days is not None:
        filters.append(Event.occurred_at >= now - timedelta(days=rule.within_days))
    for name, value in rule.where.items():
        filters.append(_typed(Event.properties[name], value) == value)
    count = select(func.count()).where(*filters).correlate(Customer).scalar_subquery()
    conditions = [count >= rule.at_least]
    if rule.at_most is not None:
        conditions.append(count <= rule.at_most)
    return and_(*conditions)


def condition(rule: Rule, now: datetime) -> ColumnElement[bool]:
    """The rule as a SQL condition on ``customers``."""
    if isinstance(rule, AllOf):
        return and_(true(), *(condition(r, now) for r in rule.all))
    if isinstance(rule, AnyOf):
        return or_(false(), *(condition(r, now) for r in rule.any))
    if isinstance(rule, NotRule):
        return not_(condition(rule.not_, now))
    if isinstance(rule, AttributeRule):
        return _attribute(rule)
    if isinstance(rule, TagRule):
        return exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == rule.tag)
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
    return _event(rule, now)


def customer_matches(session: Session, customer_id: Any, rule: Rule, now: datetime) -> bool:
    matched = session.scalar(
        select(Customer.id).where(
            Customer.id == customer_id, Customer.deleted_at.is_(None), condition(rule, now)
        )
    )
    return matched is not None


for _model in (AllOf, AnyOf, NotRule):
    _model.model_rebuild()
