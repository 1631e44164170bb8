"""Segments: audiences described once as a rule tree, sized and listed live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.pagination import Page
from herald.runtime import Runtime
from herald.segments import actions, service
from herald.segments.rules import Rule
from herald.segments.schemas import (
    MemberPage,
    SegmentComparison,
    SegmentIn,
    SegmentOut,
    SegmentPreview,
    SegmentSizes,
    SegmentTemplate,
    SegmentUpdate,
)

router = APIRouter(prefix="/v1/segments", tags=["segments"])
read = require(Permission.segments_read)
write = require(Permission.segments_write)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: Rule


@router.get("", response_model=Page[SegmentOut], summary="By name")
def list_segments(
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> Page[SegmentOut]:
    return service.list_segments(session, limit=limit, cursor=cursor)


@router.get(
    "/templates",
    response_model=list[SegmentTemplate],
    summary="Ready-made audiences (VIP, at risk, new, inactive) to start from",
)
def list_templates(_: Principal = Depends(read)) -> list[SegmentTemplate]:
    return service.TEMPLATES


@router.post(
    "/preview",
    response_model=SegmentPreview,
    summary="Size an unsaved rule while it is being written",
)
def preview_rule(
    body: RuleIn, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> SegmentPreview:
    return service.preview(session, body.rule)


@router.get(
    "/compare",
    response_model=SegmentComparison,
    summary="Two segments side by side: sizes, overlap and revenue",
)
def compare_segments(
    a: Annotated[str, Query(min_length=1, max_length=100, description="id or key")],
    b: Annotated[str, Query(min_length=1, max_length=100, description="id or key")],
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> SegmentComparison:
    return service.compare(session, a, b)


@router.post("", status_code=201, response_model=SegmentOut)
def create_segment(
    body: SegmentIn, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> SegmentOut:
    return service.to_out(service.create_segment(session, body))


@router.get("/{segment}", response_model=SegmentOut, summary="By id or key")
def get_segment(
    segment: str, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> SegmentOut:
    return service.to_out(service.get_segment(session, segment))


@router.patch("/{segment}", response_model=SegmentOut)
def update_segment(
    segment: str,
    body: SegmentUpdate,
    _: Principal = Depends(write),
    session: Session = Depends(org_session),
) -> SegmentOut:
    return service.to_out(service.update_segment(session, segment, body))


@router.delete("/{segment}", status_code=204)
def delete_segment(
    segment: str, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> None:
    service.delete_segment(session, segment)


@router.get(
    "/{segment}/preview",
    response_model=SegmentPreview,
    summary="How many customers match now, and the first few",
)
def preview_segment(
    segment: str, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> SegmentPreview:
    return service.preview(session, service.rule_of(service.get_segment(session, segment)))


@router.get("/{segment}/members", response_model=MemberPage)
def segment_members(
    segment: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> MemberPage:
    rule = service.rule_of(service.get_segment(session, segment))
    return service.members(session, rule, limit=limit, cursor=cursor)


@router.get(
    "/{segment}/export.csv",
    response_class=StreamingResponse,
    summary="Every member as CSV (id, name, email, created_at), one consistent read",
)
async def export_segment(
    segment: str, principal: Principal = Depends(read), runtime: Runtime = Depends(get_runtime)
) -> StreamingResponse:
    # Starlette iterates a plain iterator on a worker thread.
    key, rows = await actions.export_csv(runtime, principal.organization_id, segment)
    return StreamingResponse(
        rows,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{key}.csv"'},
    )


@router.get(
    "/{segment}/sizes",
    response_model=SegmentSizes,
    summary="Its size over time: the daily record, oldest first",
)
def segment_sizes(
    segment: str,
    days: Annotated[int, Query(ge=1, le=730)] = 90,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> SegmentSizes:
    return service.size_history(session, segment, days=days)
