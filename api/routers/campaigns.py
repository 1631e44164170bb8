"""Campaigns: one send of template variants to an audience, with an optional A/B test."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.campaigns import actions, service
from herald.campaigns.schemas import (
    Audience,
    AudienceSize,
    CampaignAnalytics,
    CampaignFilters,
    CampaignIn,
    CampaignOut,
    CampaignUpdate,
)
from herald.pagination import Page
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
read = require(Permission.campaigns_read)
write = require(Permission.campaigns_write)
operate = require(Permission.campaigns_send)


@router.get("", response_model=Page[CampaignOut], summary="Newest first")
def list_campaigns(
    filters: Annotated[CampaignFilters, Query()],
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> Page[CampaignOut]:
    """Archived campaigns only with ``status=archived``; ``since`` and ``until`` bound when
    each goes out."""
    return service.list_campaigns(session, filters, limit=limit, cursor=cursor)


@router.post(
    "/audience-size",
    response_model=AudienceSize,
    summary="How many customers an audience holds now",
)
def audience_size(
    body: Audience, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> AudienceSize:
    return AudienceSize(customers=service.audience_size(session, body))


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


@router.post(
    "/{campaign}/duplicate",
    status_code=201,
    response_model=CampaignOut,
    summary="A new draft like this one, with copies of its templates",
)
def duplicate_campaign(
    campaign: str, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> CampaignOut:
    return service.to_out(service.duplicate_campaign(session, campaign))


@router.post(
    "/{campaign}/archive",
    response_model=CampaignOut,
    summary="File away a draft or a finished campaign (out of the list, results kept)",
)
def archive_campaign(
    campaign: str, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> CampaignOut:
    return service.to_out(service.archive_campaign(session, campaign))


@router.post(
    "/{campaign}/unarchive", response_model=CampaignOut, summary="Restore an archived campaign"
)
def unarchive_campaign(
    campaign: str, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> CampaignOut:
    return service.to_out(service.unarchive_campaign(session, campaign))


@router.get("/{campaign}/analytics", response_model=CampaignAnalytics)
async def analytics(
    campaign: str, principal: Principal = Depends(read), runtime: Runtime = Depends(get_runtime)
) -> CampaignAnalytics:
    return await actions.analytics(runtime, principal.organization_id, campaign)


@router.get(
    "/{campaign}/report.csv",
    response_class=PlainTextResponse,
    summary="Per-variant results as CSV: counts, rates and their 95% intervals",
)
async def report_csv(
    campaign: str, principal: Principal = Depends(read), runtime: Runtime = Depends(get_runtime)
) -> Response:
    text = await actions.report_csv(runtime, principal.organization_id, campaign)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign}.csv"'},
    )


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
