from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, exists, or_, select, tuple_, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from herald.access.models import Role, User
from herald.customers.acquisition import acquisition_of, channel_of
from herald.customers.models import (
    Customer,
    CustomerActivity,
    CustomerAddress,
    CustomerBusiness,
    CustomerEmail,
    CustomerGroup,
    CustomerGroupMember,
    CustomerNote,
    CustomerPhone,
    CustomerTag,
    month_day,
)
from herald.customers.schemas import (
    ActivityOut,
    AddressIn,
    AddressOut,
    BillingContact,
    BusinessIn,
    BusinessOut,
    CustomerCreate,
    CustomerFilter,
    CustomerOut,
    CustomerPage,
    CustomerProfileOut,
    CustomerQuery,
    CustomerUpdate,
    EmailIn,
    EmailOut,
    NoteIn,
    NoteOut,
    NoteUpdate,
    PhoneIn,
    PhoneOut,
)
from herald.db import commit_or_conflict, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.events.models import CUSTOMER_CREATED, Event
from herald.orders import money
from herald.orders import service as orders
from herald.orders.schemas import OrderOut
from herald.pagination import Page, decode_cursor, encode_cursor, page_of

MAX_NOTES_LISTED = 500


def profile(
    session: Session, customer_id: uuid.UUID, *, include_deleted: bool = False
) -> CustomerProfileOut:
    """The customer with their order figures (lifetime value in the reporting currency)."""
    customer = get_customer(session, customer_id, include_deleted=include_deleted)
    return CustomerProfileOut(
        **to_out(customer).model_dump(), metrics=money.customer_metrics(session, customer_id)
    )


def customer_orders(
    session: Session, customer_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None
) -> Page[OrderOut]:
    """A customer's orders with their items, the latest paid first."""
    get_customer(session, customer_id, include_deleted=True)
    return orders.orders_of(session, customer_id, limit=limit, cursor=cursor)


def to_out(customer: Customer) -> CustomerOut:
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        emails=[EmailOut(address=e.email, primary=e.is_primary) for e in customer.emails],
        phones=[PhoneOut(number=p.phone, primary=p.is_primary) for p in customer.phones],
        addresses=[_address_out(a) for a in customer.addresses],
        country=customer.country,
        business=_business_out(customer.business),
        groups=sorted(m.group.key for m in customer.memberships),
        orders=customer.orders_count,
        lifetime_value=Decimal(customer.lifetime_value or 0).quantize(money.CENT),
        last_order_at=customer.last_order_at,
        birthday=customer.birthday,
        locale=customer.locale,
        timezone=customer.timezone,
        external_id=customer.external_id,
        attributes=customer.attributes,
        tags=[t.tag for t in customer.tags],
        user_id=customer.user_id,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        deleted_at=customer.deleted_at,
    )


# What a profile's parts are as column values: the one mapping from what staff send to what is
# stored, shared by the ORM writes here and the bulk writes of an import.


def _email_rows(emails: list[EmailIn]) -> list[dict[str, Any]]:
    return [
        {"email": e.address.lower(), "is_primary": e.primary, "position": i}
        for i, e in enumerate(emails)
    ]


def _primary_email(emails: list[EmailIn]) -> str | None:
    return next((e.address.lower() for e in emails if e.primary), None)


def _phone_rows(phones: list[PhoneIn]) -> list[dict[str, Any]]:
    return [
        {"phone": p.number, "is_primary": p.primary, "position": i} for i, p in enumerate(phones)
    ]


def _address_rows(addresses: list[AddressIn]) -> list[dict[str, Any]]:
    return [
        {**a.model_dump(exclude={"primary"}), "is_primary": a.primary, "position": i}
        for i, a in enumerate(addresses)
    ]


def _primary_country(addresses: list[AddressIn]) -> str | None:
    return next((a.country for a in addresses if a.primary), None)


def _business_row(business: BusinessIn) -> dict[str, Any]:
    contact = business.billing_contact or BillingContact()
    return {
        "legal_name": business.legal_name.strip(),
        "tax_id": business.tax_id,
        "tax_country": business.tax_country,
        "billing_name": contact.name,
        "billing_email": str(contact.email).lower() if contact.email else None,
        "billing_phone": contact.phone,
    }


