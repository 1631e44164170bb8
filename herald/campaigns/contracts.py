"""Campaign sends' Temporal names: what starters and the worker agree on. A run in flight
depends on these; renaming one strands it."""

from __future__ import annotations

import uuid

from herald.temporal import tenant_workflow_id

CAMPAIGN_WORKFLOW = "CampaignSend"
PAUSE_SIGNAL = "pause"
RESUME_SIGNAL = "resume"
CANCEL_SIGNAL = "cancel"
PROGRESS_QUERY = "progress"


def campaign_workflow_id(organization_id: uuid.UUID, campaign_id: uuid.UUID) -> str:
    """One send per campaign. A campaign keeps the id its run was started under
    (``Campaign.workflow_id``): runs started before this scheme are ``campaign-<id>``."""
    return tenant_workflow_id(CAMPAIGN_WORKFLOW, organization_id, campaign_id)
