from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from herald.iso_codes import Currency

MAX_BATCH = 1000


class ProductIn(BaseModel):
    """One catalog entry. In a batch, a product already there is replaced by what is sent."""

    model_config = ConfigDict(extra="forbid")

    product_id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=300)]
    url: Annotated[AnyHttpUrl, Field(max_length=2000)] | None = None
    image_url: Annotated[AnyHttpUrl, Field(max_length=2000)] | None = None
    category: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    price: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] | None = None
    currency: Currency | None = None
    active: bool = True

    @model_validator(mode="after")
    def _priced_in_a_currency(self) -> ProductIn:
        if self.price is not None and self.currency is None:
            raise ValueError("a price needs its currency")
        return self


class ProductBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    products: list[ProductIn] = Field(min_length=1, max_length=MAX_BATCH)


class ProductsSaved(BaseModel):
    created: int
    updated: int


class ProductOut(BaseModel):
    id: uuid.UUID
    product_id: str
    name: str
    url: str | None
    image_url: str | None
    category: str | None
    price: Decimal | None
    currency: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
