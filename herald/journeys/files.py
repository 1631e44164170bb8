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


# A document may reuse parts through aliases, but not grow past this many nodes by them: a
# few hundred bytes of nested aliases otherwise expand to billions of nodes.
MAX_EXPANDED_NODES = 20_000


def load_yaml(text: str | bytes) -> Any:
    """YAML (or JSON) through the safe loader, refused when its aliases would expand it past
    ``MAX_EXPANDED_NODES`` or refer to themselves; counted before anything is built."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_size(root) > MAX_EXPANDED_NODES:
            raise InvalidInput(
                f"the document expands to more than {MAX_EXPANDED_NODES:,} values through "
                "its aliases"
            )
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the document has once every alias is written out (each shared node is
    counted once per use, computed once)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    visiting: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if children_done:
            visiting.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                return sizes[id(node)]
            continue
        if id(node) in sizes:
            continue
        if id(node) in visiting:
            raise InvalidInput("the document refers to itself through an alias")
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_document(path: Path) -> Any:
    """A YAML or JSON file's content (JSON is YAML too)."""
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
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
