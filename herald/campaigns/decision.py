"""Picking an A/B winner: the best variant must beat the runner-up — by a two-proportion z-test
on a rate, by Welch's t-test on revenue per recipient — or the declared default goes to the
rest of the audience."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from statistics import NormalDist

from scipy.stats import ttest_ind_from_stats

from herald.campaigns.contracts import Metric
from herald.campaigns.schemas import Decision, Rate, VariantResult

_NORMAL = NormalDist()
INTERVAL_CONFIDENCE = 0.95


def two_proportion_test(a: VariantResult, b: VariantResult) -> tuple[float, float] | None:
    """z and two-sided p for "a's rate differs from b's" (pooled variance), or None when the
    test says nothing (an empty group, or both rates 0 or both 1)."""
    if a.sent == 0 or b.sent == 0:
        return None
    pooled = (a.successes + b.successes) / (a.sent + b.sent)
    variance = pooled * (1 - pooled) * (1 / a.sent + 1 / b.sent)
    if variance == 0:
        return None
    z = (a.successes / a.sent - b.successes / b.sent) / math.sqrt(variance)
    return z, 2 * (1 - _NORMAL.cdf(abs(z)))


def welch_test(a: VariantResult, b: VariantResult) -> tuple[float, float] | None:
    """t and two-sided p for "a's mean revenue per recipient differs from b's" (unequal
    variances), or None when the test says nothing (fewer than two in a group, or no spread)."""
    moments = [_mean_and_deviation(r) for r in (a, b)]
    if any(m is None for m in moments):
        return None
    (mean_a, sd_a), (mean_b, sd_b) = moments  # type: ignore[misc]
    if sd_a == 0 and sd_b == 0:
        return None
    result = ttest_ind_from_stats(mean_a, sd_a, a.sent, mean_b, sd_b, b.sent, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def _mean_and_deviation(result: VariantResult) -> tuple[float, float] | None:
    n = result.sent
    if n < 2 or result.revenue is None or result.revenue_squares is None:
        return None
    mean = result.revenue / n
    variance = max(0.0, (result.revenue_squares - n * mean * mean) / (n - 1))
    return mean, math.sqrt(variance)


def wilson_interval(count: int, total: int, confidence: float = INTERVAL_CONFIDENCE) -> Rate:
    """The rate count/total with its Wilson score interval (sound for small groups and for
    rates near 0 or 1, where the normal approximation is not)."""
    if total == 0:
        return Rate(count=count, rate=None, low=None, high=None)
    z = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    p = count / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return Rate(count=count, rate=p, low=max(0.0, centre - margin), high=min(1.0, centre + margin))


def pick_winner(
    metric: Metric,
    results: Sequence[VariantResult],
    default: str,
    confidence: float,
    now: datetime,
) -> Decision:
    ranked = sorted(results, key=lambda r: r.rate if r.rate is not None else -1.0, reverse=True)
    best, runner_up = ranked[0], ranked[1]
    revenue = metric is Metric.revenue
    test = welch_test(best, runner_up) if revenue else two_proportion_test(best, runner_up)
    z, p_value = test if test is not None else (None, None)
    significant = p_value is not None and p_value < 1 - confidence and best.rate != runner_up.rate
    if significant:
        winner = best.variant

        if revenue:
            ahead = f"{best.rate:.2f} per recipient beats {runner_up.variant} {runner_up.rate:.2f}"
        else:
            ahead = f"rate {best.rate:.1%} beats {runner_up.variant} {runner_up.rate:.1%}"
        reason = f"{best.variant} {metric.value} {ahead} (p = {p_value:.4f} < {1 - confidence:.3f})"
    else:
        winner = default
        reason = (
            f"inconclusive at {confidence:.0%} confidence"
            + (f" (p = {p_value:.4f})" if p_value is not None else " (no difference to test)")
            + f": the default variant {default} goes to the rest"
        )
    return Decision(
        metric=metric,
        results=list(results),
        winner=winner,
        z=z,
        p_value=p_value,
        significant=significant,
        reason=reason,
        decided_at=now,
    )
