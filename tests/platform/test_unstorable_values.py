"""A value one database cannot store is the client's mistake, answered 422, not a crash."""

from __future__ import annotations

import pytest

from tests.support import Org, Stack

pytestmark = pytest.mark.dialects


def test_a_nul_character_in_text_is_stored_or_refused_never_a_server_error(
    stack: Stack, org: Org, database_url: str
) -> None:
    response = stack.api.post(
        "/v1/customers", json={"name": "Ada\u0000Lovelace"}, headers=org.headers()
    )
    if database_url.startswith("postgresql"):  # PostgreSQL text cannot hold NUL
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    else:
        assert response.status_code == 201, response.text