@dataclass
class ProfileRows:
    """A new profile as the rows of its tables (each row keyed by its columns)."""

    customer: dict[str, Any]
    emails: list[dict[str, Any]]
    phones: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    business: dict[str, Any] | None


def profile_rows(data: CustomerCreate) -> ProfileRows:
    """The rows of the new profile ``data`` describes (its uniqueness unchecked)."""
    now = utcnow()
    acquisition = acquisition_of(data.attributes)
    customer = {
        "id": uuid.uuid4(),
        "name": data.name.strip(),
        "birthday": data.birthday,
        "birthday_md": month_day(data.birthday) if data.birthday else None,
        "locale": data.locale,
        "timezone": data.timezone,
        "external_id": data.external_id,
        "attributes": data.attributes,
        "acquisition": acquisition,
        "acquisition_channel": channel_of(acquisition),
        "primary_email": _primary_email(data.emails),
        "country": _primary_country(data.addresses) or data.country,
        "lifetime_value": Decimal(0),
        "orders_count": 0,
        "created_at": now,
        "updated_at": now,
    }
    return ProfileRows(
        customer=customer,
        emails=_email_rows(data.emails),
        phones=_phone_rows(data.phones),
        addresses=_address_rows(data.addresses),
        tags=[{"tag": t} for t in data.tags],
        business=_business_row(data.business) if data.business else None,
    )


def _set_emails(customer: Customer, emails: list[EmailIn]) -> None:
    customer.emails = [CustomerEmail(**row) for row in _email_rows(emails)]
    customer.primary_email = _primary_email(emails)


def _set_phones(customer: Customer, phones: list[PhoneIn]) -> None:
    customer.phones = [CustomerPhone(**row) for row in _phone_rows(phones)]


def _address_out(address: CustomerAddress) -> AddressOut:
    return AddressOut(
        label=address.label,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country=address.country,
        primary=address.is_primary,
    )


def _business_out(business: CustomerBusiness | None) -> BusinessOut | None:
    if business is None:
        return None
    contact = BillingContact(
        name=business.billing_name, email=business.billing_email, phone=business.billing_phone
    )
    return BusinessOut(
        legal_name=business.legal_name,
        tax_id=business.tax_id,
        tax_country=business.tax_country,
        billing_contact=contact if contact.model_dump(exclude_none=True) else None,
    )


def _set_business(customer: Customer, business: BusinessIn | None) -> None:
    if business is None:
        customer.business = None
        return
    fields = _business_row(business)
    if customer.business is None:
        customer.business = CustomerBusiness(**fields)
    else:
        for name, value in fields.items():
            setattr(customer.business, name, value)


def _set_addresses(customer: Customer, addresses: list[AddressIn]) -> None:
    customer.addresses = [CustomerAddress(**row) for row in _address_rows(addresses)]
    customer.country = _primary_country(addresses)


def _set_tags(customer: Customer, tags: list[str]) -> None:
    customer.tags = [CustomerTag(tag=t) for t in tags]


def _check_unique(
    session: Session,
    *,
    external_id: str | None,
    primary_email: str | None,
    exclude: uuid.UUID | None,
) -> None:
    """Name the clashing field before the database's unique index would refuse it anonymously."""

    def taken(condition: ColumnElement[bool]) -> bool:
        query = select(Customer.id).where(condition)
        if exclude is not None:
            query = query.where(Customer.id != exclude)
        return session.scalar(query) is not None

    if external_id is not None and taken(Customer.external_id == external_id):
        raise Conflict(f"a customer with external_id {external_id!r} exists", field="external_id")
    if primary_email is not None and taken(Customer.primary_email == primary_email):
        raise Conflict("a customer with this primary email exists", field="emails")


def _commit(session: Session) -> None:
    # A concurrent insert may have won the race past _check_unique.
    commit_or_conflict(session, "a customer with this external_id or primary email exists")


def create_customer(
    session: Session,
    data: CustomerCreate,
    *,
    commit: bool = True,
    actor: str | None = None,
    source: str = "api",
) -> Customer:
    """A new profile, recorded as a ``customer.created`` event saying where it came from
    (``source``: api, signup, newsletter, inquiry); ``actor``: the staff member creating it,
    for its activity log."""
    customer = new_customer(data)
    _check_unique(
        session, external_id=data.external_id, primary_email=customer.primary_email, exclude=None
    )
    session.add(customer)
    session.flush()
    record_created(session, customer, source=source, actor=actor)
    if commit:
        _commit(session)
    else:
        session.flush()
    return customer


