"""Per-client limits for the public endpoints (sign-up forms attract bots)."""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import Request

from herald.errors import TooManyRequests


class RateLimit:
    """At most ``limit`` requests per ``window_s`` per client address, counted in this process.

    Behind several API replicas each counts its own share; a shared limit belongs in the proxy.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                raise TooManyRequests(f"at most {self.limit} requests per {self.window_s:g}s")
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle clients rather than grow without bound
                self._hits = {
                    k: v for k, v in self._hits.items() if v and v[-1] > now - self.window_s
                }


# A person opens a few links and signs up a handful of times at most; a script does far more.
signup_limit = RateLimit(limit=20, window_s=60)
link_limit = RateLimit(limit=60, window_s=60)
# A visitor writes to sales once or twice; an office behind one address a few times more.
inquiry_limit = RateLimit(limit=10, window_s=60)
