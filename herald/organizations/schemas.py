from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from herald.iso_codes import Currency


class OrganizationOut(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    reporting_currency: str = Field(description="every money figure is in this currency")
    order_history_days: int = Field(
        description="orders paid longer ago than this when they arrive are history: counted, "
        "but they award no points and start no runs"
    )


class OrganizationUpdate(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    reporting_currency: Currency | None = None
    order_history_days: Annotated[int, Field(ge=0, le=3650)] | None = None
