"""CSV imports: customers and past orders, a dry run that writes nothing, errors reported by
line, idempotent re-runs, cancel and restart."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from herald.access.models import Role
from tests.support import Org, Stack, points, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

CUSTOMERS = """\
Customer ID,E-mail,First Name,Last Name,Phone,Tags,Country,City,Address,Accepts Marketing,Points Tier
c-1,an@example.com,An,Tran,+84912345601,"vip, hanoi",VN,Hanoi,1 Hang Bac,yes,gold
c-2,binh@example.com,Binh,Le,,wholesale,VN,Hue,2 Le Loi,no,
c-3,not-an-email,Chi,Pham,,,,,,,
c-4,dung@example.com,Dung,Vo,12345,,,,,,
c-5,em@example.com,Em,Do,,,XX,Nowhere,5 Street,,
c-6,giang@example.com,Giang,Ho,,,,,,maybe,
"""


def upload(stack: Stack, org: Org, text: str, kind: str = "customers", **params: str) -> Any:
    response = stack.api.post(
        "/v1/imports",
        params={"kind": kind, "filename": f"{kind}.csv", **params},
        content=text.encode(),
        headers={**org.headers(), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def run(stack: Stack, org: Org, import_id: str, step: str, until: str) -> Any:
    response = stack.api.post(f"/v1/imports/{import_id}/{step}", headers=org.headers())
    assert response.status_code == 202, response.text
    return wait_until(
        lambda: (
            (i := stack.api.get(f"/v1/imports/{import_id}", headers=org.headers()).json())
            and i["status"] == until
            and i
        ),
        timeout_s=60,
    )


def customers_named(stack: Stack, org: Org, q: str) -> list[dict[str, Any]]:
    found = stack.api.get("/v1/customers", params={"q": q}, headers=org.headers()).json()
    return found["items"]  # type: ignore[no-any-return]


def test_customers_import_with_a_dry_run_errors_by_line_and_a_second_upload_that_changes_nothing(
    stack: Stack, org: Org
) -> None:
    uploaded = upload(stack, org, CUSTOMERS)
    assert uploaded["total_rows"] == 6
    # Columns are mapped by their names and common aliases; the rest are left out.
    assert uploaded["mapping"]["E-mail"] == "email"
    assert uploaded["mapping"]["Customer ID"] == "external_id"
    assert uploaded["mapping"]["Accepts Marketing"] == "email_consent"
    assert uploaded["unmapped"] == ["Points Tier"]
    mapped = stack.api.put(
        f"/v1/imports/{uploaded['id']}/mapping",
        json={"columns": {"Points Tier": "attribute:tier"}},
        headers=org.headers(),
    )
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["mapping"] == {"Points Tier": "attribute:tier"}
    # Mapping replaces the whole set: map them all again.
    columns = {**uploaded["mapping"], "Points Tier": "attribute:tier"}
    stack.api.put(
        f"/v1/imports/{uploaded['id']}/mapping",
        json={"columns": columns},
        headers=org.headers(),
    )

    checked = run(stack, org, uploaded["id"], "dry-run", "checked")
    assert checked["check"] == {
        "processed": 6,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 4,
    }
    errors = {e["line"]: e["error"] for e in checked["errors"]}
    assert set(errors) == {4, 5, 6, 7}
    assert "E-mail" in errors[4]  # the file's own column name
    assert "Phone" in errors[5]
    assert "Country" in errors[6]
    assert "maybe" in errors[7]
    # A dry run writes nothing.
    assert customers_named(stack, org, "an@example.com") == []

    report = stack.api.get(f"/v1/imports/{uploaded['id']}/errors", headers=org.headers())
    assert report.status_code == 200
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows[0][:3] == ["line", "error", "Customer ID"]
    assert [r[0] for r in rows[1:]] == ["4", "5", "6", "7"]
    assert rows[1][2:4] == ["c-3", "not-an-email"]

    done = run(stack, org, uploaded["id"], "start", "imported")
    assert done["result"]["created"] == 2 and done["result"]["failed"] == 4
    [an] = customers_named(stack, org, "an@example.com")
    assert an["name"] == "An Tran"
    assert an["external_id"] == "c-1"
    assert an["tags"] == ["hanoi", "vip"]
    assert an["phones"] == [{"number": "+84912345601", "primary": True}]
    assert an["addresses"][0]["city"] == "Hanoi" and an["country"] == "VN"
    assert an["attributes"] == {"tier": "gold"}
    consent = stack.api.get(f"/v1/customers/{an['id']}/consent", headers=org.headers()).json()
    assert consent["channels"] == {"email": "granted"}
    [binh] = customers_named(stack, org, "binh@example.com")
    binh_consent = stack.api.get(f"/v1/customers/{binh['id']}/consent", headers=org.headers())
    assert binh_consent.json()["channels"] == {"email": "revoked"}
    activity = stack.api.get(f"/v1/customers/{an['id']}/activity", headers=org.headers()).json()
    assert [a["action"] for a in activity["items"]] == ["created"]
    # Imported profiles are recorded as created by an import: nothing reacts by default.
    events = stack.api.get(
        "/v1/events", params={"customer_id": an["id"]}, headers=org.headers()
    ).json()["items"]
    assert [(e["type"], e["properties"]["source"]) for e in events] == [
        ("customer.created", "import")
    ]

    # The same file again: every good row is found unchanged, nothing is created twice.
    again = upload(stack, org, CUSTOMERS)
    stack.api.put(
        f"/v1/imports/{again['id']}/mapping", json={"columns": columns}, headers=org.headers()
    )
    second = run(stack, org, again["id"], "start", "imported")
    assert second["result"] == {
        "processed": 6,
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "failed": 4,
    }
    assert len(customers_named(stack, org, "example.com")) == 2

    # A changed row updates the profile it matches, by its external id; tags are added.
    changed = upload(
        stack,
        org,
        "id,email,name,tags,email_consent\nc-1,an.tran@example.com,An Tran Thi,loyal,no\n",
    )
    third = run(stack, org, changed["id"], "start", "imported")
    assert third["result"]["updated"] == 1
    [an] = customers_named(stack, org, "an.tran@example.com")
    assert [e["address"] for e in an["emails"]] == ["an.tran@example.com", "an@example.com"]
    assert an["name"] == "An Tran Thi"
    assert an["tags"] == ["hanoi", "loyal", "vip"]
    consent = stack.api.get(f"/v1/customers/{an['id']}/consent", headers=org.headers()).json()
    assert consent["channels"] == {"email": "revoked"}
    activity = stack.api.get(f"/v1/customers/{an['id']}/activity", headers=org.headers()).json()
    assert activity["items"][0]["action"] == "updated"


ORDERS = """\
Order,Email,Processed At,Currency,Total,Lineitem sku,Lineitem name,Lineitem quantity,Lineitem price,Refunded
#1001,an@example.com,2024-03-01 10:00,USD,30.00,TEE,T-shirt,2,10.00,
#1001,an@example.com,2024-03-01 10:00,USD,30.00,CAP,Cap,1,10.00,
#1002,an@example.com,2024-05-02T09:30:00+07:00,USD,15.00,CAP,Cap,1,15.00,5
#1003,nobody@example.com,2024-05-03,USD,9.00,CAP,Cap,1,9.00,
#1004,an@example.com,yesterday,USD,9.00,CAP,Cap,1,9.00,
"""


def test_past_orders_import_as_history_with_their_items_and_refunds(stack: Stack, org: Org) -> None:
    customers = upload(stack, org, "email,name\nan@example.com,An\n")
    run(stack, org, customers["id"], "start", "imported")
    [an] = customers_named(stack, org, "an@example.com")

    orders = upload(stack, org, ORDERS, kind="orders")
    assert orders["mapping"] == {
        "Order": "order_id",
        "Email": "customer_email",
        "Processed At": "paid_at",
        "Currency": "currency",
        "Total": "amount",
        "Lineitem sku": "item_product_id",
        "Lineitem name": "item_name",
        "Lineitem quantity": "item_quantity",
        "Lineitem price": "item_unit_price",
        "Refunded": "refunded_amount",
    }
    done = run(stack, org, orders["id"], "start", "imported")
    assert done["result"]["created"] == 3 and done["result"]["failed"] == 2
    errors = {e["line"]: e["error"] for e in done["errors"]}
    assert "no such customer" in errors[5]
    assert "Processed At" in errors[6]

    first = stack.api.get("/v1/orders/%231001", headers=org.headers()).json()
    assert [(i["product_id"], i["quantity"]) for i in first["items"]] == [("TEE", 2), ("CAP", 1)]
    assert first["history"] is True
    assert first["paid_at"].startswith("2024-03-01T10:00")
    second = stack.api.get("/v1/orders/%231002", headers=org.headers()).json()
    assert second["status"] == "partially_refunded" and second["refunded_amount"] == "5.0000"
    profile = stack.api.get(f"/v1/customers/{an['id']}", headers=org.headers()).json()
    assert profile["orders"] == 2 and profile["lifetime_value"] == "40.00"
    # History: no points were awarded.
    assert points(stack, org, an["id"])["balance"] == 0

    again = upload(stack, org, ORDERS, kind="orders")
    second_run = run(stack, org, again["id"], "start", "imported")
    assert second_run["result"]["unchanged"] == 3 and second_run["result"]["created"] == 0


def test_an_import_cancelled_and_started_again_imports_every_row_once(
    stack: Stack, org: Org
) -> None:
    lines = ["external_id,email"] + [f"x-{n},p{n}@example.com" for n in range(3000)]
    uploaded = upload(stack, org, "\n".join(lines) + "\n")
    started = stack.api.post(f"/v1/imports/{uploaded['id']}/start", headers=org.headers())
    assert started.status_code == 202
    cancelled = stack.api.post(f"/v1/imports/{uploaded['id']}/cancel", headers=org.headers())
    assert cancelled.status_code == 202, cancelled.text
    stopped = wait_until(
        lambda: (
            (i := stack.api.get(f"/v1/imports/{uploaded['id']}", headers=org.headers()).json())
            and i["status"] == "cancelled"
            and i
        ),
        timeout_s=60,
    )
    assert (stopped["result"] or {"processed": 0})["processed"] < 3000
    again = stack.api.post(f"/v1/imports/{uploaded['id']}/cancel", headers=org.headers())
    assert again.status_code == 409
    done = run(stack, org, uploaded["id"], "start", "imported")
    assert done["result"] == {
        "processed": 3000,
        "created": 3000,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    listed = stack.api.get("/v1/customers", params={"limit": 200}, headers=org.headers()).json()
    assert len(listed["items"]) == 200


def test_bad_uploads_are_refused_and_imports_are_the_organizations_own(
    stack: Stack, org: Org, other_org: Org
) -> None:
    h = {**org.headers(), "Content-Type": "text/csv"}
    for body, detail in (
        (b"", "empty"),
        (b"email\n", "no rows"),
        (b"email,email\na@example.com,b@example.com\n", "more than once"),
        ("email\nan@example.com\n".encode("utf-16"), "UTF-8"),
    ):
        response = stack.api.post(
            "/v1/imports", params={"kind": "customers"}, content=body, headers=h
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert detail in response.json()["detail"]
    uploaded = upload(stack, org, "email\nan@example.com\n")
    unknown = stack.api.put(
        f"/v1/imports/{uploaded['id']}/mapping",
        json={"columns": {"email": "favourite_colour"}},
        headers=org.headers(),
    )
    assert unknown.status_code == 422
    nothing = stack.api.put(
        f"/v1/imports/{uploaded['id']}/mapping", json={"columns": {}}, headers=org.headers()
    )
    assert nothing.status_code == 200
    refused = stack.api.post(f"/v1/imports/{uploaded['id']}/start", headers=org.headers())
    assert refused.status_code == 422 and "external_id or email" in refused.json()["detail"]
    # Another brand's import is not there; marketers and cashiers cannot import.
    theirs = stack.api.get(f"/v1/imports/{uploaded['id']}", headers=other_org.headers())
    assert theirs.status_code == 404
    for role in (Role.marketing, Role.cashier):
        denied = stack.api.post(
            "/v1/imports",
            params={"kind": "customers"},
            content=b"email\nx@example.com\n",
            headers={**org.headers(role), "Content-Type": "text/csv"},
        )
        assert denied.status_code == 403


def test_erasing_a_person_removes_their_rows_from_uploads_and_withdraws_exports_holding_them(
    stack: Stack, org: Org
) -> None:
    h = org.headers()
    text = "email,name,phone\nlan@example.com,Lan,+84912345678\nLAN@example.com,Lan again,12\n"
    uploaded = upload(stack, org, text)
    done = run(stack, org, uploaded["id"], "start", "imported")
    assert done["result"]["created"] == 1 and done["result"]["failed"] == 1
    [lan] = customers_named(stack, org, "lan@example.com")
    started = stack.api.post("/v1/exports", json={"kind": "customers"}, headers=h)
    export_id = started.json()["id"]
    wait_until(
        lambda: stack.api.get(f"/v1/exports/{export_id}", headers=h).json()["status"] == "ready"
    )

    erased = stack.api.post(f"/v1/customers/{lan['id']}/erase", headers=h)
    assert erased.status_code == 200, erased.text
    report = stack.api.get(f"/v1/imports/{uploaded['id']}/errors", headers=h).text
    assert "lan@example.com" not in report.lower()
    shown = stack.api.get(f"/v1/imports/{uploaded['id']}", headers=h).json()
    assert shown["errors"] == []
    withdrawn = stack.api.get(f"/v1/exports/{export_id}", headers=h).json()
    assert withdrawn["status"] == "expired" and withdrawn["download_url"] is None

    # A file can be forgotten whole: its rows and error report (what it imported stays).
    assert stack.api.delete(f"/v1/imports/{uploaded['id']}", headers=h).status_code == 204
    assert stack.api.get(f"/v1/imports/{uploaded['id']}", headers=h).status_code == 404


def test_rows_of_one_person_in_one_file_make_one_profile_the_later_row_winning(
    stack: Stack, org: Org
) -> None:
    text = (
        "email,name,tags,email_consent\n"
        "mai@example.com,Mai,first,yes\n"
        "MAI@example.com,Mai Le,second,no\n"
    )
    for step, until in (("dry-run", "checked"), ("start", "imported")):
        uploaded = upload(stack, org, text)
        done = run(stack, org, uploaded["id"], step, until)
        counts = done["check"] if step == "dry-run" else done["result"]
        assert (counts["created"], counts["updated"]) == (1, 1)
    [mai] = customers_named(stack, org, "mai@example.com")
    assert mai["name"] == "Mai Le" and mai["tags"] == ["first", "second"]
    consent = stack.api.get(f"/v1/customers/{mai['id']}/consent", headers=org.headers()).json()
    assert consent["channels"] == {"email": "revoked"}


def test_a_country_without_an_address_is_where_the_customer_is(stack: Stack, org: Org) -> None:
    uploaded = upload(stack, org, "email,country,city\nkim@example.com,DE,\nlee@example.com,,Hue\n")
    done = run(stack, org, uploaded["id"], "start", "imported")
    assert done["result"]["created"] == 1 and done["result"]["failed"] == 1
    assert "first line" in done["errors"][0]["error"]
    [kim] = customers_named(stack, org, "kim@example.com")
    assert kim["country"] == "DE" and kim["addresses"] == []
    # The list filters by it; a later file's country replaces it while there is no address.
    listed = stack.api.get("/v1/customers", params={"country": "DE"}, headers=org.headers())
    assert [c["id"] for c in listed.json()["items"]] == [kim["id"]]
    again = upload(stack, org, "email,country\nkim@example.com,AT\n")
    assert run(stack, org, again["id"], "start", "imported")["result"]["updated"] == 1
    assert customers_named(stack, org, "kim@example.com")[0]["country"] == "AT"
