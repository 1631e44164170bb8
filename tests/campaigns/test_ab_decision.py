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


def _revenue(variant: str, per_recipient: list[float]) -> VariantResult:
    total = sum(per_recipient)
    return VariantResult(
        variant=variant,
        sent=len(per_recipient),
        successes=sum(1 for x in per_recipient if x),
        rate=total / len(per_recipient),
        revenue=total,
        revenue_squares=sum(x * x for x in per_recipient),
    )


def _welch_by_hand(a: list[float], b: list[float]) -> float:
    """Welch's t from the samples themselves."""
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    var_a = sum((x - mean_a) ** 2 for x in a) / (len(a) - 1)
    var_b = sum((x - mean_b) ** 2 for x in b) / (len(b) - 1)
    return (mean_a - mean_b) / (var_a / len(a) + var_b / len(b)) ** 0.5


def test_revenue_per_recipient_wins_by_welchs_t_test() -> None:
    # B's recipients spend more: 30 of 100 buy about 50, against 10 of 100 buying about 40.
    a = [40.0 + (i % 5) for i in range(10)] + [0.0] * 90
    b = [50.0 + (i % 7) for i in range(30)] + [0.0] * 70
    decision = pick_winner(Metric.revenue, [_revenue("A", a), _revenue("B", b)], "A", 0.95, NOW)
    assert (decision.winner, decision.significant) == ("B", True)
    assert decision.z == pytest.approx(_welch_by_hand(b, a))
    assert decision.p_value is not None and decision.p_value < 0.001
    assert decision.reason.startswith("B revenue 15.85 per recipient beats A 4.20")


def test_revenue_too_close_to_call_sends_the_default() -> None:
    a = [20.0] * 5 + [0.0] * 45
    b = [21.0] * 5 + [0.0] * 45
    decision = pick_winner(Metric.revenue, [_revenue("A", a), _revenue("B", b)], "A", 0.95, NOW)
    assert (decision.winner, decision.significant) == ("A", False)
    assert decision.reason.startswith("inconclusive")
    # Nobody bought in either group: nothing to test, not an error.
    nothing = pick_winner(
        Metric.revenue, [_revenue("A", [0.0] * 10), _revenue("B", [0.0] * 10)], "B", 0.95, NOW
    )
    assert (nothing.winner, nothing.p_value) == ("B", None)