def new_customer(data: CustomerCreate) -> Customer:
    """The profile ``data`` describes, not yet added to a session (its uniqueness unchecked)."""
    rows = profile_rows(data)
    customer = Customer(**rows.customer)
    customer.emails = [CustomerEmail(**row) for row in rows.emails]
    customer.phones = [CustomerPhone(**row) for row in rows.phones]
    customer.addresses = [CustomerAddress(**row) for row in rows.addresses]
    customer.tags = [CustomerTag(**row) for row in rows.tags]
    customer.business = CustomerBusiness(**rows.business) if rows.business else None
    return customer


def record_created(
    session: Session,
    customer: Customer,
    *,
    source: str,
    actor: str | None,
) -> None:
    """The new profile's ``customer.created`` event and, when staff made it, its activity
    line, in the caller's transaction."""
    session.add_all(created_records(customer.id, source=source, actor=actor))


def created_records(
    customer_id: uuid.UUID, *, source: str, actor: str | None, react: bool = True
) -> list[Event | CustomerActivity]:
    """What a new profile is recorded by, not yet added to a session: its ``customer.created``
    event (``react=False``: nothing reacts to it) and, when staff made it, its activity line."""
    records: list[Event | CustomerActivity] = [
        Event.emitted(CUSTOMER_CREATED, customer_id, {"source": source}, react=react)
    ]
    if actor is not None:
        records.append(
            CustomerActivity(customer_id=customer_id, actor=actor, action="created", changes={})
        )
    return records


def get_customer(
    session: Session, customer_id: uuid.UUID, *, include_deleted: bool = False
) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or (customer.deleted_at is not None and not include_deleted):
        raise NotFound("no such customer")
    return customer


def find_customer(session: Session, reference: str) -> Customer:
    """The live customer a person names by id or by any of their email addresses."""
    reference = reference.strip()
    try:
        return get_customer(session, uuid.UUID(reference))
    except ValueError:
        pass
    found = session.scalar(
        select(Customer)
        .join(CustomerEmail, CustomerEmail.customer_id == Customer.id)
        .where(CustomerEmail.email == reference, Customer.deleted_at.is_(None))
        .order_by(CustomerEmail.is_primary.desc(), Customer.created_at)
        .limit(1)
    )
    if found is None:
        raise NotFound(f"no customer {reference!r}")
    return found


def update_customer(
    session: Session, customer_id: uuid.UUID, data: CustomerUpdate, *, actor: str
) -> Customer:
    """A partial update; what changed is logged under ``actor`` (staff, or the run that did it)."""
    customer = get_customer(session, customer_id)
    change_customer(session, customer, data, actor=actor)
    _check_unique(
        session,
        external_id=customer.external_id,
        primary_email=customer.primary_email,
        exclude=customer.id,
    )
    _commit(session)
    return customer


def change_customer(
    session: Session, customer: Customer, data: CustomerUpdate, *, actor: str
) -> dict[str, Any]:
    """Apply the fields ``data`` sets in the caller's transaction (uniqueness unchecked);
    what changed, each ``{"from", "to"}``, logged under ``actor`` when anything did."""
    fields = data.model_fields_set
    before = to_out(customer).model_dump(mode="json")
    if "name" in fields:
        customer.name = (data.name or "").strip()
    for simple in ("birthday", "locale", "timezone", "external_id"):
        if simple in fields:
            setattr(customer, simple, getattr(data, simple))
    if "emails" in fields:
        _set_emails(customer, data.emails or [])
    if "phones" in fields:
        _set_phones(customer, data.phones or [])
    if "addresses" in fields:
        _set_addresses(customer, data.addresses or [])
    if "country" in fields and not customer.addresses:
        customer.country = data.country
    if "business" in fields:
        _set_business(customer, data.business)
    if "tags" in fields:
        _set_tags(customer, data.tags or [])
    if "attributes" in fields and data.attributes is not None:
        merged = dict(customer.attributes)
        for key, value in data.attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        customer.attributes = merged
        acquisition = acquisition_of(data.attributes)
        if customer.acquisition_channel is None and acquisition:
            customer.acquisition = acquisition
            customer.acquisition_channel = channel_of(acquisition)
    after = to_out(customer).model_dump(mode="json")
    changes = {
        field: {"from": before[field], "to": after[field]}
        for field in sorted(fields)
        if before.get(field) != after.get(field)
    }
    if changes:
        customer.updated_at = utcnow()
        log_activity(session, customer.id, actor, "updated", changes)
    return changes


