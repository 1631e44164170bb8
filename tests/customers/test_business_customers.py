"""Business customers (legal name, a tax number checked for its country, a billing contact)
and customer groups, in lists, segments and templates."""

from __future__ import annotations

from typing import Any

import pytest

from herald.access.models import Role
from tests.support import Org, Stack, create_customer

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

# A Vietnamese tax code (MST) whose check digit is right; the same with the last digit off.
VALID_MST = "0100109106"
WRONG_MST = "0100109107"
PHO = {
    "legal_name": "Cong ty TNHH Pho Ha Noi",
    "tax_id": "0100109106-001",  # a branch of the company: the form with a dash is accepted
    "tax_country": "vn",
    "billing_contact": {"name": "Ms Linh", "email": "Billing@Pho.vn", "phone": "+84912345678"},
}


def names(stack: Stack, org: Org, **params: Any) -> list[str]:
    response = stack.api.get("/v1/customers", params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return sorted(c["name"] for c in response.json()["items"])


def test_a_business_customer_keeps_its_checked_tax_number_and_billing_contact(
    stack: Stack, org: Org
) -> None:
    made = create_customer(stack, org, name="Pho Ha Noi", business=PHO)
    business = made["business"]
    assert business["tax_id"] == "0100109106001"  # kept compact
    assert business["tax_country"] == "VN"
    assert business["billing_contact"] == {
        "name": "Ms Linh",
        "email": "billing@pho.vn",
        "phone": "+84912345678",
    }
    person = create_customer(stack, org, name="Ada")
    assert person["business"] is None
    assert names(stack, org, business="true") == ["Pho Ha Noi"]
    assert names(stack, org, business="false") == ["Ada"]

    cleared = stack.api.patch(
        f"/v1/customers/{made['id']}", json={"business": None}, headers=org.headers()
    )
    assert cleared.status_code == 200 and cleared.json()["business"] is None


@pytest.mark.parametrize(
    ("business", "message"),
    [
        ({"legal_name": "X", "tax_id": WRONG_MST, "tax_country": "VN"}, "not a valid tax"),
        ({"legal_name": "X", "tax_id": VALID_MST}, "tax_country"),
        ({"legal_name": "X", "tax_id": "DE123", "tax_country": "DE"}, "not a valid tax"),
        ({"legal_name": ""}, "legal_name"),
    ],
    ids=["wrong check digit", "no country", "German VAT too short", "no legal name"],
)
def test_a_bad_business_is_refused(
    stack: Stack, org: Org, business: dict[str, Any], message: str
) -> None:
    response = stack.api.post(
        "/v1/customers", json={"name": "X", "business": business}, headers=org.headers()
    )
    assert response.status_code == 422
    assert message in response.text
    assert names(stack, org) == []


def test_a_tax_number_of_a_country_without_a_check_is_kept_as_given(stack: Stack, org: Org) -> None:
    business = {"legal_name": "Acme Inc", "tax_id": "12-3456789", "tax_country": "AQ"}
    made = create_customer(stack, org, name="Acme", business=business)
    assert made["business"]["tax_id"] == "12-3456789"


def test_groups_collect_customers_for_lists_segments_and_templates(stack: Stack, org: Org) -> None:
    wholesale = {"key": "wholesale", "name": "Wholesale", "kind": "wholesale"}
    made = stack.api.post("/v1/customer-groups", json=wholesale, headers=org.headers())
    assert made.status_code == 201, made.text
    assert (
        stack.api.post("/v1/customer-groups", json=wholesale, headers=org.headers()).status_code
        == 409
    )
    pho = create_customer(stack, org, name="Pho Ha Noi", business=PHO)
    cafe = create_customer(stack, org, name="Cafe")
    create_customer(stack, org, name="Walk-in")
    added = stack.api.post(
        "/v1/customer-groups/wholesale/members",
        json={"customer_ids": [pho["id"], cafe["id"], pho["id"]]},
        headers=org.headers(),
    )
    assert added.status_code == 200 and added.json()["members"] == 2
    again = stack.api.post(
        "/v1/customer-groups/wholesale/members",
        json={"customer_ids": [cafe["id"]]},
        headers=org.headers(),
    )
    assert again.json()["members"] == 2  # once each

    assert names(stack, org, group="wholesale") == ["Cafe", "Pho Ha Noi"]
    profile = stack.api.get(f"/v1/customers/{cafe['id']}", headers=org.headers()).json()
    assert profile["groups"] == ["wholesale"]
    rule = {"all": [{"group": "wholesale"}, {"business": True}]}
    preview = stack.api.post(
        "/v1/segments/preview", json={"rule": rule}, headers=org.headers()
    ).json()
    assert [m["name"] for m in preview["first"]] == ["Pho Ha Noi"]

    template = {
        "key": "invoice",
        "name": "Invoice",
        "channel": "email",
        "category": "transactional",
        "default_locale": "en",
        "variants": {
            "en": {
                "subject": "{{ customer.business.legal_name }} ({{ customer.groups | join(',') }})",
                "html": "<p>MST {{ customer.business.tax_id }}</p>",
            }
        },
    }
    made_template = stack.api.post("/v1/templates", json=template, headers=org.headers()).json()
    sent = stack.api.post(
        f"/v1/templates/{made_template['id']}/test-send",
        json={"to": "qa@example.com", "customer_id": pho["id"]},
        headers=org.headers(),
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["content"]["subject"] == "Cong ty TNHH Pho Ha Noi (wholesale)"

    removed = stack.api.delete(
        f"/v1/customer-groups/wholesale/members/{cafe['id']}", headers=org.headers()
    )
    assert removed.status_code == 204
    assert names(stack, org, group="wholesale") == ["Pho Ha Noi"]
    unknown = stack.api.post(
        "/v1/customer-groups/wholesale/members",
        json={"customer_ids": ["00000000-0000-0000-0000-000000000000"]},
        headers=org.headers(),
    )
    assert unknown.status_code == 422
    cashier = org.headers(Role.cashier)
    assert stack.api.delete("/v1/customer-groups/wholesale", headers=cashier).status_code == 403
    assert (
        stack.api.delete("/v1/customer-groups/wholesale", headers=org.headers()).status_code == 204
    )
    assert names(stack, org, group="wholesale") == []
