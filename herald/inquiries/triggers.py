"""The follow-up run an inquiry starts."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.inquiries.contracts import FOLLOW_UP_WORKFLOW, FollowUpInput, FollowUpTimers
from herald.inquiries.models import Inquiry, InquirySettings
from herald.inquiries.service import (
    INQUIRY_RECEIVED,
    follow_up_timers,
    follow_up_workflow_id,
    settings_out,
)
from herald.temporal import WorkflowStart


def _timers_details(timers: FollowUpTimers) -> str:
    return (
        f"Reminder if unassigned after {timers.unassigned_reminder}, escalation without a "
        f"reply after {timers.reply_escalation}, nudge to the lead after {timers.nudge_after}, "
        f"lost after {timers.lost_after}."
    )


def inquiry_workflows_for(session: Session, event: Event) -> list[WorkflowStart]:
    if event.type != INQUIRY_RECEIVED:
        return []
    org = event.organization_id
    inquiry_id = uuid.UUID(event.properties["inquiry_id"])
    # A system session: filter by the event's organization explicitly.
    inquiry = session.scalar(
        select(Inquiry).where(Inquiry.organization_id == org, Inquiry.id == inquiry_id)
    )
    if inquiry is None:
        return []
    settings = session.scalar(select(InquirySettings).where(InquirySettings.organization_id == org))
    timers = follow_up_timers(settings_out(settings))
    return [
        WorkflowStart(
            workflow=FOLLOW_UP_WORKFLOW,
            workflow_id=follow_up_workflow_id(org, inquiry_id),
            arg=FollowUpInput(
                organization_id=org,
                inquiry_id=inquiry_id,
                received_at=inquiry.created_at,
                timers=timers,
            ),
            organization_id=org,
            customer_id=inquiry.customer_id,
            summary=f"Follow-up of sales inquiry {inquiry_id}",
            details=_timers_details(timers),
        )
    ]
