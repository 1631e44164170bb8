"""Products a customer is likely to buy next, from what the organization's customers bought.

A scheduled run learns two small tables from the orders: for each product, the products most
often bought by the same customers (cosine similarity of their buyers), and each product's
buyers over the last year by category. A customer's list is put together when it is needed
(a message, the profile): products linked to what they bought, then what sells in their
categories, never what they bought already, only active products. A customer who bought
nothing gets an empty list."""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta
from itertools import combinations

from pydantic import BaseModel
from sqlalchemy import delete, distinct, func, select
from sqlalchemy.orm import Session

from herald.db import insert_rows, one_of, session_organization, start_of_day
from herald.orders.models import Order, OrderItem, OrderStatus
from herald.predictions.models import ProductAffinity, ProductPopularity
from herald.predictions.schemas import Reason, RecommendedProduct
from herald.products.models import Product

# Co-purchases are learned from this much of the recent past; popularity from the last year.
AFFINITY_DAYS = 730
POPULARITY_DAYS = 365
# The strongest links kept per product, and the most products of one customer paired (a
# reseller's thousand products would pair into half a million links on their own).
LINKS_PER_PRODUCT = 20
PRODUCTS_PAIRED_PER_CUSTOMER = 50
POPULAR_PER_CATEGORY = 20
MAX_RECOMMENDATIONS = 12


class Learned(BaseModel):
    products: int
    links: int


def _bought(
    session: Session,
    *,
    since: datetime | None = None,
    customers: Collection[uuid.UUID] | None = None,
) -> dict[uuid.UUID, set[str]]:
    """The products each customer bought, over orders not refunded in full."""
    stmt = (
        select(Order.customer_id, OrderItem.product_id)
        .join(Order, Order.id == OrderItem.order_pk)
        .where(Order.customer_id.is_not(None), Order.status != OrderStatus.refunded)
        .distinct()
    )
    if since is not None:
        stmt = stmt.where(Order.paid_at >= since)
    if customers is not None:
        stmt = stmt.where(one_of(session, Order.customer_id, customers))
    found: dict[uuid.UUID, set[str]] = defaultdict(set)
    for customer_id, product_id in session.execute(stmt).tuples():
        if customer_id is not None:
            found[customer_id].add(product_id)
    return found


def learn(session: Session, as_of: date) -> Learned:
    """Replace the organization's product links and popularity with what its orders say now.
    Committed."""
    org = session_organization(session)
    baskets = _bought(session, since=start_of_day(as_of - timedelta(AFFINITY_DAYS)))
    buyers: Counter[str] = Counter()
    together: Counter[tuple[str, str]] = Counter()
    for products in baskets.values():
        buyers.update(products)
        paired = sorted(products)[:PRODUCTS_PAIRED_PER_CUSTOMER]
        together.update(combinations(paired, 2))
    related: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (first, second), count in together.items():
        score = count / math.sqrt(buyers[first] * buyers[second])
        related[first].append((score, second))
        related[second].append((score, first))
    links = [
        {"organization_id": org, "product_id": product, "related_product_id": other, "score": score}
        for product, scored in related.items()
        for score, other in sorted(scored, reverse=True)[:LINKS_PER_PRODUCT]
    ]
    popularity = session.execute(
        select(Product.product_id, Product.category, func.count(distinct(Order.customer_id)))
        .join(OrderItem, OrderItem.product_id == Product.product_id)
        .join(Order, Order.id == OrderItem.order_pk)
        .where(
            Product.organization_id == org,
            OrderItem.organization_id == org,
            Product.active,
            Order.customer_id.is_not(None),
            Order.status != OrderStatus.refunded,
            Order.paid_at >= start_of_day(as_of - timedelta(POPULARITY_DAYS)),
        )
        .group_by(Product.product_id, Product.category)
    ).all()
    session.execute(delete(ProductAffinity))
    session.execute(delete(ProductPopularity))
    insert_rows(session, ProductAffinity, links)
    insert_rows(
        session,
        ProductPopularity,
        [
            {"organization_id": org, "product_id": p, "category": category, "buyers": count}
            for p, category, count in popularity
        ],
    )
    session.commit()
    return Learned(products=len(buyers), links=len(links))


def recommend(
    session: Session, customer_ids: Collection[uuid.UUID], limit: int = MAX_RECOMMENDATIONS
) -> dict[uuid.UUID, list[RecommendedProduct]]:
    """Each customer's recommended products, best first (at most ``limit``), for a batch."""
    bought = _bought(session, customers=customer_ids) if customer_ids else {}
    everything = set().union(*bought.values()) if bought else set()
    links: dict[str, list[tuple[str, float]]] = defaultdict(list)
    categories: dict[str, str] = {}
    if everything:
        for product_id, related, score in session.execute(
            select(
                ProductAffinity.product_id,
                ProductAffinity.related_product_id,
                ProductAffinity.score,
            ).where(one_of(session, ProductAffinity.product_id, everything))
        ).tuples():
            links[product_id].append((related, score))
        categories = {
            product_id: category
            for product_id, category in session.execute(
                select(Product.product_id, Product.category).where(
                    one_of(session, Product.product_id, everything), Product.category.is_not(None)
                )
            ).tuples()
            if category
        }
    popular = _popular_by_category(session, set(categories.values()))
    ranked: dict[uuid.UUID, list[tuple[str, Reason]]] = {}
    for customer_id, theirs in bought.items():
        scores: dict[str, float] = defaultdict(float)
        for product_id in theirs:
            for related, score in links.get(product_id, []):
                if related not in theirs:
                    scores[related] += score
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        picks: list[tuple[str, Reason]] = [(p, "bought_together") for p, _ in best]
        seen = {p for p, _ in picks}
        for category in sorted({categories[p] for p in theirs if p in categories}):
            for product_id in popular.get(category, []):
                if product_id not in theirs and product_id not in seen:
                    picks.append((product_id, "popular_in_category"))
                    seen.add(product_id)
        ranked[customer_id] = picks
    catalog = _active_products(session, {p for picks in ranked.values() for p, _ in picks})
    return {
        customer_id: [
            _out(catalog[p], reason) for p, reason in ranked.get(customer_id, []) if p in catalog
        ][:limit]
        for customer_id in customer_ids
    }


def _popular_by_category(session: Session, categories: set[str]) -> dict[str, list[str]]:
    if not categories:
        return {}
    found: dict[str, list[str]] = defaultdict(list)
    for product_id, category in session.execute(
        select(ProductPopularity.product_id, ProductPopularity.category)
        .where(one_of(session, ProductPopularity.category, categories))
        .order_by(ProductPopularity.buyers.desc(), ProductPopularity.product_id)
    ).tuples():
        if category is not None and len(found[category]) < POPULAR_PER_CATEGORY:
            found[category].append(product_id)
    return found


def _active_products(session: Session, product_ids: set[str]) -> dict[str, Product]:
    if not product_ids:
        return {}
    return {
        product.product_id: product
        for product in session.scalars(
            select(Product).where(one_of(session, Product.product_id, product_ids), Product.active)
        )
    }


def _out(product: Product, reason: Reason) -> RecommendedProduct:
    return RecommendedProduct(
        product_id=product.product_id,
        name=product.name or product.product_id,
        url=product.url,
        image=product.image_url,
        price=product.price,
        currency=product.currency,
        reason=reason,
    )
