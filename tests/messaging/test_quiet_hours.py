"""Quiet hours in the recipient's own time zone, windows that wrap midnight included."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from herald.messaging.policy import quiet_until

pytestmark = pytest.mark.fast
NIGHT = (time(21, 0), time(8, 0))


def test_inside_a_window_that_wraps_midnight_sending_waits_for_its_end_in_local_time() -> None:
    # 23:30 in New York (04:30 UTC): held until 08:00 New York time, 13:00 UTC.
    now = datetime(2026, 12, 3, 4, 30, tzinfo=UTC)
    assert quiet_until(now, "America/New_York", *NIGHT) == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)


def test_after_midnight_the_window_ends_the_same_local_morning() -> None:
    now = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    assert quiet_until(now, "Europe/Berlin", *NIGHT) == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def test_outside_the_window_or_without_one_a_message_goes_now() -> None:
    noon = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert quiet_until(noon, "Europe/London", *NIGHT) is None
    assert quiet_until(noon, "Europe/London", None, None) is None
    assert quiet_until(noon, "Europe/London", time(9), time(9)) is None


def test_without_a_known_time_zone_the_window_is_read_in_utc() -> None:
    now = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    assert quiet_until(now, None, *NIGHT) == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
