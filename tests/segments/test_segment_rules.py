"""Segment rules are parsed before anything runs: a bad node is named by its path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from herald.segments.rules import RULE_ADAPTER

pytestmark = pytest.mark.fast


def test_a_well_formed_tree_parses() -> None:
    rule = RULE_ADAPTER.validate_python(
        {"all": [{"consent": "email"}, {"any": [{"tag": "vip"}, {"not": {"tag": "churned"}}]}]}
    )
    assert rule is not None


def test_a_bad_node_is_named_by_its_place_in_the_tree() -> None:
    with pytest.raises(ValidationError) as refused:
        RULE_ADAPTER.validate_python(
            {"all": [{"consent": "email"}, {"orders": {"op": "nearly", "value": 3}}]}
        )
    # Each place reads all → 1 → orders (pydantic adds each union's tag beside its key; the
    # API's problem+json leaves the tags out: rule.all.1.orders.op).
    places = [tuple(e["loc"]) for e in refused.value.errors()]
    assert all(place[0] == "all" and 1 in place and "orders" in place for place in places), places
    assert len(places) >= 1
