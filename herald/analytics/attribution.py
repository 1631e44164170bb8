"""Which messages each paid order is attributed to, under each of the four models.

A message touches an order when the customer acted on it shortly before paying: a click within
the click window, else an open (an in-app message read) within the open window, else — for
channels that report no opens (SMS, push) — its delivery within the delivery window. Among an
order's touches:

- last touch (the default): the last click, else the last open, else the last delivery;
- first touch: the earliest touch;
- linear: every touch an equal share;
- time decay: each touch weighs 2^(-age / half-life), age counted back from the payment.

All four weights are stored per (order, message), so changing the model changes no row;
changing a window recomputes them (``AnalyticsState.dirty_from``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, select
from sqlalchemy.orm import Session

from herald.analytics.models import AnalyticsSettings, AttributionModel, OrderAttribution
from herald.campaigns.contracts import campaign_of_intent
from herald.campaigns.models import CampaignRecipient
from herald.db import insert_rows, one_of, session_organization, shifted
from herald.journeys.contracts import journey_of_intent
from herald.messaging.models import Channel, Message
from herald.messaging.policy import WENT_OUT
from herald.orders.models import Order

CLICK, OPEN, DELIVERY = "click", "open", "delivery"
# Channels whose opens Herald never hears of: their delivery is the touch.
DELIVERY_TOUCH_CHANNELS = frozenset({Channel.sms, Channel.push})
# A held message (quiet hours) is written before it goes out: how much earlier than its send a
# message row may have been created, so the candidate look-up by creation time misses none.
_LONGEST_HOLD = timedelta(days=1)


@dataclass(frozen=True)
class Windows:
    click: timedelta
    open: timedelta
    delivery: timedelta
    half_life: timedelta

    @classmethod
    def of(cls, settings: AnalyticsSettings) -> Windows:
        return cls(
            click=timedelta(hours=settings.click_window_hours),
            open=timedelta(hours=settings.open_window_hours),
            delivery=timedelta(hours=settings.delivery_window_hours),
            half_life=timedelta(hours=settings.half_life_hours),
        )

    @property
    def longest(self) -> timedelta:
        return max(self.click, self.open, self.delivery)


@dataclass(frozen=True)
class SentMessage:
    """What attribution needs of one message the customer was sent."""

    id: uuid.UUID
    channel: str
    sent_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None


@dataclass(frozen=True)
class Touch:
    message_id: uuid.UUID
    kind: str
    at: datetime


def touch_of(message: SentMessage, paid_at: datetime, windows: Windows) -> Touch | None:
    """The message's strongest touch on an order paid at ``paid_at``, if any."""

    def within(at: datetime | None, window: timedelta) -> bool:
        return at is not None and at <= paid_at and paid_at - at <= window

    if within(message.clicked_at, windows.click):
        assert message.clicked_at is not None
        return Touch(message.id, CLICK, message.clicked_at)
    if within(message.opened_at, windows.open):
        assert message.opened_at is not None
        return Touch(message.id, OPEN, message.opened_at)
    if message.channel in DELIVERY_TOUCH_CHANNELS and within(message.sent_at, windows.delivery):
        assert message.sent_at is not None
        return Touch(message.id, DELIVERY, message.sent_at)
    return None


_PRIORITY = {CLICK: 2, OPEN: 1, DELIVERY: 0}


def weights(
    touches: Sequence[Touch], paid_at: datetime, half_life: timedelta
) -> dict[uuid.UUID, dict[AttributionModel, float]]:
    """Each touching message's share of the order under every model (each model's shares add
    up to 1). Ties break by message id, so a recomputation gives the same answer."""
    if not touches:
        return {}
    last = max(touches, key=lambda t: (_PRIORITY[t.kind], t.at, t.message_id))
    first = min(touches, key=lambda t: (t.at, t.message_id))
    decay = {t.message_id: 0.5 ** ((paid_at - t.at) / half_life) for t in touches}
    decay_total = sum(decay.values())
    return {
        t.message_id: {
            AttributionModel.last_touch: 1.0 if t is last else 0.0,
            AttributionModel.first_touch: 1.0 if t is first else 0.0,
            AttributionModel.linear: 1.0 / len(touches),
            AttributionModel.time_decay: decay[t.message_id] / decay_total,
        }
        for t in touches
    }


def weight_column(model: AttributionModel) -> Any:
    """The ``order_attributions`` column holding ``model``'s weights."""
    return getattr(OrderAttribution, f"weight_{model.value}")


@dataclass(frozen=True)
class _Candidate:
    order_pk: uuid.UUID
    paid_at: datetime
    customer_id: uuid.UUID | None
    message: SentMessage
    intent: str
    template_id: uuid.UUID | None


