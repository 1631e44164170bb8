"""Inquiry follow-ups' Temporal names: what starters and the worker agree on. A run in flight
depends on these; renaming one strands it."""

from __future__ import annotations

FOLLOW_UP_WORKFLOW = "InquiryFollowUp"
STATE_QUERY = "state"
# One update per transition, named as the transition.
ASSIGN_UPDATE = "assign"
REPLY_UPDATE = "reply"
LEAD_RESPONSE_UPDATE = "lead_response"
CONVERT_UPDATE = "convert"
LOSE_UPDATE = "lose"
TRANSITION_UPDATES = (
    ASSIGN_UPDATE,
    REPLY_UPDATE,
    LEAD_RESPONSE_UPDATE,
    CONVERT_UPDATE,
    LOSE_UPDATE,
)
