"""Record workflow histories for the replay test (tests/test_workflows.py).

    .venv/bin/python scripts/record_histories.py              # the whole suite, recording
    .venv/bin/python scripts/record_histories.py tests/test_campaigns.py
    .venv/bin/python scripts/record_histories.py --from DIR   # choose from an earlier recording

The tests run with ``HERALD_RECORD_HISTORIES`` set (tests/recording.py saves every run they
start, on the dev server and the time-skipping servers). Then, per workflow type, the runs whose
shape (the kinds of history events they hold: signals, updates, timers, children,
continue-as-new, failures) is not yet in tests/histories/ are added, the richest first, a few per
type. Files already there are never replaced: they are runs of earlier workflow code that the
current code must still replay. Record after a workflow change that is behind
``workflow.patched``, and commit the new files with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "histories"
# New shapes added per workflow type and recording; histories larger than this are passed over.
PER_TYPE = 3
MAX_BYTES = 400_000


def _events(path: Path) -> list[dict[str, object]]:
    return json.loads(path.read_text())["events"]  # type: ignore[no-any-return]


def _workflow_type(events: list[dict[str, object]]) -> str:
    started = events[0]["workflowExecutionStartedEventAttributes"]
    return started["workflowType"]["name"]  # type: ignore[index,no-any-return]


def _shape(events: list[dict[str, object]]) -> frozenset[str]:
    return frozenset(str(e["eventType"]) for e in events)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def choose(recorded: Path) -> list[Path]:
    """Add the new shapes to tests/histories; the files written."""
    known: dict[str, set[frozenset[str]]] = {}
    for path in OUT.glob("*.json"):
        events = _events(path)
        known.setdefault(_workflow_type(events), set()).add(_shape(events))
    candidates = sorted(
        (p for p in recorded.glob("*.json") if p.stat().st_size <= MAX_BYTES),
        key=lambda p: (-len(_shape(_events(p))), p.stat().st_size),
    )
    added: dict[str, int] = {}
    written = []
    for path in candidates:
        events = _events(path)
        kind, shape = _workflow_type(events), _shape(events)
        if shape in known.setdefault(kind, set()) or added.get(kind, 0) >= PER_TYPE:
            continue
        known[kind].add(shape)
        added[kind] = added.get(kind, 0) + 1
        number = 1
        while (target := OUT / f"{_snake(kind)}_{number}.json").exists():
            number += 1
        target.write_text(path.read_text())
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="recorded", type=Path, help="an earlier recording")
    args, pytest_args = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        recorded = args.recorded or Path(tmp)
        if args.recorded is None:
            env = {**os.environ, "HERALD_RECORD_HISTORIES": str(recorded)}
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            subprocess.run([*command, *pytest_args], cwd=ROOT, env=env, check=True)
        for path in choose(recorded):
            print(f"recorded {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
