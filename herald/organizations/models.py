from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, utcnow


class Organization(Base):
    """A merchant brand: the tenant every other row belongs to."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Orders paid longer ago than this when they arrive are history: counted, no points, no runs.
    order_history_days: Mapped[int] = mapped_column(default=30, server_default="30")
    # Every money figure (lifetime value, revenue) is in this currency; orders in another are
    # converted at the month's rate the merchant sets, or left out and counted as such.
    reporting_currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
