"""The A/B winner: a two-proportion test at the chosen confidence, else the declared default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from herald.campaigns.contracts import Metric
from herald.campaigns.decision import pick_winner, wilson_interval
from herald.campaigns.schemas import VariantResult

pytestmark = pytest.mark.fast
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _result(variant: str, successes: int, sent: int) -> VariantResult:
    return VariantResult(variant=variant, sent=sent, successes=successes, rate=successes / sent)


def test_a_clear_difference_picks_the_better_variant_and_says_why() -> None:
    decision = pick_winner(
        Metric.click, [_result("A", 2, 20), _result("B", 12, 20)], "A", 0.95, NOW
    )
    assert (decision.winner, decision.significant) == ("B", True)
    assert decision.p_value is not None and decision.p_value < 0.05
    assert "B click rate 60.0% beats A 10.0%" in decision.reason


def test_a_small_difference_sends_the_declared_default() -> None:
    decision = pick_winner(
        Metric.open, [_result("A", 10, 100), _result("B", 12, 100)], "A", 0.95, NOW
    )
    assert (decision.winner, decision.significant) == ("A", False)
    assert decision.reason.startswith("inconclusive at 95% confidence")


def test_no_opens_at_all_is_inconclusive_not_an_error() -> None:
    decision = pick_winner(Metric.open, [_result("A", 0, 50), _result("B", 0, 50)], "B", 0.9, NOW)
    assert (decision.winner, decision.p_value) == ("B", None)


def test_the_wilson_interval_holds_the_rate_and_stays_within_zero_and_one() -> None:
    rate = wilson_interval(12, 180)
    assert rate.low is not None and rate.high is not None
    assert 0 < rate.low < 12 / 180 < rate.high < 1
    none = wilson_interval(0, 10)
    assert none.low == pytest.approx(0.0, abs=1e-9)
    assert none.high is not None and 0 < none.high < 0.35
    assert wilson_interval(0, 0).rate is None
