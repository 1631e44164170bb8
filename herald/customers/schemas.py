from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import stdnum
import stdnum.exceptions
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from herald.iso_codes import Country
from herald.orders.schemas import CustomerMetrics

MAX_ATTRIBUTES_BYTES = 16_384
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def to_e164(number: str) -> str:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number in E.164 form (+<country><number>): {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


def _check_locale(value: str | None) -> str | None:
    if value is not None and not _LOCALE.match(value):
        raise ValueError("locale must be a BCP 47 tag such as 'en' or 'de-AT'")
    return value.replace("_", "-") if value else value


def _check_attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes exceed {MAX_ATTRIBUTES_BYTES} bytes")
    return value


def _normalize_tags(value: list[str]) -> list[str]:
    tags = {tag.strip() for tag in value}
    if any(not tag or len(tag) > 64 for tag in tags):
        raise ValueError("tags are 1 to 64 characters")
    return sorted(tags)


def _address_shorthand(value: Any) -> Any:
    return {"address": value} if isinstance(value, str) else value


def _number_shorthand(value: Any) -> Any:
    return {"number": value} if isinstance(value, str) else value


Timezone = Annotated[str | None, AfterValidator(_check_timezone)]
Locale = Annotated[str | None, AfterValidator(_check_locale)]
Attributes = Annotated[dict[str, Any], AfterValidator(_check_attributes)]
Tags = Annotated[list[str], Field(max_length=100), AfterValidator(_normalize_tags)]


class EmailIn(BaseModel):
    address: EmailStr
    primary: bool = False


class PhoneIn(BaseModel):
    number: Annotated[str, AfterValidator(to_e164)]
    primary: bool = False


def _one_primary(items: list[Any], what: str) -> list[Any]:
    primaries = sum(1 for item in items if item.primary)
    if primaries > 1:
        raise ValueError(f"only one {what} can be primary")
    if items and primaries == 0:
        items[0].primary = True
    return items


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=50, examples=["home", "billing"])
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: Country
    primary: bool = False


class AddressOut(BaseModel):
    label: str | None
    line1: str
    line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str
    primary: bool


class BillingContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: Annotated[str, AfterValidator(to_e164)] | None = None


class BusinessIn(BaseModel):
    """The customer is a business. A tax identification number is checked for its country
    where the country's numbers carry a check (Vietnam's MST, EU VAT numbers, ...)."""

    model_config = ConfigDict(extra="forbid")

    legal_name: str = Field(min_length=1, max_length=300)
    tax_id: str | None = Field(default=None, min_length=1, max_length=50)
    tax_country: Country | None = None
    billing_contact: BillingContact | None = None

    @model_validator(mode="after")
    def _tax_id_checks(self) -> BusinessIn:
        if self.tax_id is None:
            return self
        if self.tax_country is None:
            raise ValueError("a tax_id needs its tax_country")
        self.tax_id = checked_tax_id(self.tax_id, self.tax_country)
        return self


def checked_tax_id(tax_id: str, country: str) -> str:
    """The number in its compact form, if the country's check passes (or has none)."""
    checker = stdnum.get_cc_module(country.lower(), "vat")
    if checker is None:
        return tax_id.strip()
    try:
        return str(checker.validate(tax_id))
    except stdnum.exceptions.ValidationError as exc:
        raise ValueError(f"not a valid tax identification number for {country}: {exc}") from exc


class BusinessOut(BaseModel):
    legal_name: str
    tax_id: str | None
    tax_country: str | None
    billing_contact: BillingContact | None


AddressList = Annotated[
    list[AddressIn], Field(max_length=20), AfterValidator(lambda v: _one_primary(v, "address"))
]
EmailList = Annotated[
    list[Annotated[EmailIn, BeforeValidator(_address_shorthand)]],
    Field(max_length=20),
    AfterValidator(lambda v: _one_primary(v, "email")),
]
PhoneList = Annotated[
    list[Annotated[PhoneIn, BeforeValidator(_number_shorthand)]],
    Field(max_length=20),
    AfterValidator(lambda v: _one_primary(v, "phone")),
]


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    emails: EmailList = []
    phones: PhoneList = []
    addresses: AddressList = []
    country: Country | None = Field(
        default=None,
        description="where the customer is when no address says: the primary "
        "address's country wins",
    )
    business: BusinessIn | None = None
    birthday: date | None = None
    locale: Locale = None
    timezone: Timezone = None
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    attributes: Attributes = {}
    tags: Tags = []

    @field_validator("birthday")
    @classmethod
    def _birthday_in_past(cls, value: date | None) -> date | None:
        if value is not None and (value.year < 1900 or value > date.today()):
            raise ValueError("birthday must be a past date after 1900")
        return value


