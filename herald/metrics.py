"""Herald's own Prometheus metrics (the list, with what to watch, is in docs/OPERATIONS.md).

Counted where things happen: the API counts requests, the event dispatcher (in the API) counts
dispatches, the worker counts messages and points. Several worker processes add up through
prometheus_client's multiprocess mode (``worker.py`` sets it up); labels carry kinds and
outcomes, never an organization or a customer.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "herald_http_requests_total", "API requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "herald_http_request_seconds",
    "Time to answer an API request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_DISPATCHED = Counter(
    "herald_events_dispatched_total", "Events whose runs were started or signalled"
)
EVENTS_FAILED = Counter(
    "herald_events_failed_total",
    "Dispatch attempts that failed, by why: Temporal unreachable, a start failed, the event "
    "rejected by a reaction",
    ["reason"],
)
EVENTS_PARKED = Counter(
    "herald_events_parked_total", "Events parked for staff after failing again and again"
)
DISPATCH_LAG = Histogram(
    "herald_event_dispatch_lag_seconds",
    "From an event's arrival to its runs being started",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
MESSAGES = Counter(
    "herald_messages_total", "Messages through the delivery path", ["channel", "outcome"]
)
POINTS_AWARDED = Counter("herald_points_awarded_total", "Loyalty points awarded for orders")