def _candidate_window(windows: Windows) -> tuple[Any, Any]:
    """Messages that may have touched an order: its customer's, written in the longest window
    before it was paid (by the messages' customer index)."""
    earliest = shifted(Order.paid_at, -int((windows.longest + _LONGEST_HOLD).total_seconds()))
    return (
        and_(
            Message.organization_id == Order.organization_id,
            Message.customer_id == Order.customer_id,
            Message.created_at >= earliest,
            Message.created_at <= Order.paid_at,
        ),
        Message.status.in_(WENT_OUT),
    )


def may_have_been_touched(windows: Windows) -> ColumnElement[bool]:
    """An order whose customer was sent a message in the window before it: the only orders
    attribution needs to read (most orders of a shop follow no message)."""
    joined, went_out = _candidate_window(windows)
    return exists().where(joined, went_out)


def attribute_orders(session: Session, order_pks: Iterable[uuid.UUID], windows: Windows) -> int:
    """Attributes these orders afresh (their earlier rows replaced) in the caller's transaction,
    and returns how many of them some message touched. The messages each order's customer was sent in the
    longest window before it are read in one query by the messages' customer index."""
    pks = list(order_pks)
    if not pks:
        return 0
    session.execute(delete(OrderAttribution).where(one_of(session, OrderAttribution.order_pk, pks)))
    joined, went_out = _candidate_window(windows)
    rows = session.execute(
        select(
            Order.id,
            Order.paid_at,
            Order.customer_id,
            Message.id,
            Message.channel,
            Message.sent_at,
            Message.opened_at,
            Message.read_at,
            Message.clicked_at,
            Message.idempotency_key,
            Message.template_id,
        )
        .join(Message, joined)
        .where(one_of(session, Order.id, pks), went_out)
    ).all()
    candidates = [
        _Candidate(
            order_pk=r[0],
            paid_at=r[1],
            customer_id=r[2],
            message=SentMessage(
                id=r[3], channel=r[4], sent_at=r[5], opened_at=r[6] or r[7], clicked_at=r[8]
            ),
            intent=r[9],
            template_id=r[10],
        )
        for r in rows
    ]
    return _write(session, candidates, windows)


def _write(session: Session, candidates: list[_Candidate], windows: Windows) -> int:
    by_order: dict[uuid.UUID, list[tuple[_Candidate, Touch]]] = defaultdict(list)
    for candidate in candidates:
        touch = touch_of(candidate.message, candidate.paid_at, windows)
        if touch is not None:
            by_order[candidate.order_pk].append((candidate, touch))
    variants = _campaign_variants(session, [c for pairs in by_order.values() for c, _ in pairs])
    organization_id = session_organization(session)
    rows: list[dict[str, Any]] = []
    for order_pk, pairs in by_order.items():
        paid_at = pairs[0][0].paid_at
        shares = weights([t for _, t in pairs], paid_at, windows.half_life)
        for candidate, touch in pairs:
            campaign_id = campaign_of_intent(candidate.intent)
            journey = journey_of_intent(candidate.intent)
            share = shares[touch.message_id]
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "order_pk": order_pk,
                    "message_id": touch.message_id,
                    "customer_id": candidate.customer_id,
                    "paid_at": paid_at,
                    "channel": candidate.message.channel,
                    "template_id": candidate.template_id,
                    "campaign_id": campaign_id,
                    "variant": variants.get((campaign_id, candidate.customer_id)),
                    "journey_key": journey[0] if journey else None,
                    "step_id": journey[1] if journey else None,
                    "touch": touch.kind,
                    "touch_at": touch.at,
                    **{f"weight_{model.value}": share[model] for model in AttributionModel},
                }
            )
    insert_rows(session, OrderAttribution, rows)
    return len(by_order)


def _campaign_variants(
    session: Session, candidates: list[_Candidate]
) -> dict[tuple[uuid.UUID | None, uuid.UUID | None], str | None]:
    """The variant each campaign message's recipient got, a query per campaign by its key."""
    customers: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for candidate in candidates:
        campaign_id = campaign_of_intent(candidate.intent)
        if campaign_id is not None and candidate.customer_id is not None:
            customers[campaign_id].add(candidate.customer_id)
    variants: dict[tuple[uuid.UUID | None, uuid.UUID | None], str | None] = {}
    for campaign_id, ids in customers.items():
        for customer_id, variant in session.execute(
            select(CampaignRecipient.customer_id, CampaignRecipient.variant).where(
                CampaignRecipient.campaign_id == campaign_id,
                one_of(session, CampaignRecipient.customer_id, ids),
            )
        ):
            variants[(campaign_id, customer_id)] = variant
    return variants
