from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, or_, select, tuple_
from sqlalchemy.orm import Session

from herald.access.models import Role, User
from herald.customers.models import Customer, CustomerEmail, CustomerPhone, CustomerTag
from herald.customers.schemas import (
    CustomerCreate,
    CustomerOut,
    CustomerPage,
    CustomerProfileOut,
    CustomerQuery,
    CustomerUpdate,
    EmailIn,
    EmailOut,
    PhoneIn,
    PhoneOut,
)
from herald.db import commit_or_conflict, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.orders import money
from herald.orders import service as orders
from herald.orders.schemas import OrderOut
from herald.pagination import Page, decode_cursor, encode_cursor


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


def _set_emails(customer: Customer, emails: list[EmailIn]) -> None:
    customer.emails = [
        CustomerEmail(email=e.address.lower(), is_primary=e.primary, position=i)
        for i, e in enumerate(emails)
    ]
    customer.primary_email = next((e.address.lower() for e in emails if e.primary), None)


def _set_phones(customer: Customer, phones: list[PhoneIn]) -> None:
    customer.phones = [
        CustomerPhone(phone=p.number, is_primary=p.primary, position=i)
        for i, p in enumerate(phones)
    ]


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


def create_customer(session: Session, data: CustomerCreate, *, commit: bool = True) -> Customer:
    customer = Customer(
        name=data.name.strip(),
        birthday=data.birthday,
        locale=data.locale,
        timezone=data.timezone,
        external_id=data.external_id,
        attributes=data.attributes,
    )
    _set_emails(customer, data.emails)
    _set_phones(customer, data.phones)
    _set_tags(customer, data.tags)
    _check_unique(
        session, external_id=data.external_id, primary_email=customer.primary_email, exclude=None
    )
    session.add(customer)
    if commit:
        _commit(session)
    else:
        session.flush()
    return customer


def get_customer(
    session: Session, customer_id: uuid.UUID, *, include_deleted: bool = False
) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or (customer.deleted_at is not None and not include_deleted):
        raise NotFound("no such customer")
    return customer


def update_customer(session: Session, customer_id: uuid.UUID, data: CustomerUpdate) -> Customer:
    customer = get_customer(session, customer_id)
    fields = data.model_fields_set
    if "name" in fields:
        customer.name = (data.name or "").strip()
    for simple in ("birthday", "locale", "timezone", "external_id"):
        if simple in fields:
            setattr(customer, simple, getattr(data, simple))
    if "emails" in fields:
        _set_emails(customer, data.emails or [])
    if "phones" in fields:
        _set_phones(customer, data.phones or [])
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
    _check_unique(
        session,
        external_id=customer.external_id,
        primary_email=customer.primary_email,
        exclude=customer.id,
    )
    customer.updated_at = utcnow()
    _commit(session)
    return customer


def delete_customer(session: Session, customer_id: uuid.UUID) -> None:
    customer = get_customer(session, customer_id)
    customer.deleted_at = utcnow()
    session.commit()


def restore_customer(session: Session, customer_id: uuid.UUID) -> Customer:
    customer = get_customer(session, customer_id, include_deleted=True)
    if customer.deleted_at is None:
        raise Conflict("customer is not deleted")
    customer.deleted_at = None
    session.commit()
    return customer


# -- listing -------------------------------------------------------------------------------------

_SORT_COLUMNS = {
    "created_at": Customer.created_at,
    "updated_at": Customer.updated_at,
    "name": Customer.name,
}


def list_customers(session: Session, query: CustomerQuery) -> CustomerPage:
    field = query.sort.lstrip("-")
    descending = query.sort.startswith("-")
    column = _SORT_COLUMNS[field]
    stmt = select(Customer)
    if not query.include_deleted:
        stmt = stmt.where(Customer.deleted_at.is_(None))
    if query.q:
        pattern = f"%{query.q.strip().lower()}%"
        digits = "".join(ch for ch in query.q if ch.isdigit())
        conditions: list[ColumnElement[bool]] = [
            Customer.name.ilike(pattern),
            exists().where(
                CustomerEmail.customer_id == Customer.id, CustomerEmail.email.like(pattern)
            ),
        ]
        if len(digits) >= 3:
            conditions.append(
                exists().where(
                    CustomerPhone.customer_id == Customer.id,
                    CustomerPhone.phone.like(f"%{digits}%"),
                )
            )
        stmt = stmt.where(or_(*conditions))
    if query.tag:
        stmt = stmt.where(
            exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == query.tag)
        )
    if query.created_after:
        stmt = stmt.where(Customer.created_at >= query.created_after)
    if query.created_before:
        stmt = stmt.where(Customer.created_at < query.created_before)
    if query.cursor:
        value, after_id = decode_cursor(query.cursor, timestamp=field != "name")
        key = tuple_(column, Customer.id)
        stmt = stmt.where(key < (value, after_id) if descending else key > (value, after_id))
    order = (column.desc(), Customer.id.desc()) if descending else (column.asc(), Customer.id.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(query.limit + 1)))
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = encode_cursor(getattr(rows[-1], field), rows[-1].id) if has_more else None
    return CustomerPage(items=[to_out(c) for c in rows], next_cursor=next_cursor)


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
