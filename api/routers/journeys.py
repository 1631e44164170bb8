"""Drip journeys: definitions (JSON or YAML), versions and states, enrollment, runs, stats."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from herald.access.permissions import Permission, allows
from herald.access.service import Principal
from herald.errors import InvalidInput
from herald.journeys import actions, service
from herald.journeys.definition import JourneyDefinition
from herald.journeys.files import load_yaml
from herald.journeys.keys import JOURNEY_KEY_PATTERN, STEP_ID_PATTERN
from herald.journeys.schemas import (
    EnrollRequest,
    JourneyCreate,
    JourneyOut,
    JourneyStats,
    JourneyUpdate,
    MigrateOutcome,
    MigrateRequest,
)
from herald.journeys.simulation import SimulateRequest, SimulationResult
from herald.pagination import Page
from herald.runs.schemas import RunPage, RunQuery, RunStatus
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/journeys", tags=["journeys"])
read = require(Permission.journeys_read)
write = require(Permission.journeys_write)
operate = require(Permission.journeys_operate)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
Body = TypeVar("Body", bound=BaseModel)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Document a body read by hand: the same schema as JSON or YAML."""
    content = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": content, "application/yaml": content},
        }
    }


async def _parse(request: Request, model: type[Body]) -> Body:
    """A JSON or YAML body (by Content-Type), validated like any other request body."""
    raw = await request.body()
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    as_yaml = kind in YAML_TYPES
    try:
        data = load_yaml(raw) if as_yaml else json.loads(raw or b"null")
    except (yaml.YAMLError, ValueError) as exc:
        raise InvalidInput(f"the body is not valid {'YAML' if as_yaml else 'JSON'}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


async def create_body(request: Request) -> JourneyCreate:
    return await _parse(request, JourneyCreate)


async def update_body(request: Request) -> JourneyUpdate:
    return await _parse(request, JourneyUpdate)


@router.get("/schema", summary="The JSON Schema of a journey definition")
def journey_schema(_: Principal = Depends(read)) -> dict[str, Any]:
    return JourneyDefinition.model_json_schema(by_alias=True)


@router.post(
    "",
    status_code=201,
    response_model=JourneyOut,
    openapi_extra=_body_schema(JourneyCreate),
    summary="Create a journey as a draft (JSON or YAML)",
)
def create_journey(
    body: JourneyCreate = Depends(create_body),
    _: Principal = Depends(write),
    session: Session = Depends(org_session),
) -> JourneyOut:
    return service.journey_out(session, service.create_journey(session, body))


@router.get("", response_model=Page[JourneyOut], summary="By key")
def list_journeys(
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> Page[JourneyOut]:
    return service.list_journeys(session, limit=limit, cursor=cursor)


@router.get("/{key}", response_model=JourneyOut)
def get_journey(
    key: str, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> JourneyOut:
    return service.journey_out(session, service.get_journey(session, key))


@router.put(
    "/{key}",
    response_model=JourneyOut,
    openapi_extra=_body_schema(JourneyUpdate),
    summary="Replace the draft; published versions stay as they are",
)
def update_journey(
    key: str,
    body: JourneyUpdate = Depends(update_body),
    _: Principal = Depends(write),
    session: Session = Depends(org_session),
) -> JourneyOut:
    return service.journey_out(session, service.update_draft(session, key, body.definition))


@router.post(
    "/{key}/publish",
    response_model=JourneyOut,
    summary="Freeze the draft as the next version (unchanged drafts publish nothing); a journey "
    "that awards points or updates profiles is published by an owner or manager",
)
def publish_journey(
    key: str, principal: Principal = Depends(write), session: Session = Depends(org_session)
) -> JourneyOut:
    may = allows(principal.role, Permission.journeys_publish_effects)
    return service.journey_out(session, service.publish(session, key, may_publish_effects=may))


def _status_route(action: str, summary: str) -> None:
    def change(
        key: str, _: Principal = Depends(write), session: Session = Depends(org_session)
    ) -> JourneyOut:
        return service.journey_out(session, service.change_status(session, key, action))

    router.add_api_route(
        f"/{{key}}/{action}",
        change,
        methods=["POST"],
        response_model=JourneyOut,
        summary=summary,
        name=f"{action}_journey",
    )


_status_route("pause", "No new entries; runs hold before their next send")
_status_route("resume", "Take entries again; held runs go on")
_status_route("archive", "Retire the journey for good")


@router.post(
    "/{key}/migrate",
    response_model=MigrateOutcome,
    summary="Move waiting runs of older versions to a newer one, at the same step",
)
async def migrate_runs(
    key: str,
    body: MigrateRequest,
    principal: Principal = Depends(operate),
    runtime: Runtime = Depends(get_runtime),
) -> MigrateOutcome:
    return await actions.migrate(runtime, principal.organization_id, key, body.version)


@router.post(
    "/{key}/simulate",
    response_model=SimulationResult,
    summary="Run the journey for a real or hypothetical customer on simulated time; sends nothing",
)
async def simulate_journey(
    key: str,
    body: SimulateRequest,
    principal: Principal = Depends(read),
    runtime: Runtime = Depends(get_runtime),
) -> SimulationResult:
    return await actions.simulate(runtime, principal.organization_id, key, body)


@router.post("/{key}/enroll", status_code=202, summary="Enroll a customer by hand")
async def enroll(
    key: str,
    body: EnrollRequest,
    principal: Principal = Depends(operate),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, str]:
    workflow_id, run_id = await actions.enroll(runtime, principal.organization_id, key, body)
    return {"workflow_id": workflow_id, "run_id": run_id}


@router.get(
    "/{key}/runs", response_model=RunPage, summary="This journey's runs, by step and status"
)
async def journey_runs(
    key: Annotated[str, Path(pattern=JOURNEY_KEY_PATTERN)],
    step: Annotated[str | None, Query(pattern=STEP_ID_PATTERN)] = None,
    status: RunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    principal: Principal = Depends(read),
    runtime: Runtime = Depends(get_runtime),
) -> RunPage:
    query = RunQuery(journey=key, step=step, status=status, limit=limit, cursor=cursor)
    return await actions.journey_runs(runtime, principal.organization_id, key, query)


@router.get("/{key}/stats", response_model=JourneyStats)
async def journey_stats(
    key: str, principal: Principal = Depends(read), runtime: Runtime = Depends(get_runtime)
) -> JourneyStats:
    return await actions.stats(runtime, principal.organization_id, key)
