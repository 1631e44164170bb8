from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from temporalio.client import Client

from api.deps import get_app_settings, get_db, get_temporal, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.db import Database
from herald.errors import StillRunning
from herald.messaging import messages, templates
from herald.messaging.delivery import DeliveryOutcome
from herald.messaging.messages import TestSendRequest
from herald.messaging.schemas import (
    MessageOut,
    PreviewRequest,
    RenderedMessage,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)
from herald.settings import Settings
from herald.temporal import WorkflowStart, start_run

router = APIRouter(prefix="/v1/templates", tags=["messaging"])
TEST_SEND_WAIT_S = 15
read = require(Permission.templates_read)
write = require(Permission.templates_write)


def _out(template: object) -> TemplateOut:
    return TemplateOut.model_validate(template, from_attributes=True)


@router.post("", status_code=201, response_model=TemplateOut)
def create_template(
    body: TemplateCreate, _: Principal = Depends(write), session: Session = Depends(org_session)
) -> TemplateOut:
    return _out(templates.create_template(session, body))


@router.get("", response_model=list[TemplateOut])
def list_templates(
    _: Principal = Depends(read), session: Session = Depends(org_session)
) -> list[TemplateOut]:
    return [_out(t) for t in templates.list_templates(session)]


@router.get("/{template_id}", response_model=TemplateOut)
def get_template(
    template_id: uuid.UUID, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> TemplateOut:
    return _out(templates.get_template(session, template_id))


@router.patch("/{template_id}", response_model=TemplateOut)
def update_template(
    template_id: uuid.UUID,
    body: TemplateUpdate,
    _: Principal = Depends(write),
    session: Session = Depends(org_session),
) -> TemplateOut:
    return _out(templates.update_template(session, template_id, body))


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
def preview_template(
    template_id: uuid.UUID,
    body: PreviewRequest,
    request: Request,
    principal: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> RenderedMessage:
    links = request.app.state.links
    return templates.preview(session, principal.organization_id, template_id, body, links)


@router.post(
    "/{template_id}/test-send",
    response_model=MessageOut,
    summary="Send the template once, through the normal delivery path",
)
async def test_send(
    template_id: uuid.UUID,
    body: TestSendRequest,
    principal: Principal = Depends(write),
    db: Database = Depends(get_db),
    client: Client = Depends(get_temporal),
    settings: Settings = Depends(get_app_settings),
) -> MessageOut:
    def prepare() -> WorkflowStart:
        with db.session(principal.organization_id) as session:
            return messages.test_send(session, principal.organization_id, template_id, body)

    start = await asyncio.to_thread(prepare)
    handle = await start_run(client, settings.task_queue, start)
    try:
        result = await asyncio.wait_for(handle.result(), timeout=TEST_SEND_WAIT_S)
    except TimeoutError as exc:
        raise StillRunning(f"the send is still running: GET /v1/runs/{start.workflow_id}") from exc
    outcome = DeliveryOutcome.model_validate(result)

    def read() -> MessageOut:
        with db.session(principal.organization_id) as session:
            return messages.get_message(session, outcome.message_id)

    return await asyncio.to_thread(read)
