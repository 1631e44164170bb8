"""Journeys kept as files (YAML or JSON) in git: reading, linting, and the bundled examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.errors import InvalidInput
from herald.journeys.definition import check_graph
from herald.journeys.models import Journey
from herald.journeys.schemas import JourneyCreate
from herald.journeys.service import create_journey, publish
from herald.messaging.models import MessageTemplate
from herald.messaging.schemas import TemplateCreate
from herald.messaging.templates import create_template

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_TEMPLATES = TypeAdapter(list[TemplateCreate])


def read_document(path: Path) -> Any:
    """A YAML or JSON file's content (JSON is YAML too)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path.name}: not valid YAML or JSON: {exc}") from exc


def _first_error(exc: ValidationError) -> InvalidInput:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"])
    return InvalidInput(f"{field}: {error['msg']}", field=field)


def load_journey_file(path: Path) -> JourneyCreate:
    """The journey in ``path`` (``key`` and ``definition``), schema-checked and graph-checked.
    Templates are checked where they live: when the journey is saved."""
    try:
        journey = JourneyCreate.model_validate(read_document(path))
    except ValidationError as exc:
        raise _first_error(exc) from exc
    try:
        check_graph(journey.definition)
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, field=f"definition.{exc.field}") from exc
    return journey


def load_templates_file(path: Path) -> list[TemplateCreate]:
    try:
        return _TEMPLATES.validate_python(read_document(path))
    except ValidationError as exc:
        raise _first_error(exc) from exc


def install_examples(session: Session, directory: Path = EXAMPLES) -> list[str]:
    """Add the example templates and publish the example journeys the organization lacks.
    Returns the keys of the journeys it published."""
    have = set(session.scalars(select(MessageTemplate.key)))
    for template in load_templates_file(directory / "templates.yaml"):
        if template.key not in have:
            create_template(session, template)
    journeys = set(session.scalars(select(Journey.key)))
    published = []
    for path in sorted((directory / "journeys").glob("*.yaml")):
        journey = load_journey_file(path)
        if journey.key not in journeys:
            create_journey(session, journey)
            # The operator installs them (`herald dev`): no role stands in the way.
            publish(session, journey.key, may_publish_effects=True)
            published.append(journey.key)
    return published
