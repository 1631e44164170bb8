"""The loyalty program's Temporal names: what starters and the worker agree on. A run in flight
depends on these; renaming one strands it."""

from __future__ import annotations

AWARD_WORKFLOW = "AwardOrderPoints"
REVERSE_WORKFLOW = "ReverseOrderPoints"
REDEMPTION_WORKFLOW = "RewardRedemption"
# Sent when a code is used or given back: its run stops holding.
SETTLED_SIGNAL = "settled"
TIER_REVIEW_WORKFLOW = "TierReview"
TIER_CHANGED_SIGNAL = "tier_changed"
REFERRAL_WORKFLOW = "ReferralReward"
BIRTHDAY_WORKFLOW = "BirthdayReward"
BIRTHDAY_SWEEP_WORKFLOW = "BirthdayRewards"
EXPIRY_SWEEP_WORKFLOW = "ExpirePoints"
