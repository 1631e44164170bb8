from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from herald.db import Database
from herald.errors import HeraldError
from herald.loyalty import service
from herald.loyalty.schemas import AwardOrderPointsInput, LedgerOutcome, ReverseOrderPointsInput


class LoyaltyActivities:
    """Ledger writes. Idempotent by the ledger's unique (organization, source, source id) key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    def award_order_points(self, data: AwardOrderPointsInput) -> LedgerOutcome:
        with self._db.session(data.organization_id) as session:
            try:
                return service.award_order_points(session, data)
            except HeraldError as exc:  # e.g. the customer is gone: retrying cannot help
                raise ApplicationError(
                    exc.detail, type=type(exc).__name__, non_retryable=True
                ) from exc

    @activity.defn
    def reverse_order_points(self, data: ReverseOrderPointsInput) -> LedgerOutcome:
        with self._db.session(data.organization_id) as session:
            try:
                return service.reverse_order_points(session, data)
            except HeraldError as exc:
                raise ApplicationError(
                    exc.detail, type=type(exc).__name__, non_retryable=True
                ) from exc
