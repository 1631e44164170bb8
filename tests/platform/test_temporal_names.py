"""Every Temporal name a starter uses (workflow types, signals, queries, updates, in each
domain's ``contracts.py``) resolves to what the worker registers, and every definition the worker
registers is named by one of those constants, not by its class name by accident."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import uuid
from pathlib import Path
from typing import Any

import pytest

import herald
from herald.assembly import RUN_READERS
from worker import WORKFLOWS

pytestmark = pytest.mark.fast

KINDS = ("_WORKFLOW", "_SIGNAL", "_QUERY", "_UPDATE")


def _contract_names() -> dict[str, set[str]]:
    """Each kind's names, from every ``herald/<domain>/contracts.py``."""
    names: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for module in pkgutil.iter_modules(herald.__path__):
        try:
            contracts = importlib.import_module(f"herald.{module.name}.contracts")
        except ModuleNotFoundError:
            continue
        for attribute, value in vars(contracts).items():
            for kind in KINDS:
                if attribute.endswith(kind) and isinstance(value, str):
                    names[kind].add(value)
    return names


def _registered() -> dict[str, set[str]]:
    registered: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for cls in WORKFLOWS:
        definition: Any = cls.__temporal_workflow_definition  # type: ignore[attr-defined]
        registered["_WORKFLOW"].add(definition.name)
        registered["_SIGNAL"] |= {n for n in definition.signals if n}
        registered["_QUERY"] |= {n for n in definition.queries if n}
        registered["_UPDATE"] |= {n for n in definition.updates if n}
    return registered


def test_every_name_a_starter_uses_is_registered_and_every_registration_is_named() -> None:
    names, registered = _contract_names(), _registered()
    for kind in KINDS:
        assert names[kind] - registered[kind] == set(), f"{kind} names nobody registers"
        assert registered[kind] - names[kind] == set(), f"{kind} registered without a constant"
    assert len(names["_WORKFLOW"]) == 22


def test_no_starter_spells_a_workflow_type_by_hand() -> None:
    """Workflow types appear as literals only in the contracts: a starter that spells one out
    would keep working after a rename and strand its runs."""
    root = Path(__file__).resolve().parents[2]
    types = _contract_names()["_WORKFLOW"]
    spelled = []
    for folder in ("herald", "api", "workflows", "activities"):
        for path in (root / folder).rglob("*.py"):
            if path.name == "contracts.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in types:
                    spelled.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    assert spelled == []


def test_per_tenant_runs_are_named_type_organization_subject() -> None:
    from herald.campaigns.contracts import CAMPAIGN_WORKFLOW, campaign_workflow_id
    from herald.inquiries.contracts import FOLLOW_UP_WORKFLOW
    from herald.inquiries.service import follow_up_workflow_id
    from herald.journeys.contracts import JOURNEY_WORKFLOW, journey_workflow_id
    from herald.loyalty.contracts import REDEMPTION_WORKFLOW
    from herald.loyalty.triggers import redemption_workflow_id
    from herald.messaging.contracts import SEND_WORKFLOW, send_workflow_id

    org, subject = uuid.uuid4(), uuid.uuid4()
    assert campaign_workflow_id(org, subject) == f"{CAMPAIGN_WORKFLOW}/{org}/{subject}"
    assert journey_workflow_id(org, "welcome", subject) == (
        f"{JOURNEY_WORKFLOW}/{org}/welcome/{subject}"
    )
    assert follow_up_workflow_id(org, subject) == f"{FOLLOW_UP_WORKFLOW}/{org}/{subject}"
    assert redemption_workflow_id(org, subject) == f"{REDEMPTION_WORKFLOW}/{org}/{subject}"
    assert send_workflow_id(org, "test/1") == f"{SEND_WORKFLOW}/{org}/test/1"


def test_every_run_type_says_which_permission_may_see_it() -> None:
    """A new workflow type must be placed in the run-visibility table, or no one would see it."""
    assert set(RUN_READERS) == _registered()["_WORKFLOW"]
