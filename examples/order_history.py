"""Two years of a coffee shop's orders, posted to a running Herald as the shop would post them:
its catalog, a signup per customer, then every order with its items.

    python3 examples/order_history.py --key "$KEY" [--api http://localhost:8000]

Customers buy and lapse the way the lifetime-value models assume: each buys at their own pace
and may stop after any purchase, and spends at their own level; each has a favourite category,
and some products go together.
Only the standard library is used. Prints a lapsed regular and a recent one to look at."""

from __future__ import annotations

import argparse
import json
import os
import random
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

CATALOG = [
    ("espresso-beans", "Espresso beans", "coffee", "18.00"),
    ("filter-beans", "Filter roast", "coffee", "16.00"),
    ("decaf", "Decaf beans", "coffee", "17.00"),
    ("green-tea", "Green tea", "tea", "9.00"),
    ("black-tea", "Breakfast tea", "tea", "8.00"),
    ("chai", "Chai blend", "tea", "11.00"),
    ("grinder", "Burr grinder", "gear", "89.00"),
    ("filters", "Paper filters", "gear", "4.50"),
    ("kettle", "Gooseneck kettle", "gear", "45.00"),
    ("mug", "Stoneware mug", "gear", "12.00"),
]
# Bought together more often than chance: the recommender should find these.
COMPANIONS = {"filter-beans": "filters", "espresso-beans": "grinder", "green-tea": "kettle"}
DAYS = 730


def call(api: str, key: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        api + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def history(rng: random.Random, now: datetime) -> list[datetime]:
    """One customer's purchase times: a first purchase in the last two years, then purchases
    at their own rate, each possibly their last."""
    rate_per_day = rng.gammavariate(1.2, 1 / 70)  # purchases a day: one in ~two months
    dropout = rng.betavariate(1.2, 3.0)
    at = now - timedelta(days=rng.uniform(1, DAYS))
    times = [at]
    while rng.random() > dropout:
        at += timedelta(days=rng.expovariate(max(rate_per_day, 1e-4)))
        if at >= now:
            break
        times.append(at)
    return times


def basket(rng: random.Random, favourite: str) -> list[str]:
    mine = [pid for pid, _, category, _ in CATALOG if category == favourite]
    first = rng.choice(mine) if rng.random() < 0.8 else rng.choice(CATALOG)[0]
    items = [first]
    if first in COMPANIONS and rng.random() < 0.5:
        items.append(COMPANIONS[first])
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--key", default=os.environ.get("KEY"), help="an owner's API key")
    parser.add_argument("--api", default="http://localhost:8000")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.key:
        parser.error("give --key (or set KEY)")
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    prices = {pid: price for pid, _, _, price in CATALOG}
    # Priced in the shop's reporting currency, so every order counts in the money figures.
    currency = call(args.api, args.key, "GET", "/v1/organization")["reporting_currency"]
    call(
        args.api,
        args.key,
        "PUT",
        "/v1/products",
        {
            "products": [
                {
                    "product_id": pid,
                    "name": name,
                    "category": category,
                    "price": price,
                    "currency": currency,
                    "url": f"https://coffee.example/p/{pid}",
                    "image_url": f"https://coffee.example/img/{pid}.jpg",
                }
                for pid, name, category, price in CATALOG
            ]
        },
    )
    people = [f"history-{n:04d}" for n in range(args.customers)]
    signups = [
        {
            "type": "signup",
            "customer": {
                "external_id": person,
                "email": f"{person}@coffee.example",
                "name": f"Customer {person[-4:]}",
            },
        }
        for person in people
    ]
    ids: dict[str, str] = {}
    for start in range(0, len(signups), 500):
        accepted = call(
            args.api, args.key, "POST", "/v1/events", {"events": signups[start : start + 500]}
        )
        for person, event in zip(people[start : start + 500], accepted["events"], strict=True):
            ids[person] = event["customer_id"]
    orders, summary = [], {}
    for person in people:
        favourite = rng.choice(["coffee", "coffee", "tea", "gear"])
        # How much they buy at a time: some stock up, most buy one of a kind.
        appetite = rng.gammavariate(2.0, 0.75)
        times = history(rng, now)
        summary[person] = times
        for n, at in enumerate(times):
            items = basket(rng, favourite)
            quantity = max(1, round(appetite * rng.uniform(0.5, 1.5)))
            amount = sum(float(prices[i]) * quantity for i in items)
            orders.append(
                {
                    "type": "order.paid",
                    "customer": {"external_id": person},
                    "properties": {
                        "order_id": f"{person}-{n}",
                        "amount": f"{amount:.2f}",
                        "currency": currency,
                        "paid_at": at.isoformat(),
                        "items": [
                            {"product_id": i, "quantity": quantity, "unit_price": prices[i]}
                            for i in items
                        ],
                    },
                }
            )
    for start in range(0, len(orders), 500):
        call(args.api, args.key, "POST", "/v1/events", {"events": orders[start : start + 500]})
    regulars = [p for p in people if len(summary[p]) >= 4]
    lapsed = max(regulars, key=lambda p: now - summary[p][-1])
    recent = min(regulars, key=lambda p: now - summary[p][-1])
    print(f"{len(people)} customers, {len(orders)} orders over {DAYS} days")
    for label, person in (("lapsed", lapsed), ("recent", recent)):
        times = summary[person]
        days = (now - times[-1]).days
        print(f"{label} regular: {ids[person]}  ({len(times)} orders, the last {days} days ago)")


if __name__ == "__main__":
    main()
