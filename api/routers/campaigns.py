"""Campaigns: one send of template variants to an audience, with an optional A/B test."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.campaigns import actions, service
from herald.campaigns.contracts import CampaignStatus
from herald.campaigns.schemas import CampaignAnalytics, CampaignIn, CampaignOut, CampaignUpdate
from herald.pagination import Page
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
read = require(Permission.campaigns_read)
write = require(Permission.campaigns_write)
operate = require(Permission.campaigns_send)


@router.get("", response_model=Page[CampaignOut], summary="Newest first")
def list_campaigns(
    status: CampaignStatus | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> Page[CampaignOut]:
    return service.list_campaigns(session, status, limit=limit, cursor=cursor)


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
async def analytics(
    campaign: str, principal: Principal = Depends(read), runtime: Runtime = Depends(get_runtime)
) -> CampaignAnalytics:
    return await actions.analytics(runtime, principal.organization_id, campaign)


@router.post(
    "/{campaign}/send",
    status_code=202,
    response_model=CampaignOut,
    summary="Start the send (now, or at its send_at): a CampaignSend run carries it",
)
async def send_campaign(
    campaign: str, principal: Principal = Depends(operate), runtime: Runtime = Depends(get_runtime)
) -> CampaignOut:
    return await actions.send(runtime, principal.organization_id, campaign)


@router.post(
    "/{campaign}/{action}",
    status_code=202,
    response_model=CampaignOut,
    summary="Pause (held once the batches in flight are done), resume or cancel the send",
)
async def steer_send(
    campaign: str,
    action: actions.SendAction,
    principal: Principal = Depends(operate),
    runtime: Runtime = Depends(get_runtime),
) -> CampaignOut:
    return await actions.steer(runtime, principal.organization_id, campaign, action)
