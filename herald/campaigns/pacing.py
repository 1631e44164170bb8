"""How a campaign send is paced: deterministic arithmetic the CampaignSend workflow runs itself
(no I/O, no clock), kept apart from the database work in ``sending``."""

from __future__ import annotations

from datetime import timedelta


def batch_size(rate_limit_per_s: int | None) -> int:
    """Recipients per batch: large for throughput, down to a second's worth under a rate limit
    so the pace stays even."""
    return min(1000, rate_limit_per_s or 1000)


def pace(sent: int, rate_limit_per_s: int | None) -> timedelta:
    """How long sending ``sent`` messages takes at the campaign's rate limit."""
    return timedelta(seconds=sent / rate_limit_per_s) if rate_limit_per_s else timedelta(0)