def delete_customer(session: Session, customer_id: uuid.UUID, *, actor: str) -> None:
    customer = get_customer(session, customer_id)
    customer.deleted_at = utcnow()
    log_activity(session, customer.id, actor, "deleted")
    session.commit()


def restore_customer(session: Session, customer_id: uuid.UUID, *, actor: str) -> Customer:
    customer = get_customer(session, customer_id, include_deleted=True)
    if customer.deleted_at is None:
        raise Conflict("customer is not deleted")
    customer.deleted_at = None
    log_activity(session, customer.id, actor, "restored")
    session.commit()
    return customer


def log_activity(
    session: Session,
    customer_id: uuid.UUID,
    actor: str,
    action: str,
    changes: dict[str, Any] | None = None,
) -> None:
    """One line of the profile's activity log, written in the caller's transaction."""
    session.add(
        CustomerActivity(customer_id=customer_id, actor=actor, action=action, changes=changes or {})
    )


def activity(
    session: Session, customer_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None
) -> Page[ActivityOut]:
    """Who changed what on the profile, newest first."""
    get_customer(session, customer_id, include_deleted=True)
    stmt = select(CustomerActivity).where(CustomerActivity.customer_id == customer_id)
    return page_of(
        session,
        stmt,
        CustomerActivity.at,
        CustomerActivity.id,
        lambda a: ActivityOut.model_validate(a, from_attributes=True),
        limit=limit,
        cursor=cursor,
    )


# -- notes ---------------------------------------------------------------------------------------


def _note_out(note: CustomerNote) -> NoteOut:
    return NoteOut.model_validate(note, from_attributes=True)


def _note(session: Session, customer_id: uuid.UUID, note_id: uuid.UUID) -> CustomerNote:
    note = session.get(CustomerNote, note_id)
    if note is None or note.customer_id != customer_id:
        raise NotFound("no such note")
    return note


def notes(session: Session, customer_id: uuid.UUID) -> list[NoteOut]:
    """The profile's notes, pinned first, then newest first (at most the latest 500)."""
    get_customer(session, customer_id, include_deleted=True)
    rows = session.scalars(
        select(CustomerNote)
        .where(CustomerNote.customer_id == customer_id)
        .order_by(CustomerNote.pinned.desc(), CustomerNote.created_at.desc(), CustomerNote.id)
        .limit(MAX_NOTES_LISTED)
    )
    return [_note_out(n) for n in rows]


def add_note(session: Session, customer_id: uuid.UUID, data: NoteIn, *, actor: str) -> NoteOut:
    get_customer(session, customer_id)
    now = utcnow()
    note = CustomerNote(
        customer_id=customer_id,
        body=data.body,
        pinned=data.pinned,
        author=actor,
        created_at=now,
        updated_at=now,
        updated_by=actor,
    )
    session.add(note)
    session.flush()
    log_activity(session, customer_id, actor, "note_added", {"note_id": str(note.id)})
    session.commit()
    return _note_out(note)


def edit_note(
    session: Session, customer_id: uuid.UUID, note_id: uuid.UUID, data: NoteUpdate, *, actor: str
) -> NoteOut:
    note = _note(session, customer_id, note_id)
    changed = {
        field: {"from": getattr(note, field), "to": value}
        for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items()
        if getattr(note, field) != value
    }
    if changed:
        for field, change in changed.items():
            setattr(note, field, change["to"])
        note.updated_at, note.updated_by = utcnow(), actor
        log_activity(
            session, customer_id, actor, "note_edited", {"note_id": str(note.id)} | changed
        )
        session.commit()
    return _note_out(note)


def delete_note(
    session: Session, customer_id: uuid.UUID, note_id: uuid.UUID, *, actor: str
) -> None:
    note = _note(session, customer_id, note_id)
    session.delete(note)
    log_activity(
        session, customer_id, actor, "note_deleted", {"note_id": str(note.id), "body": note.body}
    )
    session.commit()


# -- listing -------------------------------------------------------------------------------------

_SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "created_at": Customer.created_at,
    "updated_at": Customer.updated_at,
    "name": Customer.name,
    "lifetime_value": Customer.lifetime_value,
    "orders": Customer.orders_count,
    "last_order": Customer.last_order_at,
}
# How a sort value travels in a cursor (JSON) and back.
_FROM_CURSOR: dict[str, Callable[[Any], Any]] = {
    "created_at": datetime.fromisoformat,
    "updated_at": datetime.fromisoformat,
    "last_order": datetime.fromisoformat,
    "name": str,
    "lifetime_value": Decimal,
    "orders": int,
}


def filter_conditions(query: CustomerFilter, *, search: bool = True) -> list[ColumnElement[bool]]:
    """The filters' conditions (a segment aside: the caller resolves it); each reads an
    indexed column or an index-backed EXISTS. ``search=False`` leaves the search text out, for
    a caller that searches branch by branch (``list_customers``)."""
    where: list[ColumnElement[bool]] = []
    if query.deleted_only:
        where.append(Customer.deleted_at.is_not(None))
    elif not query.include_deleted:
        where.append(Customer.deleted_at.is_(None))
    if query.q and search:
        where.append(or_(*_search_matches(query.q)))
    if query.tag:
        where.append(
            exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == query.tag)
        )
    if query.country:
        where.append(Customer.country == query.country)
    if query.group:
        where.append(
            exists().where(
                CustomerGroupMember.customer_id == Customer.id,
                CustomerGroup.id == CustomerGroupMember.group_id,
                CustomerGroup.key == query.group,
            )
        )
    if query.business is not None:
        is_business = exists().where(CustomerBusiness.customer_id == Customer.id)
        where.append(is_business if query.business else ~is_business)
    bounds = (
        (Customer.created_at, query.created_after, query.created_before, False),
        (Customer.lifetime_value, query.min_lifetime_value, query.max_lifetime_value, True),
        (Customer.orders_count, query.min_orders, query.max_orders, True),
        (Customer.last_order_at, query.last_order_after, query.last_order_before, False),
    )
    for column, low, high, inclusive in bounds:
        if low is not None:
            where.append(column >= low)
        if high is not None:
            where.append(column <= high if inclusive else column < high)
    return where


def _search_matches(text: str) -> list[ColumnElement[bool]]:
    """A customer matches the search text by name, by an email or by a phone number: one
    condition each, every one backed by a trigram index on PostgreSQL."""
    pattern = f"%{text.strip().lower()}%"
    digits = "".join(ch for ch in text if ch.isdigit())
    conditions: list[ColumnElement[bool]] = [
        Customer.name.ilike(pattern),
        exists().where(CustomerEmail.customer_id == Customer.id, CustomerEmail.email.like(pattern)),
    ]
    if len(digits) >= 3:
        conditions.append(
            exists().where(
                CustomerPhone.customer_id == Customer.id,
                CustomerPhone.phone.like(f"%{digits}%"),
            )
        )
    return conditions


def list_customers(
    session: Session, query: CustomerQuery, *, members_of: ColumnElement[bool] | None = None
) -> CustomerPage:
    """A page of the list; ``members_of``: a saved segment's condition (``query.segment``
    resolved by the caller, which knows segments)."""
    field = query.sort.lstrip("-")
    descending = query.sort.startswith("-")
    column = _SORT_COLUMNS[field]
    stmt = select(Customer).where(*filter_conditions(query, search=False))
    if field == "last_order":
        stmt = stmt.where(Customer.last_order_at.is_not(None))
    if members_of is not None:
        stmt = stmt.where(members_of)
    if query.cursor:
        raw, after_id = decode_cursor(query.cursor, timestamp=False)
        try:
            value = _FROM_CURSOR[field](raw)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InvalidInput("invalid cursor", field="cursor") from exc
        key = tuple_(column, Customer.id)
        stmt = stmt.where(key < (value, after_id) if descending else key > (value, after_id))
    order = (column.desc(), Customer.id.desc()) if descending else (column.asc(), Customer.id.asc())
    if query.q:
        stmt = select(Customer).where(
            Customer.id.in_(_page_of_matches(stmt, order, query.q, query.limit + 1))
        )
    rows = list(session.scalars(stmt.order_by(*order).limit(query.limit + 1)))
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    last = rows[-1] if rows else None
    next_cursor = None
    if has_more and last is not None:
        value = getattr(last, column.key)
        next_cursor = encode_cursor(str(value) if isinstance(value, Decimal) else value, last.id)
    return CustomerPage(items=[to_out(c) for c in rows], next_cursor=next_cursor)


