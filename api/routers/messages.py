from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.messaging import audience, inbox, messages, setup
from herald.messaging.inbox import InboxMessage, InboxPage
from herald.messaging.models import Channel
from herald.messaging.providers import OutboxProvider
from herald.messaging.schemas import (
    ConsentIn,
    ConsentOut,
    DeviceIn,
    DeviceOut,
    MessageOut,
    MessagePage,
    MessagingSettingsIn,
    MessagingSettingsOut,
    SuppressionIn,
    SuppressionOut,
)
from herald.pagination import Page
from herald.runtime import Runtime

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
    return setup.settings_out(session, setup.load_messaging_settings(session))


@router.put(
    "/v1/messaging/settings",
    response_model=MessagingSettingsOut,
    summary="Sender, postal address and provider accounts (secrets are write-only)",
)
def put_messaging_settings(
    body: MessagingSettingsIn,
    _: Principal = Depends(require(Permission.messaging_configure)),
    session: Session = Depends(org_session),
    runtime: Runtime = Depends(get_runtime),
) -> MessagingSettingsOut:
    return setup.put_messaging_settings(session, body, runtime.outbound)


@router.get("/v1/customers/{customer_id}/consent", response_model=ConsentOut, tags=["customers"])
def get_consent(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> ConsentOut:
    return audience.get_consent(session, customer_id)


@router.put(
    "/v1/customers/{customer_id}/consent",
    response_model=ConsentOut,
    tags=["customers"],
    summary="Grant or revoke marketing consent per channel",
)
def set_consent(
    customer_id: uuid.UUID,
    body: ConsentIn,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> ConsentOut:
    return audience.set_consent(session, customer_id, body)


@router.get("/v1/suppressions", response_model=Page[SuppressionOut], summary="Newest first")
def list_suppressions(
    channel: Channel | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> Page[SuppressionOut]:
    return audience.list_suppressions(session, channel, limit=limit, cursor=cursor)


@router.post("/v1/suppressions", status_code=201, response_model=SuppressionOut)
def add_suppression(
    body: SuppressionIn,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> SuppressionOut:
    return audience.add_suppression(session, body)


@router.delete("/v1/suppressions/{suppression_id}", status_code=204)
def remove_suppression(
    suppression_id: uuid.UUID,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> None:
    audience.remove_suppression(session, suppression_id)


@router.get("/v1/customers/{customer_id}/inbox", response_model=InboxPage, tags=["customers"])
def get_inbox(
    customer_id: uuid.UUID,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> InboxPage:
    return inbox.inbox(session, customer_id, unread_only=unread, limit=limit)


@router.post(
    "/v1/customers/{customer_id}/inbox/{message_id}/read",
    response_model=InboxMessage,
    tags=["customers"],
)
def mark_read(
    customer_id: uuid.UUID,
    message_id: uuid.UUID,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> InboxMessage:
    return inbox.mark_read(session, customer_id, message_id)


@router.post(
    "/v1/customers/{customer_id}/devices",
    response_model=DeviceOut,
    tags=["customers"],
    summary="Register the customer's app install for push (FCM registration token)",
)
def register_device(
    customer_id: uuid.UUID,
    body: DeviceIn,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> DeviceOut:
    return audience.register_device(session, customer_id, body)


@router.get(
    "/v1/customers/{customer_id}/devices", response_model=list[DeviceOut], tags=["customers"]
)
def list_devices(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> list[DeviceOut]:
    return audience.list_devices(session, customer_id)


@router.delete(
    "/v1/customers/{customer_id}/devices/{device_id}", status_code=204, tags=["customers"]
)
def remove_device(
    customer_id: uuid.UUID,
    device_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_update)),
    session: Session = Depends(org_session),
) -> None:
    audience.remove_device(session, customer_id, device_id)
