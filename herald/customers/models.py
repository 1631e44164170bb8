from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from herald.db import Base, TenantScoped, utcnow


class Customer(TenantScoped, Base):
    """A shopper's profile. Soft-deleted profiles stay for the loyalty ledger and can be restored."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        UniqueConstraint("organization_id", "primary_email"),
        Index("ix_customers_org_created", "organization_id", "created_at", "id"),
        Index("ix_customers_org_name", "organization_id", "name", "id"),
        # The daily birthday sweep: one day's birthdays across every organization.
        Index("ix_customers_birthday", "birthday_md", "organization_id", "id"),
        Index("ix_customers_org_country", "organization_id", "country"),
        # Lists sorted by an order figure, and their keyset pages.
        Index("ix_customers_org_value", "organization_id", "lifetime_value", "id"),
        Index("ix_customers_org_orders", "organization_id", "orders_count", "id"),
        Index("ix_customers_org_last_order", "organization_id", "last_order_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), default="")
    # Lower-cased copy of the primary address: unique per organization.
    primary_email: Mapped[str | None] = mapped_column(String(320))
    birthday: Mapped[date | None]
    # month * 100 + day of the birthday (0229 is 229), kept with it: an index finds a day's
    # birthdays the same way on SQLite and PostgreSQL.
    birthday_md: Mapped[int | None]
    locale: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The primary address's country (ISO 3166-1 alpha-2), kept with it for lists and figures.
    country: Mapped[str | None] = mapped_column(String(2))
    # Order figures, kept by herald/orders/figures.py from the orders (lists sort by them).
    orders_count: Mapped[int] = mapped_column(default=0, server_default="0")
    lifetime_value: Mapped[Decimal] = mapped_column(
        Numeric(18, 4), default=Decimal(0), server_default="0"
    )
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None]
    # Where the customer first came from: the first utm_source, utm_medium, utm_campaign and
    # source seen on them or their events (herald/customers/acquisition.py), and the channel
    # acquisition reports group by.
    acquisition: Mapped[dict[str, Any] | None]
    acquisition_channel: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]
    # Erased at the person's request: personal data gone everywhere, the row kept for counts.
    erased_at: Mapped[datetime | None]

    emails: Mapped[list[CustomerEmail]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CustomerEmail.position"
    )
    phones: Mapped[list[CustomerPhone]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CustomerPhone.position"
    )
    tags: Mapped[list[CustomerTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CustomerTag.tag"
    )
    addresses: Mapped[list[CustomerAddress]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CustomerAddress.position"
    )
    business: Mapped[CustomerBusiness | None] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    # Read here; written by the groups' own statements (herald/customers/groups.py).
    memberships: Mapped[list[CustomerGroupMember]] = relationship(lazy="selectin", viewonly=True)

    @validates("birthday")
    def _keep_birthday_md(self, _key: str, value: date | None) -> date | None:
        self.birthday_md = month_day(value) if value else None
        return value


def month_day(day: date) -> int:
    return day.month * 100 + day.day


class CustomerEmail(TenantScoped, Base):
    __tablename__ = "customer_emails"
    __table_args__ = (Index("ix_customer_emails_org_email", "organization_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(default=0)


class CustomerPhone(TenantScoped, Base):
    __tablename__ = "customer_phones"
    __table_args__ = (Index("ix_customer_phones_org_phone", "organization_id", "phone"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(default=0)


class CustomerTag(TenantScoped, Base):
    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_org_tag", "organization_id", "tag"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class CustomerAddress(TenantScoped, Base):
    __tablename__ = "customer_addresses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(50))  # "home", "billing", "shipping"
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(default=0)


class CustomerNote(TenantScoped, Base):
    """A staff note on a profile; pinned notes come first."""

    __tablename__ = "customer_notes"
    __table_args__ = (
        Index("ix_customer_notes_customer", "organization_id", "customer_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class CustomerActivity(TenantScoped, Base):
    """What staff changed on a profile, by whom and when: the profile's activity log.
    ``changes`` names each changed field with its value before and after."""

    __tablename__ = "customer_activity"
    __table_args__ = (
        Index("ix_customer_activity_customer", "organization_id", "customer_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(50))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerBusiness(TenantScoped, Base):
    """A customer that is a business: its legal name, tax identification number and the
    contact its invoices go to."""

    __tablename__ = "customer_businesses"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    legal_name: Mapped[str] = mapped_column(String(300))
    # Kept compact (no spaces or dashes), as checked for its country.
    tax_id: Mapped[str | None] = mapped_column(String(50))
    tax_country: Mapped[str | None] = mapped_column(String(2))
    billing_name: Mapped[str | None] = mapped_column(String(200))
    billing_email: Mapped[str | None] = mapped_column(String(320))
    billing_phone: Mapped[str | None] = mapped_column(String(20))


class CustomerGroup(TenantScoped, Base):
    """A named set of customers staff keep by hand: wholesale buyers, a franchise's stores."""

    __tablename__ = "customer_groups"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerGroupMember(TenantScoped, Base):
    __tablename__ = "customer_group_members"
    __table_args__ = (
        Index("ix_customer_group_members_customer", "organization_id", "customer_id"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[CustomerGroup] = relationship(lazy="joined")