def _page_of_matches(
    stmt: Select[Customer],
    order: tuple[ColumnElement[Any], ...],
    text: str,
    size: int,
) -> CompoundSelect:
    """The ids of the first ``size`` customers ``stmt`` lists that match ``text``, as the
    union of each match's own first page. One OR over a name, an email and a phone leaves the
    database one plan for every term: reading customers in list order until a page is full,
    which is quick for a common term and reads every customer for a rare one. A branch per
    match lets each pick its plan: a rare term comes from its trigram index, a common one from
    the list order. The page of the union is the page of the OR: any customer among the first
    ``size`` matching one way is among the first ``size`` of that branch."""
    firsts = [
        stmt.where(match).order_by(*order).limit(size).with_only_columns(Customer.id).subquery()
        for match in _search_matches(text)
    ]
    return union_all(*(select(first.c.id) for first in firsts))


# -- resolving customers referenced by events ------------------------------------------------------


@dataclass
class CustomerIndex:
    """Live customers of one batch of references, found in three queries whatever the batch size."""

    by_id: set[uuid.UUID]
    by_external_id: dict[str, uuid.UUID]
    by_email: dict[str, uuid.UUID]

    def find(
        self, customer_id: uuid.UUID | None, external_id: str | None, email: str | None
    ) -> uuid.UUID | None:
        if customer_id is not None:
            return customer_id if customer_id in self.by_id else None
        found = self.by_external_id.get(external_id) if external_id else None
        if found is None and email:
            found = self.by_email.get(email.lower())
        return found

    def remember(self, customer: Customer) -> None:
        if customer.external_id:
            self.by_external_id[customer.external_id] = customer.id
        if customer.primary_email:
            self.by_email[customer.primary_email] = customer.id


def index_customers(
    session: Session, *, ids: set[uuid.UUID], external_ids: set[str], emails: set[str]
) -> CustomerIndex:
    live = Customer.deleted_at.is_(None)
    index = CustomerIndex(set(), {}, {})
    if ids:
        index.by_id = set(session.scalars(select(Customer.id).where(Customer.id.in_(ids), live)))
    if external_ids:
        rows = session.execute(
            select(Customer.external_id, Customer.id).where(
                Customer.external_id.in_(external_ids), live
            )
        )
        index.by_external_id = {ext: cid for ext, cid in rows if ext is not None}
    if emails:
        matches = session.execute(
            select(CustomerEmail.email, Customer.id)
            .join(Customer, Customer.id == CustomerEmail.customer_id)
            .where(CustomerEmail.email.in_({e.lower() for e in emails}), live)
            # A primary address wins over the same address listed as someone's secondary.
            .order_by(CustomerEmail.is_primary, Customer.created_at.desc())
        )
        index.by_email = {email: cid for email, cid in matches}
    return index


# -- sign-in accounts ----------------------------------------------------------------------------


def link_account(session: Session, customer_id: uuid.UUID, user_id: uuid.UUID) -> User:
    customer = get_customer(session, customer_id)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", field="user_id")
    if user.role is not Role.customer:
        raise Conflict("only a user with the customer role can be linked to a profile")
    taken = session.scalar(
        select(Customer.id).where(Customer.user_id == user.id, Customer.id != customer.id)
    )
    if taken is not None:
        raise Conflict("this user is linked to another customer")
    customer.user_id = user.id
    session.commit()
    return user


def promote_to_account(session: Session, customer_id: uuid.UUID) -> User:
    """Create a customer-role sign-in account from the profile's primary email and link it."""
    customer = get_customer(session, customer_id)
    if customer.user_id is not None:
        raise Conflict("customer already has an account")
    if customer.primary_email is None:
        raise InvalidInput("a customer needs a primary email to get an account", field="emails")
    existing = session.scalar(select(User).where(User.email == customer.primary_email))
    if existing is not None:
        raise Conflict("an account with this email exists; link it instead")
    user = User(email=customer.primary_email, role=Role.customer)
    session.add(user)
    session.flush()
    customer.user_id = user.id
    session.commit()
    return user
