"""Every timeout and retry policy Herald's workflows give their activities: the one place
they live.

What a retry can and cannot mend: a domain error (not found, invalid, conflict, forbidden) means
the same input fails the same way, so the worker's ``DomainErrorInterceptor`` makes it
non-retryable whatever the policy says, and the run fails visibly at the first attempt. What
is left for these policies is the world: a database or provider that is down comes back, so
those retries go on (a lost award or message is worse than a late one), backing off to a pace
that does no harm. Where the other side may never come back (a merchant's webhook), attempts are
bounded.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Database work: quick, and retried until the database is back.
DB_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))

# A ledger write takes milliseconds: a stuck attempt is abandoned sooner than other database
# work, and retried as all of it is (DB_RETRY: a database outage must not lose an award).
LEDGER_WRITE_TIMEOUT = timedelta(seconds=10)

# One segment's daily count: a few minutes of tries, then the run goes on to the next segment
# (one organization's segment that cannot be counted must not hold up everyone's record).
SEGMENT_COUNT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=8
)

# Long database passes that heartbeat (sweeps, a page of expiries).
SWEEP_TIMEOUT = timedelta(minutes=10)
SWEEP_HEARTBEAT = timedelta(minutes=1)

# Providers throttle and fail transiently; keep trying for a day, never faster than they allow.
DELIVERY_TIMEOUT = timedelta(seconds=30)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
DELIVERY_DEADLINE = timedelta(days=1)
# A campaign batch of up to 1,000 recipients; a worker that dies mid-batch is noticed within
# the heartbeat, and the batch retried elsewhere.
BATCH_TIMEOUT = timedelta(minutes=5)
BATCH_HEARTBEAT = timedelta(seconds=10)

# Webhooks: a few patient tries; a receiver that stays down does not hold the journey forever.
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), backoff_coefficient=3.0, maximum_attempts=5
)

# An organization's rollup: a full rebuild of a large one takes minutes, in a few statements
# that cannot heartbeat between rows.
ROLLUP_TIMEOUT = timedelta(minutes=30)
