"""A profile's outlook in a real Chromium: after the lifetime-value fit, a lapsed repeat buyer
shows a high churn risk and a predicted value; a beans buyer sees what they are likely to buy
next, with the model's caveat about one-time buyers."""

from __future__ import annotations

from playwright.sync_api import expect

from herald.access.models import Role
from herald.predictions import clv
from tests.console.conftest import Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.predictions.test_predictions import _scored_shop
from tests.predictions.test_recommendations import BASKETS, _buy, _catalog
from tests.support import Org, Stack, create_customer


def test_a_profile_shows_churn_risk_predicted_value_and_what_they_may_buy_next(
    stack: Stack, org: Org, console: Console
) -> None:
    _catalog(stack, org)
    for n, basket in enumerate(BASKETS):
        _buy(stack, org, create_customer(stack, org)["id"], basket, n)
    beans_buyer = create_customer(stack, org, name="Ada Brew")["id"]
    _buy(stack, org, beans_buyer, ["beans"], 99)
    model, ids, histories = _scored_shop(stack, org)  # fits again: everyone above is scored
    alive = clv.probability_alive(clv.BgNbd(**model["bg_nbd"]), next(h for h in histories.values()))
    lapsed = max(
        histories,
        key=lambda n: 1 - clv.probability_alive(clv.BgNbd(**model["bg_nbd"]), histories[n])[0],
    )
    assert alive.shape == (1,)
    risk = stack.api.get(f"/v1/customers/{ids[lapsed]}/predictions", headers=org.headers()).json()[
        "churn_risk"
    ]

    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.goto(f"/customers/{ids[lapsed]}")
    outlook = page.get_by_role("region", name="Outlook")
    expect(outlook.locator(".figure", has_text="Churn risk")).to_contain_text(
        f"{round(risk * 100)}%"
    )
    expect(outlook.locator(".figure", has_text="Predicted lifetime value")).to_contain_text("USD")
    expect(outlook).to_contain_text("Over the next 365 days")
    accessible(page)

    page.goto(f"/customers/{beans_buyer}")
    outlook = page.get_by_role("region", name="Outlook")
    expect(outlook.locator(".figure", has_text="Churn risk")).to_contain_text("0%")
    expect(outlook).to_contain_text("One order so far")
    picks = outlook.get_by_role("listitem")
    expect(picks).to_have_count(3)
    expect(picks.nth(0)).to_contain_text("Paper filters")
    expect(picks.nth(0).get_by_role("link")).to_have_attribute(
        "href", "https://shop.example/p/filter"
    )
    expect(picks.nth(2)).to_contain_text("popular in its category")
