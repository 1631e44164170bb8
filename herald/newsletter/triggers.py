"""Which workflows newsletter events start."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.messaging.contracts import SEND_WORKFLOW, DeliveryRequest, send_workflow_id
from herald.newsletter.service import CONFIRMATION_REQUESTED
from herald.temporal import WorkflowStart


def newsletter_workflows_for(session: Session, event: Event) -> list[WorkflowStart]:
    if event.type != CONFIRMATION_REQUESTED:
        return []
    key = f"newsletter-confirmation/{event.id}"
    return [
        WorkflowStart(
            workflow=SEND_WORKFLOW,
            workflow_id=send_workflow_id(event.organization_id, key),
            arg=DeliveryRequest(
                organization_id=event.organization_id,
                idempotency_key=key,
                template_id=uuid.UUID(event.properties["template_id"]),
                subscriber_id=uuid.UUID(event.properties["subscriber_id"]),
            ),
            organization_id=event.organization_id,
            customer_id=event.customer_id,
            summary="Newsletter double opt-in: the confirmation email",
        )
    ]
