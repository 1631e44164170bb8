"""Timeouts and retry policies every workflow's activities share."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Database work: quick, and retried until the database is back.
DB_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))

# Providers throttle and fail transiently; keep trying for a day, never faster than they allow.
DELIVERY_TIMEOUT = timedelta(seconds=30)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
DELIVERY_DEADLINE = timedelta(days=1)
