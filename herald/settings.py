"""Runtime settings, read from the environment (prefix ``HERALD_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from herald.secrets import SecretKeyMissing, SecretKeys

# Local state of the embedded setup (SQLite file, Temporal dev server database, demo key).
STATE_DIR = Path(".herald")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HERALD_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{STATE_DIR / 'herald.db'}",
        description="SQLAlchemy URL; PostgreSQL in production (postgresql+psycopg://...).",
    )
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "herald"
    # Worker processes `herald worker` runs (one core each): workflow and activity code is
    # Python, so one process uses one core at a time.
    worker_processes: int = Field(default=1, ge=1, le=64)
    # Where the worker serves its Prometheus metrics (all its processes added up); 0: nowhere.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # How often the API sweeps stored events that could not be handed to Temporal yet.
    dispatch_interval_s: float = 1.0
    # How often a process asks Temporal whether runs under a retired workflow-id scheme are
    # still open (their events are routed to them until they end).
    legacy_run_check_s: float = 60.0
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_access_log: bool = True
    # Where providers and recipients reach this API (webhooks, unsubscribe links).
    public_url: str = "http://127.0.0.1:8000"
    # How long an export's file can be downloaded before it is deleted.
    export_lifetime_h: float = Field(default=24.0, gt=0, le=24 * 30)
    # The root of every key (signed links, credentials at rest). Required outside `herald dev`,
    # which makes one under .herald/.
    secret_key: str = ""
    # Secrets it replaced (comma-separated), still accepted until removed: see docs/SECURITY.md.
    previous_secret_keys: str = ""
    # Temporal payloads encrypted under the secret key (herald.payloads). Every client, worker
    # and the UI's codec must agree. Off only to measure what it costs, or where the Temporal
    # cluster itself is trusted with customers' data.
    payload_encryption: bool = True
    # Request metrics and /metrics on the API (the worker's are on when its port is set). Off
    # only to measure what they cost.
    metrics: bool = True
    # Set by `herald dev` for the processes it starts: local conveniences (a made-up secret).
    dev: bool = False
    temporal_ui_port: int = 8233
    # Where the Temporal UI is served from (comma-separated origins): it may call the payload
    # codec endpoint from the browser. Empty: the local dev UI.
    temporal_ui_origins: str = ""
    # Networks Herald may call although they are not public (comma-separated addresses or
    # CIDRs): an internal mail relay, the local fakes in tests. Empty: public addresses only.
    outbound_allow: str = ""
    # Where rate-limit counters live: empty for Herald's database (shared by every API process),
    # or a `limits` storage URI such as redis://host:6379 (install the `redis` extra).
    rate_limit_storage: str = ""
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses or CIDRs).
    # Empty: the socket's address is the client, as when nothing sits in front of the API.
    trusted_proxies: str = ""


def ui_origins(settings: Settings) -> list[str]:
    given = [o.strip() for o in settings.temporal_ui_origins.split(",") if o.strip()]
    port = settings.temporal_ui_port
    return given or [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


@lru_cache
def get_settings() -> Settings:
    return Settings()


def secret_keys(settings: Settings) -> SecretKeys:
    """The deployment's secret keys. Outside `herald dev` the secret must be configured: a key
    made up per host would sign links another replica refuses and seal credentials it cannot
    open. `herald dev` makes one under .herald/ (API and worker share the file)."""
    previous = tuple(k.strip() for k in settings.previous_secret_keys.split(",") if k.strip())
    if settings.secret_key:
        return SecretKeys(settings.secret_key, previous)
    if not settings.dev:
        raise SecretKeyMissing(
            "set HERALD_SECRET_KEY (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`); only `herald dev` makes one up"
        )
    path = STATE_DIR / "secret-key"
    if not path.exists():
        # Written aside and linked into place, so a process starting at the same moment never
        # reads a half-written file; whichever link lands first is the key for everyone.
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"secret-key.{os.getpid()}.tmp")
        draft.write_text(secrets.token_urlsafe(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return SecretKeys(path.read_text().strip(), previous)
