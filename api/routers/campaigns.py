"""Campaigns: one send of template variants to an audience, with an optional A/B test."""

from __future__ import annotations

import asyncio
import enum

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.deps import get_app_settings, get_db, get_temporal, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.campaigns import service
from herald.campaigns.analytics import campaign_analytics
from herald.campaigns.models import ACTIVE, Campaign, CampaignStatus
from herald.campaigns.schemas import CampaignAnalytics, CampaignIn, CampaignOut, CampaignUpdate
from herald.campaigns.sending import campaign_start
from herald.db import Database, read_snapshot
from herald.errors import Conflict
from herald.settings import Settings
from herald.temporal import start_run

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
read = require(Permission.campaigns_read)
write = require(Permission.campaigns_write)
operate = require(Permission.campaigns_send)


@router.get("", response_model=list[CampaignOut])
def list_campaigns(
    status: CampaignStatus | None = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> list[CampaignOut]:
    return [service.to_out(c) for c in service.list_campaigns(session, status)]


@router.post("", status_code=201, response_model=CampaignOut, summary="Save a draft")
def create_campaign(
    body: CampaignIn, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> CampaignOut:
    return service.to_out(service.create_campaign(session, body))


@router.get(
    "/{campaign}", response_model=CampaignOut, summary="By id or key, with the send's progress"
)
def get_campaign(
    campaign: str, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> CampaignOut:
    found = service.get_campaign(session, campaign)
    return service.to_out(found, service.progress(session, found))


@router.patch("/{campaign}", response_model=CampaignOut, summary="Edit a draft")
def update_campaign(
    campaign: str,
    body: CampaignUpdate,
    _: Principal = Depends(write),
    session: Session = Depends(org_session),
) -> CampaignOut:
    return service.to_out(service.update_campaign(session, campaign, body))


@router.delete("/{campaign}", status_code=204, summary="Delete a draft")
def delete_campaign(
    campaign: str, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> Response:
    service.delete_campaign(session, campaign)
    return Response(status_code=204)


@router.get("/{campaign}/analytics", response_model=CampaignAnalytics)
def analytics(
    campaign: str, principal: Principal = Depends(read), db: Database = Depends(get_db)
) -> CampaignAnalytics:
    with db.session(principal.organization_id) as session:
        read_snapshot(session)
        return campaign_analytics(session, service.get_campaign(session, campaign))


@router.post(
    "/{campaign}/send",
    status_code=202,
    response_model=CampaignOut,
    summary="Start the send (now, or at its send_at): a CampaignSend run carries it",
)
async def send_campaign(
    campaign: str,
    principal: Principal = Depends(operate),
    db: Database = Depends(get_db),
    client: Client = Depends(get_temporal),
    settings: Settings = Depends(get_app_settings),
) -> CampaignOut:
    def prepare() -> Campaign:
        with db.session(principal.organization_id) as session:
            return service.ready_to_send(session, campaign)

    draft = await asyncio.to_thread(prepare)
    await start_run(client, settings.task_queue, campaign_start(draft))

    def started() -> CampaignOut:
        with db.session(principal.organization_id) as session:
            found = service.get_campaign(session, draft.id)
            service.mark_started(session, found)
            return service.to_out(found)

    return await asyncio.to_thread(started)


class SendAction(enum.StrEnum):
    pause = "pause"
    resume = "resume"
    cancel = "cancel"


# The statuses each action applies to; anything else is a 409.
_ACTS_ON = {
    SendAction.pause: service.PAUSABLE,
    SendAction.resume: frozenset({CampaignStatus.paused}),
    SendAction.cancel: ACTIVE,
}


@router.post(
    "/{campaign}/{action}",
    status_code=202,
    response_model=CampaignOut,
    summary="Pause (held once the batches in flight are done), resume or cancel the send",
)
async def act_on_send(
    campaign: str,
    action: SendAction,
    principal: Principal = Depends(operate),
    db: Database = Depends(get_db),
    client: Client = Depends(get_temporal),
) -> CampaignOut:
    def check() -> Campaign:
        with db.session(principal.organization_id) as session:
            found = service.get_campaign(session, campaign)
            service.require_status(found, _ACTS_ON[action], action.value)
            return found

    found = await asyncio.to_thread(check)
    handle = client.get_workflow_handle(service.workflow_id(found.id))
    try:
        await handle.signal(action.value)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise Conflict("the campaign's send has ended") from exc
        raise
    return service.to_out(found)
