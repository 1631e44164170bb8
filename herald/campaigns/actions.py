"""Campaign use cases that reach past the database: starting a send and steering it. The API
and the console call these; each does its own thread hand-off and Temporal calls."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy.orm import Session
from temporalio.service import RPCError, RPCStatusCode

from herald.campaigns import service
from herald.campaigns.analytics import campaign_analytics
from herald.campaigns.contracts import CANCEL_SIGNAL, PAUSE_SIGNAL, RESUME_SIGNAL, CampaignStatus
from herald.campaigns.models import ACTIVE, Campaign
from herald.campaigns.schemas import CampaignAnalytics, CampaignOut
from herald.campaigns.sending import campaign_start
from herald.db import read_snapshot
from herald.errors import Conflict
from herald.runtime import Runtime


async def send(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> CampaignOut:
    """Start the send (now, or at its send_at): a CampaignSend run carries it."""
    draft = await runtime.in_org(organization_id, lambda s: service.ready_to_send(s, campaign))
    start = campaign_start(draft)
    await runtime.start_run(start)

    def started(session: Session) -> CampaignOut:
        found = service.get_campaign(session, draft.id)
        service.mark_started(session, found, start.workflow_id)
        return service.to_out(found)

    return await runtime.in_org(organization_id, started)


class SendAction(enum.StrEnum):
    """What a marketer can do to a send under way; each is the run's signal of that name."""

    pause = PAUSE_SIGNAL
    resume = RESUME_SIGNAL
    cancel = CANCEL_SIGNAL


# The statuses each action applies to; anything else is a 409.
_ACTS_ON = {
    SendAction.pause: service.PAUSABLE,
    SendAction.resume: frozenset({CampaignStatus.paused}),
    SendAction.cancel: ACTIVE,
}


async def steer(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str, action: SendAction
) -> CampaignOut:
    """Pause (held once the batches in flight are done), resume or cancel the send."""

    def check(session: Session) -> Campaign:
        found = service.get_campaign(session, campaign)
        service.require_status(found, _ACTS_ON[action], action.value)
        return found

    found = await runtime.in_org(organization_id, check)
    handle = (await runtime.client()).get_workflow_handle(service.run_id(found))
    try:
        await handle.signal(action.value)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise Conflict("the campaign's send has ended") from exc
        raise
    return service.to_out(found)


async def analytics(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str
) -> CampaignAnalytics:
    """Per-variant results, read from one snapshot so the counts agree with each other."""

    def read(session: Session) -> CampaignAnalytics:
        read_snapshot(session)
        return campaign_analytics(session, service.get_campaign(session, campaign))

    return await runtime.in_org(organization_id, read)
