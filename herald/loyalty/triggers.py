"""Which loyalty workflows an event starts."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.loyalty.schemas import AwardOrderPointsInput, ReverseOrderPointsInput
from herald.loyalty.service import ORDER_PAID, ORDER_REFUNDED
from herald.temporal import WorkflowStart

AWARD_WORKFLOW = "AwardOrderPoints"
REVERSE_WORKFLOW = "ReverseOrderPoints"


def loyalty_workflows_for(session: Session, event: Event) -> list[WorkflowStart]:
    if event.customer_id is None:
        return []
    org, order_id = event.organization_id, event.properties.get("order_id")
    if event.type == ORDER_PAID:
        arg: AwardOrderPointsInput | ReverseOrderPointsInput = AwardOrderPointsInput(
            organization_id=org,
            customer_id=event.customer_id,
            order_id=str(order_id),
            amount=Decimal(str(event.properties["amount"])),
            currency=str(event.properties["currency"]),
            event_id=event.id,
        )
        workflow = AWARD_WORKFLOW
    elif event.type == ORDER_REFUNDED:
        arg = ReverseOrderPointsInput(
            organization_id=org,
            customer_id=event.customer_id,
            order_id=str(order_id),
            event_id=event.id,
        )
        workflow = REVERSE_WORKFLOW
    else:
        return []
    return [
        WorkflowStart(
            workflow=workflow,
            # One id per (organization, order): a repeated event can never start a second award.
            workflow_id=f"{workflow}/{org}/{order_id}",
            arg=arg,
            organization_id=org,
            customer_id=event.customer_id,
        )
    ]
