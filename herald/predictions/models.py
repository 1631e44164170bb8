"""Predictions' tables: each fitted lifetime-value model, each customer's latest scores, and
what the recommender learned from the orders (products bought by the same customers, and
what sells in each category)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, JSONType, TenantScoped, utcnow

Money = Numeric(18, 2)


class ModelStatus(enum.StrEnum):
    fitted = "fitted"
    not_enough_data = "not_enough_data"


class ClvModel(TenantScoped, Base):
    """One fit of the BG/NBD and Gamma-Gamma models to the organization's orders paid up to
    ``as_of`` (that day included). Fitting the same date again replaces it."""

    __tablename__ = "clv_models"
    __table_args__ = (UniqueConstraint("organization_id", "as_of"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    as_of: Mapped[date]
    status: Mapped[ModelStatus] = mapped_column(Enum(ModelStatus, native_enum=False, length=20))
    # Why there is no model (status not_enough_data), or why the spend model is missing.
    reason: Mapped[str | None] = mapped_column(String(500))
    # {"r", "alpha", "a", "b"} and {"p", "q", "v"}; time in weeks, money in ``currency``.
    bg_nbd: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    gamma_gamma: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    diagnostics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    currency: Mapped[str] = mapped_column(String(3))
    horizon_days: Mapped[int]
    # A fit as of its day that replaced every buyer's scores (the latest is the current one),
    # and how many it wrote; a back-test of a past date scores no one.
    scoring: Mapped[bool] = mapped_column(default=False)
    scored: Mapped[int] = mapped_column(default=0)
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerPrediction(TenantScoped, Base):
    """A buyer's scores from the organization's latest fit. A customer without orders has
    none (and matches no rule on predictions)."""

    __tablename__ = "customer_predictions"
    __table_args__ = (
        Index("ix_customer_predictions_churn", "organization_id", "churn_risk"),
        Index("ix_customer_predictions_clv", "organization_id", "predicted_clv"),
        Index("ix_customer_predictions_purchases", "organization_id", "expected_purchases"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[date]
    # Purchase days expected over the model's horizon.
    expected_purchases: Mapped[float] = mapped_column(Float)
    probability_alive: Mapped[float] = mapped_column(Float)
    churn_risk: Mapped[float] = mapped_column(Float)
    # Expected spend over the horizon (by the spend model, or without one the customer's own
    # average purchase), and that plus what they spent so far; in the reporting currency.
    expected_value: Mapped[Decimal | None] = mapped_column(Money)
    predicted_clv: Mapped[Decimal | None] = mapped_column(Money)


class ProductAffinity(TenantScoped, Base):
    """Customers who bought ``product_id`` also bought ``related_product_id``: its strongest
    links, scored by cosine similarity of the two products' buyers."""

    __tablename__ = "product_affinities"
    __table_args__ = (Index("ix_product_affinities_product", "organization_id", "product_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    product_id: Mapped[str] = mapped_column(String(200))
    related_product_id: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)


class ProductPopularity(TenantScoped, Base):
    """How many customers bought each active product in the last year, by its category: what
    a customer's categories recommend when co-purchases run out."""

    __tablename__ = "product_popularity"
    __table_args__ = (
        UniqueConstraint("organization_id", "product_id"),
        Index("ix_product_popularity_category", "organization_id", "category", "buyers"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    product_id: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200))
    buyers: Mapped[int]
