"""Which workflows the orders domain's events start."""

from __future__ import annotations

from sqlalchemy.orm import Session

from herald.events.models import Event
from herald.orders.contracts import FIGURES_STALE, REFRESH_FIGURES_WORKFLOW, FiguresRefresh
from herald.temporal import WorkflowStart, tenant_workflow_id


def orders_workflows_for(session: Session, event: Event) -> list[WorkflowStart]:
    if event.type != FIGURES_STALE:
        return []
    currency = event.properties.get("currency")
    return [
        WorkflowStart(
            workflow=REFRESH_FIGURES_WORKFLOW,
            workflow_id=tenant_workflow_id(
                REFRESH_FIGURES_WORKFLOW, event.organization_id, event.id
            ),
            arg=FiguresRefresh(organization_id=event.organization_id, currency=currency),
            organization_id=event.organization_id,
            customer_id=None,
            summary="Recompute the buyers' order figures"
            + (f" (orders in {currency})" if currency else " (reporting currency changed)"),
        )
    ]
