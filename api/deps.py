"""Request dependencies: the caller's identity, permission guards, scoped database sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from temporalio.client import Client

from herald.access.permissions import Permission, allows
from herald.access.service import Principal, authenticate
from herald.database import Database
from herald.errors import Forbidden, Unauthorized
from herald.logs import note_organization
from herald.messaging.actions import app_customer as app_token_customer
from herald.messaging.inbox import AppCustomer
from herald.runtime import Runtime

# A page of a list that grows: how many items, and where the previous page ended.
PageLimit = Annotated[int, Query(ge=1, le=200, description="items per page (at most 200)")]
PageCursor = Annotated[
    str | None, Query(max_length=500, description="the previous page's next_cursor")
]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer hk_...`")
_app_bearer = HTTPBearer(
    auto_error=False, description="An app token: `Authorization: Bearer <token>`"
)


def get_runtime(request: Request) -> Runtime:
    """The process's runtime (built once by the app's lifespan): what domain actions take."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_db(runtime: Runtime = Depends(get_runtime)) -> Database:
    return runtime.db


async def temporal_client(runtime: Runtime = Depends(get_runtime)) -> Client:
    return await runtime.client()


def get_principal(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    db: Database = Depends(get_db),
) -> Principal:
    if credentials is None:
        raise Unauthorized("send an API key: Authorization: Bearer <key>")
    with db.system_session() as session:
        principal = authenticate(session, credentials.credentials)
    note_organization(principal.organization_id)
    return principal


def check_allowed(principal: Principal, permission: Permission) -> None:
    if not allows(principal.role, permission):
        raise Forbidden(f"the {principal.role.value} role may not do this ({permission.value})")


def require(permission: Permission) -> Callable[..., Principal]:
    def guard(principal: Principal = Depends(get_principal)) -> Principal:
        check_allowed(principal, permission)
        return principal

    return guard


def org_session(
    principal: Principal = Depends(get_principal), db: Database = Depends(get_db)
) -> Iterator[Session]:
    """A database session that only sees the caller's organization."""
    with db.session(principal.organization_id) as session:
        yield session


def app_customer(
    credentials: HTTPAuthorizationCredentials | None = Depends(_app_bearer),
    access_token: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="the app token, where no header can be set (a browser's EventSource)",
        ),
    ] = None,
    runtime: Runtime = Depends(get_runtime),
) -> AppCustomer:
    """The customer an app token speaks for (``/v1/app``): a 401 for anything else."""
    token = credentials.credentials if credentials is not None else access_token
    if not token:
        raise Unauthorized("send an app token: Authorization: Bearer <token>")
    customer = app_token_customer(runtime, token)
    note_organization(customer.organization_id)
    return customer


def app_session(
    app: AppCustomer = Depends(app_customer), db: Database = Depends(get_db)
) -> Iterator[Session]:
    """A database session that only sees the app's customer's organization."""
    with db.session(app.organization_id) as session:
        yield session
