"""What Herald hands Temporal is ciphertext: the server, its database and its UI see no
customer data unless an operator decodes it through Herald."""

from __future__ import annotations

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from herald.payloads import ENCODING
from herald.secrets import SecretKeys, operator_token
from herald.settings import Settings
from herald.temporal import connect
from tests.support import TEST_SECRET, Org, Stack, create_customer, order_paid, wait_for_entries


async def test_workflow_inputs_are_encrypted_at_the_server(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org, name="Ada Lovelace")
    order = order_paid(customer["id"], "SECRET-ORDER-42", "12.00")
    assert stack.api.post("/v1/events", json=order, headers=org.headers()).status_code == 202
    wait_for_entries(stack, org, customer["id"], 1)
    workflow_id = f"AwardOrderPoints/{org.id}/SECRET-ORDER-42"
    address = stack.env["HERALD_TEMPORAL_ADDRESS"]

    # As anyone reaching the Temporal frontend sees it.
    outsider = await Client.connect(address, data_converter=pydantic_data_converter)
    history = await outsider.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    assert payload.metadata["encoding"] == ENCODING
    assert b"SECRET-ORDER-42" not in payload.data and customer["id"].encode() not in payload.data

    # Herald's own client (the workers', the API's) reads it.
    herald = await connect(Settings(temporal_address=address, secret_key=TEST_SECRET))
    result = await herald.get_workflow_handle(workflow_id).result()
    assert result is not None


async def test_operators_decode_payloads_through_the_codec_endpoint(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    order = order_paid(customer["id"], "CODEC-ORDER-7", "5.00")
    assert stack.api.post("/v1/events", json=order, headers=org.headers()).status_code == 202
    wait_for_entries(stack, org, customer["id"], 1)
    outsider = await Client.connect(
        stack.env["HERALD_TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter
    )
    history = await outsider.get_workflow_handle(
        f"AwardOrderPoints/{org.id}/CODEC-ORDER-7"
    ).fetch_history()
    sealed = history.events[0].workflow_execution_started_event_attributes.input
    body = json_format.MessageToDict(sealed)

    token = operator_token(SecretKeys(TEST_SECRET))
    # What the Temporal UI does, from its own origin.
    ui = {"Origin": "http://localhost:8233", "Content-Type": "application/json"}
    preflight = stack.api.options(
        f"/codec/{token}/decode",
        headers={**ui, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8233"
    decoded = stack.api.post(f"/codec/{token}/decode", json=body, headers=ui)
    assert decoded.status_code == 200, decoded.text
    [clear] = json_format.ParseDict(decoded.json(), Payloads()).payloads
    assert clear.metadata["encoding"] == b"json/plain" and b"CODEC-ORDER-7" in clear.data

    assert stack.api.post("/codec/not-the-token/decode", json=body).status_code == 404
    other = stack.api.post(
        "/codec/x/decode", json=body, headers={**ui, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
