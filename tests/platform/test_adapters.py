"""The adapters stay thin, checked on their source: an ``async def`` route never does
synchronous database work (it would stall the event loop and every request on it), and the
thread hand-off and Temporal calls live in the domain's actions, not in routes."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = [ROOT / "api"] + ([ROOT / "console"] if (ROOT / "console").exists() else [])
# Calls that are synchronous database work.
DATABASE_CALLS = frozenset(
    {"session", "system_session", "execute", "scalar", "scalars", "commit", "flush", "refresh"}
)
# What a route leaves to the domain's actions.
DOMAIN_ONLY_CALLS = frozenset({"to_thread", "run_in_executor", "start_workflow", "signal"})


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for folder in ADAPTERS:
        for path in sorted(folder.rglob("*.py")):
            yield path, ast.parse(path.read_text(), filename=str(path))


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _findings_in_async(function: ast.AsyncFunctionDef) -> Iterator[str]:
    arguments = function.args.args + function.args.kwonlyargs
    for argument in arguments:
        annotation = ast.unparse(argument.annotation) if argument.annotation else ""
        if annotation in {"Session", "Database"}:
            yield f"takes a {annotation} ({argument.arg})"
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        if name in DATABASE_CALLS:
            yield f"calls .{name}() (synchronous database work)"
        passed = [a for a in node.args if isinstance(a, ast.Name)]
        if any(a.id == "session" for a in passed):
            yield f"passes a session to {name}()"


def _findings(module: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(module):
        if isinstance(node, ast.AsyncFunctionDef):
            for finding in _findings_in_async(node):
                yield node.lineno, f"async def {node.name} {finding}"
        if isinstance(node, ast.Call) and _called_name(node) in DOMAIN_ONLY_CALLS:
            yield node.lineno, f"calls {_called_name(node)}() (a domain action's work)"
        if isinstance(node, ast.Attribute) and ast.unparse(node).endswith("app.state.links"):
            yield node.lineno, "reads app.state directly (take the Runtime from api.deps)"


def test_no_route_does_synchronous_database_work_or_a_domain_actions_work() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {finding}"
        for path, module in _sources()
        for line, finding in _findings(module)
    ]
    assert found == [], "\n".join(found)


def test_the_check_catches_what_it_looks_for() -> None:
    """A route written the old way is caught, so the check above cannot pass vacuously."""
    offending = ast.parse(
        "async def confirm(code: str, db: Database) -> None:\n"
        "    with db.session(org) as session:\n"
        "        rewards.confirm(session, code)\n"
        "    await asyncio.to_thread(work)\n"
    )
    findings = [finding for _, finding in _findings(offending)]
    assert "async def confirm takes a Database (db)" in findings
    assert "async def confirm calls .session() (synchronous database work)" in findings
    assert "async def confirm passes a session to confirm()" in findings
    assert "calls to_thread() (a domain action's work)" in findings
