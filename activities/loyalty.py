from __future__ import annotations

from temporalio import activity

from herald.db import Database
from herald.loyalty import service
from herald.loyalty.schemas import AwardOrderPointsInput, LedgerOutcome, ReverseOrderPointsInput


class LoyaltyActivities:
    """Ledger writes. Idempotent by the ledger's unique (organization, source, source id) key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    def award_order_points(self, data: AwardOrderPointsInput) -> LedgerOutcome:
        with self._db.session(data.organization_id) as session:
            return service.award_order_points(session, data)

    @activity.defn
    def reverse_order_points(self, data: ReverseOrderPointsInput) -> LedgerOutcome:
        with self._db.session(data.organization_id) as session:
            return service.reverse_order_points(session, data)
