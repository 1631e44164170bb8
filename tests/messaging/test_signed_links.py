"""Signed links: an unsubscribe or loyalty token opens one customer's page of one organization,
and nothing once changed by a byte."""

from __future__ import annotations

import uuid

import pytest

from herald.messaging.tracking import CLICK
from herald.messaging.unsubscribe import Links

pytestmark = pytest.mark.fast
LINKS = Links("https://herald.example", "secret")


def test_an_unsubscribe_token_names_its_customer_for_its_organization_only() -> None:
    org, other, customer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    token = LINKS.unsubscribe_token(org, customer)
    assert LINKS.read_unsubscribe_token(org, token) == customer
    assert LINKS.read_unsubscribe_token(other, token) is None
    assert (
        Links("https://herald.example", "another secret").read_unsubscribe_token(org, token) is None
    )


def test_a_tampered_token_reads_as_nothing() -> None:
    org, customer = uuid.uuid4(), uuid.uuid4()
    token = LINKS.unsubscribe_token(org, customer)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert LINKS.read_unsubscribe_token(org, tampered) is None
    assert LINKS.read_unsubscribe_token(org, "not-a-token") is None


def test_a_tracking_link_is_valid_for_its_message_and_link_only() -> None:
    org, message = uuid.uuid4(), uuid.uuid4()
    url = LINKS.tracking_url(org, message, CLICK, 2)
    parsed = Links.parse_tracking_token(url.rsplit("/", 1)[1])
    assert parsed is not None
    message_id, kind, index, signature = parsed
    assert (message_id, kind, index) == (message, CLICK, 2)
    assert LINKS.tracking_valid(org, message_id, kind, index, signature)
    assert not LINKS.tracking_valid(org, message_id, kind, 3, signature)
    assert not LINKS.tracking_valid(uuid.uuid4(), message_id, kind, index, signature)
