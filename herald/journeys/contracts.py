"""Journey runs' Temporal names: what starters and the worker agree on. A run in flight depends
on these; renaming one strands it."""

from __future__ import annotations

JOURNEY_WORKFLOW = "JourneyRun"
# Events reach a running journey as this signal (or with its start).
EVENT_SIGNAL = "event"
PROGRESS_QUERY = "progress"
EXIT_UPDATE = "exit"
SKIP_WAIT_UPDATE = "skip_wait"
MIGRATE_UPDATE = "migrate"
