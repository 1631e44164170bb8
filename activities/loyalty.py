from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.database import Database
from herald.errors import HeraldError
from herald.loyalty import birthdays, expiry, referrals, rewards, service, tiers
from herald.loyalty.contracts import (
    AwardOrderPointsInput,
    BirthdayPage,
    BirthdayPrepared,
    BirthdayQuery,
    BirthdayRewardInput,
    ExpiryBatch,
    ExpiryOutcome,
    ExpiryPage,
    ExpiryQuery,
    LedgerOutcome,
    RedemptionExpiry,
    RedemptionStatus,
    ReferralRewardInput,
    ReverseOrderPointsInput,
    TierReviewOutcome,
    TierReviewRequest,
)


class LoyaltyActivities:
    """Ledger writes. Idempotent by the ledger's unique (organization, source, source id) key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    def award_order_points(self, data: AwardOrderPointsInput) -> LedgerOutcome:
        with self._db.session(data.organization_id) as session:
            outcome = service.award_order_points(session, data)
            for code in data.redemption_codes:
                try:
                    rewards.confirm(session, code, data.order_id)
                except HeraldError as exc:  # a lapsed or unknown code: the order still counts
                    activity.logger.warning("order %s: code %s: %s", data.order_id, code, exc)
            return outcome

    @activity.defn
    def reverse_order_points(self, data: ReverseOrderPointsInput) -> LedgerOutcome:
        with self._db.session(data.organization_id) as session:
            return service.reverse_order_points(session, data)

    @activity.defn
    def reward_referral(self, request: ReferralRewardInput) -> None:
        with self._db.session(request.organization_id) as session:
            referrals.reward_referral(session, request)

    @activity.defn
    def review_tier(self, request: TierReviewRequest) -> TierReviewOutcome:
        with self._db.session(request.organization_id) as session:
            account = service.lock_account(session, request.customer_id)
            return tiers.review(session, account, request)

    @activity.defn
    def expire_redemption(self, expiry: RedemptionExpiry) -> RedemptionStatus:
        """Give the points back if the code is still unused; the final status either way."""
        with self._db.session(expiry.organization_id) as session:
            redemption = rewards.release(
                session, str(expiry.redemption_id), "expired unused", due=expiry.due
            )
            return redemption.status


class BirthdayActivities:
    """The daily sweep's lookup and each birthday's reward; idempotent by customer and year."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.find_birthdays, self.prepare_birthday]

    @activity.defn
    def find_birthdays(self, query: BirthdayQuery) -> BirthdayPage:
        with self._db.system_session() as session:  # the sweep spans organizations
            return birthdays.find_birthdays(session, query)

    @activity.defn
    def prepare_birthday(self, reward: BirthdayRewardInput) -> BirthdayPrepared:
        with self._db.session(reward.organization_id) as session:
            return birthdays.prepare_birthday(session, reward)


class ExpiryActivities:
    """The daily expiry sweep's pages; each customer's expiry is once per day."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.organizations_with_expiry, self.find_expiring, self.expire_points]

    @activity.defn
    def organizations_with_expiry(self) -> list[uuid.UUID]:
        with self._db.system_session() as session:
            return expiry.organizations_with_expiry(session)

    @activity.defn
    def find_expiring(self, organization_id: uuid.UUID, query: ExpiryQuery) -> ExpiryPage:
        with self._db.session(organization_id) as session:
            return expiry.find_expiring(session, query)

    @activity.defn
    def expire_points(self, batch: ExpiryBatch) -> ExpiryOutcome:
        total = ExpiryOutcome(expired=0, announced=0)
        for customer_id in batch.customer_ids:
            with self._db.session(batch.organization_id) as session:
                done = expiry.expire_customer(session, customer_id, batch.at)
            total.expired += done.expired
            total.announced += done.announced
            activity.heartbeat(customer_id)
        return total
