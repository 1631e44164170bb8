from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from api.ratelimit import test_send_limit
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.messaging import actions, templates
from herald.messaging.messages import TestSendRequest
from herald.messaging.schemas import (
    MessageOut,
    PreviewRequest,
    RenderedMessage,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)
from herald.pagination import Page
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/templates", tags=["messaging"])
read = require(Permission.templates_read)
write = require(Permission.templates_write)


@router.post("", status_code=201, response_model=TemplateOut)
def create_template(
    body: TemplateCreate, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> TemplateOut:
    return templates.template_out(templates.create_template(session, body))


@router.get("", response_model=Page[TemplateOut], summary="By key")
def list_templates(
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> Page[TemplateOut]:
    rows, next_cursor = templates.list_templates(session, limit=limit, cursor=cursor)
    return Page(items=[templates.template_out(t) for t in rows], next_cursor=next_cursor)


@router.get("/{template_id}", response_model=TemplateOut)
def get_template(
    template_id: uuid.UUID, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> TemplateOut:
    return templates.template_out(templates.get_template(session, template_id))


@router.patch("/{template_id}", response_model=TemplateOut)
def update_template(
    template_id: uuid.UUID,
    body: TemplateUpdate,
    _: Principal = Depends(write),
    session: Session = Depends(org_session),
) -> TemplateOut:
    return templates.template_out(templates.update_template(session, template_id, body))


@router.delete("/{template_id}", status_code=204)
def delete_template(
    template_id: uuid.UUID, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> None:
    templates.delete_template(session, template_id)


@router.post(
    "/{template_id}/preview",
    response_model=RenderedMessage,
    summary="Render for a customer or for sample data, without sending",
)
async def preview_template(
    template_id: uuid.UUID,
    body: PreviewRequest,
    principal: Principal = Depends(read),
    runtime: Runtime = Depends(get_runtime),
) -> RenderedMessage:
    return await actions.preview(runtime, principal.organization_id, template_id, body)


@router.post(
    "/{template_id}/test-send",
    response_model=MessageOut,
    summary="Send the template once, through the normal delivery path",
)
async def test_send(
    template_id: uuid.UUID,
    body: TestSendRequest,
    principal: Principal = Depends(write),
    _: None = Depends(test_send_limit),  # after the permission: a refused caller spends nothing
    runtime: Runtime = Depends(get_runtime),
) -> MessageOut:
    return await actions.test_send(runtime, principal.organization_id, template_id, body)
