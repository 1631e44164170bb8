"""Message delivery's Temporal names: what starters and the worker agree on."""

from __future__ import annotations

import uuid

from herald.temporal import tenant_workflow_id

SEND_WORKFLOW = "SendMessage"


def send_workflow_id(organization_id: uuid.UUID, intent_key: str) -> str:
    """One run per message intent."""
    return tenant_workflow_id(SEND_WORKFLOW, organization_id, intent_key)
