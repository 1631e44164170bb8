"""The catalog: upserted in batches by the shop, completed from orders' line items."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from herald.db import insert_if_absent, one_of, session_organization, utcnow
from herald.errors import InvalidInput, NotFound
from herald.pagination import Page, page_of
from herald.products.models import Product
from herald.products.schemas import ProductIn, ProductOut, ProductsSaved


def _out(product: Product) -> ProductOut:
    return ProductOut.model_validate(product, from_attributes=True)


def save_products(session: Session, products: list[ProductIn]) -> ProductsSaved:
    """Create or replace each product of the batch, all in one transaction."""
    ids = [p.product_id for p in products]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a product_id appears twice in the batch", field="products")
    existing = {
        p.product_id: p
        for p in session.scalars(select(Product).where(one_of(session, Product.product_id, ids)))
    }
    now = utcnow()
    for given in products:
        fields = given.model_dump(mode="json", exclude={"price"}) | {"price": given.price}
        product = existing.get(given.product_id)
        if product is None:
            session.add(Product(**fields, created_at=now, updated_at=now))
        else:
            for name, value in fields.items():
                setattr(product, name, value)
            product.updated_at = now
    session.commit()
    return ProductsSaved(created=len(products) - len(existing), updated=len(existing))


def add_from_line_items(
    session: Session, items: Iterable[tuple[str, str | None, Decimal]], currency: str
) -> None:
    """Products an order names that the catalog lacks, as its line items describe them (one
    statement); a product the catalog has is left as the shop sent it."""
    org, now = session_organization(session), utcnow()
    rows = {
        product_id: {
            "id": uuid.uuid4(),
            "organization_id": org,
            "product_id": product_id,
            "name": name or product_id,
            "price": unit_price,
            "currency": currency,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for product_id, name, unit_price in items
    }
    if rows:
        insert_if_absent(session, Product, list(rows.values()), ["organization_id", "product_id"])


def get_product(session: Session, product_id: str) -> ProductOut:
    product = session.scalar(select(Product).where(Product.product_id == product_id))
    if product is None:
        raise NotFound("no such product")
    return _out(product)


def list_products(
    session: Session,
    *,
    category: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ProductOut]:
    """The catalog, most recently changed first."""
    stmt: Select[tuple[Product]] = select(Product)
    if category is not None:
        stmt = stmt.where(Product.category == category)
    if active is not None:
        stmt = stmt.where(Product.active.is_(active))
    return page_of(session, stmt, Product.updated_at, Product.id, _out, limit=limit, cursor=cursor)