class CustomerUpdate(BaseModel):
    """A partial update. ``attributes`` merges (a null value removes the key); lists replace."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    emails: EmailList | None = None
    phones: PhoneList | None = None
    addresses: AddressList | None = None
    country: Country | None = Field(
        default=None, description="applies while the customer has no address"
    )
    business: BusinessIn | None = Field(default=None, description="null: no longer a business")
    birthday: date | None = None
    locale: Locale = None
    timezone: Timezone = None
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    attributes: dict[str, Any] | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> CustomerUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to update")
        return self


class EmailOut(BaseModel):
    address: str
    primary: bool


class PhoneOut(BaseModel):
    number: str
    primary: bool


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str
    emails: list[EmailOut]
    phones: list[PhoneOut]
    addresses: list[AddressOut]
    country: str | None = Field(description="the primary address's country")
    business: BusinessOut | None
    groups: list[str] = Field(description="the keys of the customer groups they belong to")
    orders: int = Field(description="orders placed, refunded ones included")
    lifetime_value: Decimal = Field(
        description="paid less refunded, in the reporting currency (orders no rate converts "
        "add nothing)"
    )
    last_order_at: datetime | None
    birthday: date | None
    locale: str | None
    timezone: str | None
    external_id: str | None
    attributes: dict[str, Any]
    tags: list[str]
    user_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class CustomerProfileOut(CustomerOut):
    """One customer as staff see them: the record and their order figures."""

    metrics: CustomerMetrics


SortKey = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "name",
    "-name",
    "lifetime_value",
    "-lifetime_value",
    "orders",
    "-orders",
    "last_order",
    "-last_order",
]


class CustomerFilter(BaseModel):
    """Which customers: the list's filters, also the selection of exports and bulk actions."""

    q: str | None = Field(default=None, max_length=200, description="name, email or phone")
    tag: str | None = Field(default=None, max_length=64)
    group: str | None = Field(default=None, max_length=100, description="a customer group's key")
    business: bool | None = Field(default=None, description="businesses only, or people only")
    segment: str | None = Field(
        default=None, max_length=100, description="a saved segment's key or id: its members"
    )
    country: Country | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    min_lifetime_value: Decimal | None = Field(default=None, ge=0, le=10**14)
    max_lifetime_value: Decimal | None = Field(default=None, ge=0, le=10**14)
    min_orders: int | None = Field(default=None, ge=0, le=10**9)
    max_orders: int | None = Field(default=None, ge=0, le=10**9)
    last_order_after: datetime | None = None
    last_order_before: datetime | None = None
    include_deleted: bool = False
    deleted_only: bool = Field(default=False, description="only soft-deleted profiles")


class CustomerQuery(CustomerFilter):
    """A page of the list: its filters, order and place."""

    sort: SortKey = Field(
        default="-created_at",
        description="sorting by last_order lists the customers who have ordered",
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: str | None


class AccountLink(BaseModel):
    user_id: uuid.UUID


class AccountOut(BaseModel):
    user_id: uuid.UUID
    email: str
    role: str


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)
    pinned: bool = False


class NoteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str | None = Field(default=None, min_length=1, max_length=10_000)
    pinned: bool | None = None


class NoteOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    body: str
    pinned: bool
    author: str = Field(description="who wrote it: the staff key")
    created_at: datetime
    updated_at: datetime
    updated_by: str


class ActivityOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    actor: str
    action: str
    changes: dict[str, Any]
    at: datetime


GROUP_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=GROUP_KEY_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    kind: str | None = Field(default=None, max_length=50, examples=["wholesale", "franchise"])
    description: str = Field(default="", max_length=1000)


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: str | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=1000)


class GroupOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    kind: str | None
    description: str
    members: int
    created_at: datetime


class GroupMembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
