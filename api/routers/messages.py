from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.messaging import messages, setup
from herald.messaging.providers import OutboxProvider
from herald.messaging.schemas import (
    MessageOut,
    MessagePage,
    MessagingSettingsIn,
    MessagingSettingsOut,
)

router = APIRouter(tags=["messaging"])
read = require(Permission.messages_read)


@router.get(
    "/v1/outbox",
    response_model=MessagePage,
    summary="Messages the local outbox provider recorded instead of sending",
)
def list_outbox(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> MessagePage:
    return messages.list_messages(session, provider=OutboxProvider.name, limit=limit, cursor=cursor)


@router.get("/v1/messages", response_model=MessagePage)
def list_messages(
    customer_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> MessagePage:
    return messages.list_messages(session, customer_id=customer_id, limit=limit, cursor=cursor)


@router.get("/v1/messages/{message_id}", response_model=MessageOut)
def get_message(
    message_id: uuid.UUID, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> MessageOut:
    return messages.get_message(session, message_id)


@router.get("/v1/messaging/settings", response_model=MessagingSettingsOut)
def get_messaging_settings(
    _: Principal = Depends(require(Permission.messaging_configure)),
    session: Session = Depends(org_session),
) -> MessagingSettingsOut:
    return setup.settings_out(setup.load_messaging_settings(session))


@router.put(
    "/v1/messaging/settings",
    response_model=MessagingSettingsOut,
    summary="Sender, postal address and provider accounts (secrets are write-only)",
)
def put_messaging_settings(
    body: MessagingSettingsIn,
    _: Principal = Depends(require(Permission.messaging_configure)),
    session: Session = Depends(org_session),
) -> MessagingSettingsOut:
    return setup.put_messaging_settings(session, body)
