"""The four attribution models on hand-built touch histories (pure: no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from herald.analytics.attribution import (
    CLICK,
    DELIVERY,
    OPEN,
    SentMessage,
    Touch,
    Windows,
    touch_of,
    weights,
)
from herald.analytics.models import AttributionModel as M

pytestmark = pytest.mark.fast

PAID = datetime(2026, 6, 10, 12, tzinfo=UTC)
WINDOWS = Windows(
    click=timedelta(days=5),
    open=timedelta(days=1),
    delivery=timedelta(days=1),
    half_life=timedelta(days=7),
)


def ago(hours: float) -> datetime:
    return PAID - timedelta(hours=hours)


def message(channel: str = "email", *, sent=None, opened=None, clicked=None) -> SentMessage:  # type: ignore[no-untyped-def]
    return SentMessage(uuid.uuid4(), channel, sent, opened, clicked)


def test_a_message_touches_by_its_strongest_action_within_its_window() -> None:
    clicked_4_days_ago = message(sent=ago(100), opened=ago(99), clicked=ago(96))
    assert touch_of(clicked_4_days_ago, PAID, WINDOWS) == Touch(
        clicked_4_days_ago.id, CLICK, ago(96)
    )
    # A click 6 days back is out of the window; its open (older still) too.
    stale = message(sent=ago(150), opened=ago(149), clicked=ago(144))
    assert touch_of(stale, PAID, WINDOWS) is None
    opened_today = message(sent=ago(5), opened=ago(3))
    assert touch_of(opened_today, PAID, WINDOWS) == Touch(opened_today.id, OPEN, ago(3))
    # An email delivered but never opened did not touch the order; a text message did.
    assert touch_of(message(sent=ago(2)), PAID, WINDOWS) is None
    sms = message("sms", sent=ago(2))
    assert touch_of(sms, PAID, WINDOWS) == Touch(sms.id, DELIVERY, ago(2))
    assert touch_of(message("sms", sent=ago(30)), PAID, WINDOWS) is None
    # What happened after the payment does not count.
    assert touch_of(message(sent=ago(1), opened=PAID + timedelta(minutes=5)), PAID, WINDOWS) is None


def test_the_four_models_share_one_order() -> None:
    first_click = Touch(uuid.uuid4(), CLICK, ago(72))
    later_click = Touch(uuid.uuid4(), CLICK, ago(48))
    last_open = Touch(uuid.uuid4(), OPEN, ago(2))
    shares = weights([first_click, later_click, last_open], PAID, WINDOWS.half_life)

    def model(m: M) -> list[float]:
        return [shares[t.message_id][m] for t in (first_click, later_click, last_open)]

    # Last touch prefers the last click to a later open.
    assert model(M.last_touch) == [0.0, 1.0, 0.0]
    assert model(M.first_touch) == [1.0, 0.0, 0.0]
    assert model(M.linear) == pytest.approx([1 / 3] * 3)
    # Time decay, half-life 7 days: weights 2^(-72/168), 2^(-48/168), 2^(-2/168), normalised.
    raw = [2 ** (-72 / 168), 2 ** (-48 / 168), 2 ** (-2 / 168)]
    assert model(M.time_decay) == pytest.approx([r / sum(raw) for r in raw])
    for m in M:
        assert sum(model(m)) == pytest.approx(1.0)


def test_last_touch_falls_back_to_opens_then_deliveries() -> None:
    delivery = Touch(uuid.uuid4(), DELIVERY, ago(1))
    opened = Touch(uuid.uuid4(), OPEN, ago(20))
    shares = weights([delivery, opened], PAID, WINDOWS.half_life)
    assert shares[opened.message_id][M.last_touch] == 1.0
    only_delivery = weights([delivery], PAID, WINDOWS.half_life)
    assert only_delivery[delivery.message_id] == {m: 1.0 for m in M}
    assert weights([], PAID, WINDOWS.half_life) == {}
