"""Days, weeks and months as rollups keep them (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from herald.analytics.models import Granularity as G
from herald.analytics.periods import period_floor, periods_between, step

pytestmark = pytest.mark.fast


def test_periods_start_on_mondays_and_firsts_and_step_across_years() -> None:
    thursday = date(2026, 12, 31)
    assert period_floor(thursday, G.week) == date(2026, 12, 28)
    assert period_floor(thursday, G.month) == date(2026, 12, 1)
    assert step(date(2026, 12, 1), G.month) == date(2027, 1, 1)
    assert step(date(2026, 1, 1), G.month, -1) == date(2025, 12, 1)
    assert step(date(2026, 12, 28), G.week, 1) == date(2027, 1, 4)
    assert periods_between(date(2025, 11, 1), date(2026, 2, 1), G.month) == 3
    assert periods_between(date(2026, 12, 28), date(2027, 1, 11), G.week) == 2
    assert periods_between(date(2026, 2, 27), date(2026, 3, 1), G.day) == 2
