"""The commands an engineer types: `herald dev`, `herald migrate`, `herald orgs create`."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from cli import DEMO_PEOPLE
from herald.devserver import free_port, temporal_cli, wait_for_port
from tests.support import wait_until

HERALD = str(Path(sys.executable).parent / "herald")


def test_orgs_create_prints_an_owner_key_that_works(tmp_path: Path) -> None:
    env = {**os.environ, "HERALD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    subprocess.run([HERALD, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [HERALD, "orgs", "create", "Corner Bakery"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "corner-bakery" in created.stdout
    key = re.search(r"hk_[0-9a-f]{12}_[\w-]+", created.stdout)
    assert key is not None
    again = subprocess.run(
        [HERALD, "orgs", "create", "Corner Bakery"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 1 and "exists" in again.stdout

    from herald.access.service import authenticate
    from herald.database import Database

    db = Database(env["HERALD_DATABASE_URL"])
    with db.system_session() as session:
        assert authenticate(session, key.group(0)).role.value == "owner"
    db.dispose()


@dataclass
class Dev:
    """`herald dev` started in a folder of its own, on free ports, as its own process group."""

    process: subprocess.Popen[bytes]
    temporal: int
    ui: int
    api: int
    log: Path


def _start_dev(folder: Path) -> Dev:
    temporal, ui, api = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "HERALD_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "HERALD_TEMPORAL_UI_PORT": str(ui),
        "HERALD_API_PORT": str(api),
        "HERALD_TASK_QUEUE": f"herald-dev-{folder.name}",
    }
    env.pop("HERALD_DATABASE_URL", None)  # the embedded default: SQLite under .herald/
    log = folder / "dev.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [HERALD, "dev"],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Dev(process, temporal, ui, api, log)


def test_herald_dev_brings_up_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    dev = _start_dev(tmp_path)
    try:
        wait_for_port(dev.api, timeout_s=90)
        key = wait_until(lambda: (tmp_path / ".herald" / "demo-owner-key").exists())
        key = (tmp_path / ".herald" / "demo-owner-key").read_text().strip()
        wait_until(lambda: key in dev.log.read_text(), timeout_s=30)
        base = f"http://127.0.0.1:{dev.api}"
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            assert wait_until(lambda: client.get("/readyz").status_code == 200)
            assert client.get("/docs").status_code == 200
            # The demo shop comes with sample customers who accept marketing email: a
            # campaign can be built and sent from the console alone.
            sample = client.get("/v1/customers", params={"limit": 100}).json()["items"]
            assert sorted(c["name"] for c in sample) == sorted(p[0] for p in DEMO_PEOPLE)
            readers = client.post("/v1/segments/preview", json={"rule": {"consent": "email"}})
            assert readers.json()["count"] == len(DEMO_PEOPLE)
            customer = client.post("/v1/customers", json={"name": "Dev", "external_id": "d-1"})
            assert customer.status_code == 201
            client.post(
                "/v1/events",
                json={
                    "type": "order.paid",
                    "customer": {"external_id": "d-1"},
                    "properties": {"order_id": "D-1", "amount": "5", "currency": "USD"},
                },
            )
            points = wait_until(
                lambda: client.get(f"/v1/customers/{customer.json()['id']}/points").json()[
                    "balance"
                ]
            )
            assert points == 5

            # The example welcome series: joining the newsletter sends its first email soon.
            reader = client.post(
                "/v1/customers", json={"name": "Rae Kim", "emails": ["rae@example.com"]}
            ).json()
            joined = client.post("/v1/newsletter/subscribers", json={"email": "rae@example.com"})
            assert joined.status_code == 201 and joined.json()["customer_id"] == reader["id"]
            [welcome] = wait_until(
                lambda: [
                    m
                    for m in client.get("/v1/outbox").json()["items"]
                    if m["customer_id"] == reader["id"]
                ]
            )
            assert welcome["content"]["subject"] == "Welcome to Demo Shop, Rae"
            assert "List-Unsubscribe" in welcome["content"]["headers"]
        listed = subprocess.run(
            [
                temporal_cli(),
                "workflow",
                "list",
                "--address",
                f"127.0.0.1:{dev.temporal}",
                "--query",
                "HeraldJourney='welcome-series'",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "JourneyRun" in listed.stdout and reader["id"] in listed.stdout, listed.stdout
        assert httpx.get(f"http://127.0.0.1:{dev.ui}/", timeout=10).status_code == 200
        assert (tmp_path / ".herald" / "herald.db").exists()
        assert (tmp_path / ".herald" / "temporal.db").exists()
    finally:
        os.killpg(dev.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        code = dev.process.wait(timeout=60)
    assert code == 0, dev.log.read_text()[-2000:]
    for port in (dev.temporal, dev.ui, dev.api):
        wait_until(lambda port=port: _closed(port), timeout_s=20)


def test_sigterm_to_herald_dev_stops_everything_it_started(tmp_path: Path) -> None:
    """A service manager (or `kill PID`) signals the one process it started, not its group."""
    dev = _start_dev(tmp_path)
    try:
        wait_for_port(dev.api, timeout_s=90)
        dev.process.send_signal(signal.SIGTERM)
        assert dev.process.wait(timeout=60) == 0, dev.log.read_text()[-2000:]
        for port in (dev.temporal, dev.ui, dev.api):
            wait_until(lambda port=port: _closed(port), timeout_s=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.process.pid, signal.SIGKILL)  # what is left: a failure leaks nothing


def _closed(port: int) -> bool:
    try:
        wait_for_port(port, timeout_s=0.2)
    except TimeoutError:
        return True
    return False


def test_journeys_lint_names_the_file_and_the_fault(tmp_path: Path) -> None:
    good = Path(__file__).resolve().parents[2] / "examples" / "journeys" / "win-back.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "key: bad\ndefinition:\n  name: Bad\n  steps:\n"
        "    - {id: a, type: send, channel: email, template: t, next: nowhere}\n"
    )
    linted = subprocess.run(
        [HERALD, "journeys", "lint", str(good), str(bad)], capture_output=True, text=True
    )
    assert linted.returncode == 1
    assert "✔" in linted.stdout and "win-back" in linted.stdout
    assert "bad.yaml" in linted.stdout and "'nowhere', which is not a step" in linted.stdout


def test_herald_api_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    """A key made up per host would sign links other replicas refuse: outside `herald dev`
    the secret is required."""
    env = {**os.environ, "HERALD_API_PORT": str(free_port())}
    for name in ("HERALD_DATABASE_URL", "HERALD_SECRET_KEY", "HERALD_DEV"):
        env.pop(name, None)
    done = subprocess.run(
        [HERALD, "api"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "set HERALD_SECRET_KEY" in done.stdout + done.stderr
    assert not (tmp_path / ".herald" / "secret-key").exists()


def test_sigterm_stops_herald_api_after_a_clean_shutdown(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HERALD_API_PORT": str(port),
        "HERALD_API_ACCESS_LOG": "false",
        "HERALD_SECRET_KEY": "a-secret-for-this-test",
    }
    env.pop("HERALD_DATABASE_URL", None)
    log = tmp_path / "api.log"
    with open(log, "wb") as output:
        api = subprocess.Popen(
            [HERALD, "api"], cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, timeout_s=60)
        api.send_signal(signal.SIGTERM)
        # Uvicorn shuts down (the lifespan's end: the event sweeper stopped, the database
        # closed), then ends by the signal it was sent, as its parent expects.
        assert api.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in log.read_text()
        wait_until(lambda: _closed(port), timeout_s=10)
    finally:
        if api.poll() is None:
            api.kill()
