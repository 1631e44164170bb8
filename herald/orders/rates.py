"""The merchant's monthly currency rates. Setting or removing one has the stored figures of
the customers with orders in that currency recomputed (by a run, see ``figures``)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from herald.db import insert_if_absent, session_organization, utcnow
from herald.errors import NotFound
from herald.orders import figures
from herald.orders.models import CurrencyRate
from herald.orders.schemas import CurrencyRateIn, CurrencyRateOut

MAX_RATES_LISTED = 5000


def _month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def _rate_out(rate: CurrencyRate) -> CurrencyRateOut:
    return CurrencyRateOut(
        currency=rate.currency,
        month=f"{rate.month:%Y-%m}",
        rate=rate.rate,
        updated_at=rate.updated_at,
    )


def put_rates(session: Session, rates: list[CurrencyRateIn]) -> list[CurrencyRateOut]:
    """Set each (currency, month)'s rate, new or replacing the one set before."""
    org = session_organization(session)
    now = utcnow()
    for given in rates:
        month = _month(given.month)
        insert_if_absent(
            session,
            CurrencyRate,
            {
                "id": uuid.uuid4(),
                "organization_id": org,
                "currency": given.currency,
                "month": month,
                "rate": given.rate,
                "updated_at": now,
            },
            ["organization_id", "currency", "month"],
        )
        row = session.scalars(
            select(CurrencyRate).where(
                CurrencyRate.currency == given.currency, CurrencyRate.month == month
            )
        ).one()
        row.rate, row.updated_at = given.rate, now
    for currency in sorted({r.currency for r in rates}):
        session.add(figures.figures_stale(currency))
    session.commit()
    return list_rates(session, currencies={r.currency for r in rates})


def list_rates(session: Session, *, currencies: set[str] | None = None) -> list[CurrencyRateOut]:
    stmt = select(CurrencyRate).order_by(CurrencyRate.currency, CurrencyRate.month.desc())
    if currencies:
        stmt = stmt.where(CurrencyRate.currency.in_(currencies))
    return [_rate_out(r) for r in session.scalars(stmt.limit(MAX_RATES_LISTED))]


def delete_rate(session: Session, currency: str, month: str) -> None:
    deleted = session.execute(
        delete(CurrencyRate)
        .where(CurrencyRate.currency == currency.upper(), CurrencyRate.month == _month(month))
        .execution_options(synchronize_session=False)
    )
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise NotFound("no rate for that currency and month")
    session.add(figures.figures_stale(currency.upper()))
    session.commit()
