"""What a merchant's app calls directly, with an app token its backend asked Herald for: the
customer's own inbox, what to show now, a live feed of new messages, and their push devices.
Nothing else answers to an app token, and an app token reaches no other customer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy.orm import Session

from api.deps import app_customer, app_session, get_runtime, require
from api.ratelimit import app_limit
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.messaging import actions, audience, inbox
from herald.messaging.inbox import AppCustomer, AppTokenIn, AppTokenOut, InboxMessage, InboxPage
from herald.messaging.schemas import DeviceIn, DeviceOut
from herald.runtime import Runtime

router = APIRouter(tags=["app"])
# Everything under /v1/app: the app token's customer, within their budget.
app_router = APIRouter(prefix="/v1/app", tags=["app"], dependencies=[Depends(app_limit)])
AppUser = Annotated[AppCustomer, Depends(app_customer)]


@router.post(
    "/v1/customers/{customer_id}/app-token",
    response_model=AppTokenOut,
    tags=["customers"],
    summary="A short-lived token the customer's app calls the /v1/app endpoints with "
    "(ask for it from your backend, with your API key; never ship the key in an app)",
)
async def issue_app_token(
    customer_id: uuid.UUID,
    body: AppTokenIn | None = None,
    principal: Principal = Depends(require(Permission.customers_read)),
    runtime: Runtime = Depends(get_runtime),
) -> AppTokenOut:
    return await actions.issue_app_token(
        runtime, principal.organization_id, customer_id, body or AppTokenIn()
    )


@app_router.get("/inbox", response_model=InboxPage, summary="The customer's inbox, newest first")
def list_inbox(
    app: AppUser,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: Session = Depends(app_session),
) -> InboxPage:
    return inbox.inbox(session, app.customer_id, unread_only=unread, limit=limit)


@app_router.get(
    "/inbox/display",
    response_model=list[InboxMessage],
    summary="The banners and modals to show now (on app open, or on a named screen), "
    "first to show first",
)
def to_display(
    app: AppUser,
    on: Literal["app_open", "screen"] = "app_open",
    screen: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    session: Session = Depends(app_session),
) -> list[InboxMessage]:
    return inbox.to_show(session, app.customer_id, on=on, screen=screen)


async def app_stream_slot(
    app: AppUser, runtime: Runtime = Depends(get_runtime)
) -> AsyncIterator[None]:
    """Held while the stream is open: a few per customer, a bounded number per organization."""
    with (
        runtime.customer_streams.hold(app.customer_id),
        runtime.app_streams.hold(app.organization_id),
    ):
        yield


@app_router.get(
    "/inbox/stream",
    response_class=EventSourceResponse,
    summary="New in-app messages as Server-Sent Events (`event: message`) until the app token "
    "expires; then reconnect with a fresh one",
)
async def stream_inbox(
    app: AppUser,
    runtime: Runtime = Depends(get_runtime),
    _: None = Depends(app_stream_slot),
) -> AsyncIterator[ServerSentEvent]:
    async for message in actions.inbox_feed(runtime, app):
        yield ServerSentEvent(data=message, event="message", id=str(message.id))


@app_router.get("/inbox/{message_id}", response_model=InboxMessage)
def get_inbox_message(
    app: AppUser, message_id: uuid.UUID, session: Session = Depends(app_session)
) -> InboxMessage:
    return inbox.get_inbox_message(session, app.customer_id, message_id)


@app_router.post(
    "/inbox/{message_id}/read",
    response_model=InboxMessage,
    summary="Mark it read (it counts as opened); it stops showing as a banner or modal",
)
def mark_read(
    app: AppUser, message_id: uuid.UUID, session: Session = Depends(app_session)
) -> InboxMessage:
    return inbox.mark_read(session, app.customer_id, message_id)


@app_router.delete(
    "/inbox/{message_id}",
    status_code=204,
    summary="Remove it from the customer's inbox; it is never shown again",
)
def dismiss(app: AppUser, message_id: uuid.UUID, session: Session = Depends(app_session)) -> None:
    inbox.dismiss(session, app.customer_id, message_id)


@app_router.post(
    "/devices",
    response_model=DeviceOut,
    summary="Register this install's FCM registration token for push (again after FCM "
    "gives the app a new one)",
)
def register_device(
    app: AppUser, body: DeviceIn, session: Session = Depends(app_session)
) -> DeviceOut:
    return audience.register_device(session, app.customer_id, body)


@app_router.delete(
    "/devices/{device_id}", status_code=204, summary="This install gets no more push"
)
def remove_device(
    app: AppUser, device_id: uuid.UUID, session: Session = Depends(app_session)
) -> None:
    audience.remove_device(session, app.customer_id, device_id)
