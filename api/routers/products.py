from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.pagination import Page
from herald.products import service
from herald.products.schemas import ProductBatch, ProductOut, ProductsSaved

router = APIRouter(prefix="/v1/products", tags=["products"])


@router.put(
    "",
    response_model=ProductsSaved,
    summary='Create or replace up to 1,000 products: {"products": [...]}',
)
def put_products(
    body: ProductBatch,
    _: Principal = Depends(require(Permission.catalog_write)),
    session: Session = Depends(org_session),
) -> ProductsSaved:
    return service.save_products(session, body.products)


@router.get("", response_model=Page[ProductOut], summary="The catalog, latest changed first")
def list_products(
    category: Annotated[str | None, Query(max_length=200)] = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> Page[ProductOut]:
    return service.list_products(
        session, category=category, active=active, limit=limit, cursor=cursor
    )


@router.get("/{product_id}", response_model=ProductOut)
def get_product(
    product_id: Annotated[str, Path(min_length=1, max_length=200)],
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> ProductOut:
    return service.get_product(session, product_id)
