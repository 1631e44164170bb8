"""The ``herald`` command."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from herald.settings import STATE_DIR, get_settings, secret_keys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(help="Herald: marketing automation engine on Temporal.", no_args_is_help=True)
orgs = typer.Typer(help="Organizations (brands).", no_args_is_help=True)
app.add_typer(orgs, name="orgs")
secrets_app = typer.Typer(help="The secret key and what it seals.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
journeys = typer.Typer(help="Journeys kept as YAML or JSON files.", no_args_is_help=True)
app.add_typer(journeys, name="journeys")
console = Console()

DEMO_KEY_FILE = STATE_DIR / "demo-owner-key"
# The demo owner's console password, made up on first start and kept for the next ones.
DEMO_PASSWORD_FILE = STATE_DIR / "demo-owner-password"
DEMO_OWNER = "owner@demo.example"
# Marketing email carries the sender's postal address (CAN-SPAM); the demo shop has this one.
DEMO_ADDRESS = "Demo Shop, 1 Example Street, Springfield"


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from herald.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    console.print("[green]database is up to date[/green]")


@app.command()
def api() -> None:
    """Serve the HTTP API."""
    import uvicorn

    from herald.logs import logging_config

    settings = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_config=logging_config(),
        access_log=settings.api_access_log,
        # X-Forwarded-For is believed from these peers only (uvicorn picks the client).
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )


@app.command()
def worker() -> None:
    """Run the Temporal worker (same as ``python worker.py``)."""
    from worker import main

    main()


@secrets_app.command("rotate")
def rotate_secrets() -> None:
    """Seal every stored provider credential under the current HERALD_SECRET_KEY.

    Rotate by setting the new secret, listing the old one in HERALD_PREVIOUS_SECRET_KEYS,
    restarting, then running this. Remove the old secret once links sent under it may expire.
    """
    from herald.database import Database
    from herald.messaging.setup import reseal_credentials
    from herald.secrets import Envelope

    settings = get_settings()
    keys = secret_keys(settings)
    db = Database(settings.database_url)
    with db.system_session() as session:
        changed = reseal_credentials(session, Envelope(keys))
    db.dispose()
    console.print(f"{changed} credential(s) sealed under the current secret key")


@secrets_app.command("operator-token")
def print_operator_token() -> None:
    """The operator token for the payload codec endpoint: in the Temporal UI's Codec Server
    setting, give HERALD_PUBLIC_URL/codec/<token> to see decrypted payloads."""
    from herald.secrets import operator_token

    settings = get_settings()
    token = operator_token(secret_keys(settings))
    console.print(f"{settings.public_url.rstrip('/')}/codec/{token}", soft_wrap=True)


@orgs.command("create")
def create_org(
    name: str, slug: str = typer.Option(None, help="URL name; derived from NAME if omitted")
) -> None:
    """Create an organization and print its owner API key (shown once)."""
    from herald.database import Database
    from herald.errors import HeraldError
    from herald.organizations.service import create_organization

    db = Database(get_settings().database_url)
    try:
        with db.system_session() as session:
            org, key = create_organization(session, name, slug)
    except HeraldError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    table = Table(show_header=False)
    table.add_row("organization", f"{org.name} ({org.slug})")
    table.add_row("id", str(org.id))
    table.add_row("owner API key", key.secret)
    console.print(table)
    console.print("Store the key now: it is not shown again.")


def _demo_password() -> str:
    if not DEMO_PASSWORD_FILE.exists():
        DEMO_PASSWORD_FILE.write_text(secrets.token_urlsafe(12) + "\n")
        DEMO_PASSWORD_FILE.chmod(0o600)
    return DEMO_PASSWORD_FILE.read_text().strip()


# The demo shop's sample customers on its first start: enough to build a segment and send a
# campaign from the console alone (each accepts marketing email; the outbox receives it).
DEMO_PEOPLE = [
    ("Alice Martin", "en", ["vip"]),
    ("Bruno Keller", "de", []),
    ("Chloé Dubois", "fr", ["vip"]),
    ("Dev Patel", "en", []),
    ("Elena Rossi", "it", []),
    ("Farah Haddad", "en", ["wholesale"]),
    ("Gustav Berg", "de", ["vip"]),
    ("Hana Sato", "en", []),
    ("Ines Lopes", "pt", []),
    ("Jonas Weber", "de", []),
    ("Kofi Mensah", "en", ["vip"]),
    ("Lena Novak", "en", []),
]


def _demo_customers(session: Session) -> int:
    """The sample customers, once: only into a shop that has none yet."""
    from sqlalchemy import func, select

    from herald.customers.models import Customer
    from herald.customers.schemas import CustomerCreate, EmailIn
    from herald.customers.service import create_customer
    from herald.messaging.audience import record_consents
    from herald.messaging.models import ConsentStatus
    from herald.messaging.schemas import ConsentIn

    if session.scalar(select(func.count()).select_from(Customer)):
        return 0
    consents = {}
    for name, locale, tags in DEMO_PEOPLE:
        email = name.lower().replace(" ", ".").replace("é", "e") + "@demo.example"
        customer = create_customer(
            session,
            CustomerCreate(name=name, emails=[EmailIn(address=email)], locale=locale, tags=tags),
            commit=False,
            source="demo",
        )
        consents[customer.id] = ConsentIn(email=ConsentStatus.granted, source="demo")
    record_consents(session, consents)
    session.commit()
    return len(DEMO_PEOPLE)


def _demo_key() -> str:
    """Create the demo organization on first start; later starts read its key back. The demo
    owner gets a console password (kept in .herald/)."""
    from sqlalchemy import select

    from herald.access.models import Role
    from herald.access.service import create_user, list_users
    from herald.database import Database
    from herald.journeys.files import install_examples
    from herald.messaging.schemas import MessagingSettingsIn
    from herald.messaging.setup import put_messaging_settings
    from herald.organizations.models import Organization
    from herald.organizations.service import create_organization
    from herald.outbound import Outbound
    from herald.staff.service import give_password

    db = Database(get_settings().database_url)
    with db.system_session() as session:
        demo = session.scalar(select(Organization.id).where(Organization.slug == "demo"))
        if demo is None:
            org, key = create_organization(session, "Demo Shop", "demo")
            demo = org.id
            DEMO_KEY_FILE.write_text(key.secret + "\n")
            DEMO_KEY_FILE.chmod(0o600)
    with db.session(demo) as session:
        # No provider address is set here, so there is nothing for the outbound guard to vet.
        put_messaging_settings(
            session, MessagingSettingsIn(postal_address=DEMO_ADDRESS), Outbound()
        )
        # People to hand sales inquiries to; their emails land in the outbox.
        staff = {Role.owner: DEMO_OWNER, Role.sales: "sales@demo.example"}
        known = {user.email: user for user in list_users(session, staff)}
        for role, email in staff.items():
            if email not in known:
                known[email] = create_user(session, email, role)
        if known[DEMO_OWNER].password_hash is None:
            give_password(session, known[DEMO_OWNER].id, _demo_password())
        for journey in install_examples(session):
            console.print(f"published example journey [bold]{journey}[/bold]")
        if added := _demo_customers(session):
            console.print(f"added {added} sample customers who accept marketing email")
    db.dispose()
    return DEMO_KEY_FILE.read_text().strip() if DEMO_KEY_FILE.exists() else "(see earlier output)"


@app.command()
def dev() -> None:
    """Everything on this machine: Temporal dev server with its UI, database, worker and API."""
    from herald.devserver import herald_command, start_dev_server, wait_for_port
    from herald.migrate import upgrade
    from herald.secrets import operator_token

    settings = get_settings()
    STATE_DIR.mkdir(exist_ok=True)
    temporal_port = int(settings.temporal_address.rsplit(":", 1)[1])
    children: list[subprocess.Popen[bytes]] = []

    def stop_all() -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in reversed(children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

    def stop_on_sigterm(signum: int, frame: object) -> None:
        # A service manager or `kill` stops `herald dev` as Ctrl-C does: through stop_all.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        console.print("starting Temporal dev server ...")
        children.append(
            start_dev_server(
                port=temporal_port,
                ui_port=settings.temporal_ui_port,
                db_file=STATE_DIR / "temporal.db",
                namespace=settings.temporal_namespace,
                log_file=STATE_DIR / "temporal.log",
            )
        )
        wait_for_port(temporal_port)
        upgrade(settings.database_url)
        key = _demo_key()
        # HERALD_DEV: the processes may make up a local secret key (nowhere else).
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HERALD_DEV": "true"}
        children.append(subprocess.Popen(herald_command("worker"), env=env))
        children.append(subprocess.Popen(herald_command("api"), env=env))
        wait_for_port(settings.api_port)
        base = f"http://{settings.api_host}:{settings.api_port}"
        # Payloads are encrypted; the codec URL in the UI's Codec Server setting decodes them.
        token = operator_token(secret_keys(settings.model_copy(update={"dev": True})))
        rows = {
            "console": base,
            "console sign-in": f"{DEMO_OWNER} / {_demo_password()}",
            "API": base,
            "API docs": f"{base}/docs",
            "Temporal UI": f"http://127.0.0.1:{settings.temporal_ui_port}",
            "payload codec": f"{base}/codec/{token}",
            "database": settings.database_url,
            "demo owner key": key,
        }
        table = Table(title="Herald is running", show_header=False)
        for label, value in rows.items():
            table.add_row(label, value)
        # Wide enough that nothing to copy (the key, the codec URL) is ever cut, even in a log.
        needed = max(map(len, rows)) + max(map(len, rows.values())) + 7
        Console(width=max(console.width, needed)).print(table)
        console.print("Ctrl-C stops everything.")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        console.print("[red]a component exited; stopping[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        stop_all()


@app.command("fake-fcm")
def fake_fcm(
    port: int = typer.Option(9099, help="where it listens, on 127.0.0.1"),
    key_file: Path = typer.Option(
        Path("fcm-service-account.json"), help="where to write its service-account key"
    ),
) -> None:
    """A local stand-in for Firebase Cloud Messaging (OAuth sign-in and HTTP v1 send), to try
    push without a Firebase project. Start Herald with HERALD_OUTBOUND_ALLOW=127.0.0.1."""
    from herald.fake_fcm import FakeFcm

    fake = FakeFcm(port=port).start()
    key_file.write_text(json.dumps(fake.service_account(), indent=2) + "\n")
    key_file.chmod(0o600)
    console.print(f"fake FCM at [bold]{fake.url}[/bold]; its service-account key: {key_file}")
    console.print(f"tokens starting with 'unregistered-' are dead; {fake.url}/messages lists sends")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        fake.stop()


@journeys.command("lint")
def lint_journeys(files: list[Path]) -> None:
    """Check journey files offline: schema, step graph (templates are checked on apply)."""
    from herald.errors import HeraldError
    from herald.journeys.files import load_journey_file

    failed = False
    for path in files:
        try:
            journey = load_journey_file(path)
        except HeraldError as exc:
            failed = True
            console.print(f"[red]✘ {path}[/red]: {exc.detail}")
            continue
        steps = len(journey.definition.steps)
        console.print(f"[green]✔ {path}[/green]: {journey.key}, {steps} steps")
    if failed:
        raise typer.Exit(1)


@journeys.command("apply")
def apply_journeys(
    files: list[Path],
    api_url: str = typer.Option("http://127.0.0.1:8000", envvar="HERALD_API_URL"),
    api_key: str = typer.Option(
        None, envvar="HERALD_API_KEY", help="defaults to the `herald dev` demo owner key"
    ),
) -> None:
    """Create each journey, or publish a new version when its file changed."""
    import httpx

    from herald.errors import HeraldError
    from herald.journeys.files import load_journey_file

    key = api_key or (DEMO_KEY_FILE.read_text().strip() if DEMO_KEY_FILE.exists() else "")
    failed = False
    with httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        for path in files:
            try:
                journey = load_journey_file(path)
                outcome = _apply(client, journey.model_dump(mode="json", by_alias=True))
            except HeraldError as exc:
                failed = True
                console.print(f"[red]✘ {path}[/red]: {exc.detail}")
                continue
            console.print(f"[green]✔ {path}[/green]: {journey.key} {outcome}")
    if failed:
        raise typer.Exit(1)


def _apply(client: Any, body: dict[str, Any]) -> str:
    from herald.errors import InvalidInput

    def check(response: Any) -> dict[str, Any]:
        if response.is_error:
            problem = response.json() if response.content else {}
            fields = ", ".join(e.get("field", "") for e in problem.get("errors", []))
            raise InvalidInput(f"{problem.get('detail', response.text)} {fields}".strip())
        return response.json()

    path = f"/v1/journeys/{body['key']}"
    current = client.get(path)
    if current.status_code == 404:
        check(client.post("/v1/journeys", json=body))
        published = check(client.post(f"{path}/publish"))
        return f"created, version {published['current_version']}"
    before = check(current)
    if before["draft"] != body["definition"]:
        check(client.put(path, json={"definition": body["definition"]}))
    published = check(client.post(f"{path}/publish"))
    if published["current_version"] == before["current_version"]:
        return f"unchanged, version {published['current_version']}"
    return f"published version {published['current_version']}"


if __name__ == "__main__":
    app()
