"""ISO 4217 currency codes, as every money field takes them."""

from __future__ import annotations

from typing import Annotated

import pycountry
from pydantic import AfterValidator, Field


def iso_currency(code: str) -> str:
    code = code.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"unknown ISO 4217 currency {code!r}")
    return code


Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(iso_currency)]
