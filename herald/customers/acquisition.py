"""Where a customer came from: the first ``utm_source``, ``utm_medium``, ``utm_campaign`` and
``source`` seen on their profile's attributes or on the events the shop posts about them.
Later ones never replace it (the first touch acquired them)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from herald.customers.models import Customer

ACQUISITION_KEYS = ("utm_source", "utm_medium", "utm_campaign", "source")


def acquisition_of(properties: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The acquisition properties among ``properties``, trimmed, or None if there are none."""
    if not properties:
        return None
    found = {
        key: str(value).strip()[:200]
        for key in ACQUISITION_KEYS
        if isinstance(value := properties.get(key), str | int) and str(value).strip()
    }
    return found or None


def channel_of(acquisition: Mapping[str, str] | None) -> str | None:
    """The channel acquisition reports group by: the source, lower-cased."""
    if not acquisition:
        return None
    source = acquisition.get("utm_source") or acquisition.get("source")
    return source.lower()[:100] if source else None


def note_first_seen(session: Session, firsts: Mapping[uuid.UUID, dict[str, str]]) -> None:
    """Records each customer's acquisition unless one is recorded, in the caller's
    transaction."""
    for customer_id, acquisition in firsts.items():
        session.execute(
            update(Customer)
            .where(Customer.id == customer_id, Customer.acquisition_channel.is_(None))
            .values(acquisition=acquisition, acquisition_channel=channel_of(acquisition))
        )
