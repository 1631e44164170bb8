"""ISO codes as every field takes them: currencies (ISO 4217) and countries (ISO 3166-1
alpha-2), upper-cased and checked against pycountry's tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, Field


def _known(lookup: Callable[..., Any], key: str, what: str) -> Callable[[str], str]:
    def check(code: str) -> str:
        code = code.upper()
        if lookup(**{key: code}) is None:
            raise ValueError(f"unknown {what} {code!r}")
        return code

    return check


Currency = Annotated[
    str,
    Field(min_length=3, max_length=3),
    AfterValidator(_known(pycountry.currencies.get, "alpha_3", "ISO 4217 currency")),
]
Country = Annotated[
    str,
    Field(min_length=2, max_length=2),
    AfterValidator(_known(pycountry.countries.get, "alpha_2", "ISO 3166-1 alpha-2 country")),
]
