"""Which loyalty workflows an event starts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.loyalty.contracts import (
    AWARD_WORKFLOW,
    REDEMPTION_WORKFLOW,
    REFERRAL_WORKFLOW,
    REVERSE_WORKFLOW,
    TIER_CHANGED_SIGNAL,
    TIER_REVIEW_WORKFLOW,
    AwardOrderPointsInput,
    RedemptionHold,
    ReferralRewardInput,
    ReverseOrderPointsInput,
    TierMember,
)
from herald.loyalty.referrals import pending_referral
from herald.loyalty.rewards import REDEMPTION_RESERVED
from herald.loyalty.service import ORDER_PAID, ORDER_REFUNDED
from herald.loyalty.tiers import TIER_CHANGED
from herald.orders.schemas import OrderPaidProperties, OrderRefundedProperties
from herald.orders.service import refund_of_event
from herald.temporal import WorkflowStart, tenant_workflow_id


def loyalty_workflows_for(session: Session, event: Event) -> list[WorkflowStart]:
    if event.customer_id is None:
        return []
    if event.type == REDEMPTION_RESERVED:
        return [_redemption_hold(event)]
    if event.type == TIER_CHANGED:
        return [_tier_review(event)]
    org = event.organization_id
    if event.type == ORDER_PAID:
        # Checked again here: a reaction trusts no stored row (the dispatcher parks it if bad).
        paid = OrderPaidProperties.model_validate(event.properties)
        order_id = paid.order_id
        starts = _referral_reward(session, event, order_id)
        arg: AwardOrderPointsInput | ReverseOrderPointsInput = AwardOrderPointsInput(
            organization_id=org,
            customer_id=event.customer_id,
            order_id=order_id,
            amount=paid.amount,
            currency=paid.currency,
            event_id=event.id,
            redemption_codes=paid.redemption_codes,
        )
        workflow = AWARD_WORKFLOW
        summary = f"Points for order {order_id} ({paid.amount} {paid.currency})"
        run_key = order_id
    elif event.type == ORDER_REFUNDED:
        order_id = OrderRefundedProperties.model_validate(event.properties).order_id
        refund = refund_of_event(session, event.id)
        if refund is None:  # a repeat stored before refunds were recorded: the first one reverses
            return []
        arg = ReverseOrderPointsInput(
            organization_id=org,
            customer_id=event.customer_id,
            order_id=order_id,
            event_id=event.id,
        )
        workflow = REVERSE_WORKFLOW
        summary = f"Take back refund {refund.refund_id}'s share of order {order_id}'s points"
        run_key = str(refund.id)
        starts = []
    else:
        return []
    return [
        *starts,
        WorkflowStart(
            workflow=workflow,
            # One id per (organization, order) for an award, per refund for a reversal: a
            # repeated event can never start a second one.
            workflow_id=tenant_workflow_id(workflow, org, run_key),
            arg=arg,
            organization_id=org,
            customer_id=event.customer_id,
            summary=summary,
        ),
    ]


def redemption_workflow_id(organization_id: uuid.UUID, redemption_id: uuid.UUID) -> str:
    return tenant_workflow_id(REDEMPTION_WORKFLOW, organization_id, redemption_id)


def _redemption_hold(event: Event) -> WorkflowStart:
    redemption_id = uuid.UUID(event.properties["redemption_id"])
    expires_at = datetime.fromisoformat(event.properties["expires_at"])
    return WorkflowStart(
        workflow=REDEMPTION_WORKFLOW,
        workflow_id=redemption_workflow_id(event.organization_id, redemption_id),
        arg=RedemptionHold(
            organization_id=event.organization_id,
            redemption_id=redemption_id,
            expires_at=expires_at,
        ),
        organization_id=event.organization_id,
        customer_id=event.customer_id,
        summary=f"Hold the points of redemption {redemption_id} until its code is used "
        f"or {expires_at:%Y-%m-%d %H:%M %Z}",
    )


def _tier_review(event: Event) -> WorkflowStart:
    """The member's review run: started with the first tier, told of every later change (a
    new tier starts a new period)."""
    assert event.customer_id is not None
    member = TierMember(organization_id=event.organization_id, customer_id=event.customer_id)
    return WorkflowStart(
        workflow=TIER_REVIEW_WORKFLOW,
        workflow_id=tenant_workflow_id(
            TIER_REVIEW_WORKFLOW, event.organization_id, event.customer_id
        ),
        arg=member,
        organization_id=event.organization_id,
        customer_id=event.customer_id,
        summary="A member's tier, reviewed at the end of each qualifying period",
        signal=TIER_CHANGED_SIGNAL,
        rerun=True,
    )


def _referral_reward(session: Session, event: Event, order_id: str) -> list[WorkflowStart]:
    """The first paid order of a referred customer rewards both (one run per referral)."""
    assert event.customer_id is not None
    referral = pending_referral(session, event.organization_id, event.customer_id)
    if referral is None:
        return []
    return [
        WorkflowStart(
            workflow=REFERRAL_WORKFLOW,
            workflow_id=tenant_workflow_id(REFERRAL_WORKFLOW, event.organization_id, referral.id),
            arg=ReferralRewardInput(
                organization_id=event.organization_id,
                referral_id=referral.id,
                order_id=order_id,
            ),
            organization_id=event.organization_id,
            customer_id=event.customer_id,
            summary=f"Referral reward for both sides of referral {referral.id}",
        )
    ]
