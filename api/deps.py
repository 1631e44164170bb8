"""Request dependencies: the caller's identity, permission guards, scoped database sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from temporalio.client import Client

from herald.access.permissions import Permission, allows
from herald.access.service import Principal, authenticate
from herald.db import Database
from herald.errors import Forbidden, Unauthorized
from herald.events.dispatch import EventDispatcher
from herald.settings import Settings
from herald.temporal import TemporalConnection

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer hk_...`")


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_dispatcher(request: Request) -> EventDispatcher:
    return request.app.state.dispatcher  # type: ignore[no-any-return]


async def get_temporal(request: Request) -> Client:
    connection: TemporalConnection = request.app.state.temporal
    return await connection.client()


def get_principal(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    db: Database = Depends(get_db),
) -> Principal:
    if credentials is None:
        raise Unauthorized("send an API key: Authorization: Bearer <key>")
    with db.system_session() as session:
        return authenticate(session, credentials.credentials)


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
