"""Logs an operator can search, that give nothing away: JSON lines with the request id and the
organization, and not a customer's email, a link token or an SQL parameter in any of them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from herald.devserver import wait_for_port
from herald.messaging.unsubscribe import Links
from tests.support import (
    TEST_SECRET,
    Org,
    Stack,
    api_process,
    order_paid,
    wait_for_entries,
)


def test_a_full_flow_logs_no_personal_data_or_tokens(
    stack: Stack, org: Org, tmp_path: Path
) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    api, base_url = api_process(stack.env, tmp_path)
    api.env["HERALD_API_ACCESS_LOG"] = "true"  # the access log is what this test reads
    api.start()
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        with httpx.Client(base_url=base_url, headers=org.headers(), timeout=30) as client:
            customer = client.post(
                "/v1/customers", json={"name": "Ada Lovelace", "emails": [email]}
            ).json()
            found = client.get("/v1/customers", params={"q": email})
            assert found.json()["items"][0]["id"] == customer["id"]
            client.post("/v1/events", json=order_paid(customer["id"], "LOG-1"))
            wait_for_entries(stack, org, customer["id"], 1)
            template = {
                "key": "hello",
                "name": "Hello",
                "channel": "email",
                "default_locale": "en",
                "variants": {"en": {"subject": "Hi {{ customer.name }}", "html": "<p>Hi</p>"}},
            }
            created = client.post("/v1/templates", json=template).json()
            sent = client.post(f"/v1/templates/{created['id']}/test-send", json={"to": email})
            assert sent.status_code == 200, sent.text
            links = Links(base_url, TEST_SECRET)
            unsubscribe = links.unsubscribe_url(org.slug, org.id, uuid.UUID(customer["id"]))
            loyalty = links.loyalty_url(org.slug, org.id, uuid.UUID(customer["id"]))
            assert httpx.get(unsubscribe).status_code == 200
            assert httpx.get(loyalty).status_code == 200
            request_id = found.headers["x-request-id"]
    finally:
        api.stop()

    logs = (tmp_path / "api.log").read_text() + (stack.log_dir / "worker.log").read_text()
    secrets = [email, "Lovelace", unsubscribe.rsplit("/", 1)[1], loyalty.rsplit("/", 1)[1]]
    for secret in secrets:
        assert secret not in logs, secret
    lines = [json.loads(line) for line in (tmp_path / "api.log").read_text().splitlines()]
    [search] = [line for line in lines if line.get("request_id") == request_id]
    assert search["organization_id"] == str(org.id)
    assert "GET /v1/customers?[query]" in search["message"]
    assert any("/unsubscribe/[token]" in line["message"] for line in lines)
