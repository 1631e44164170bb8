"""The merchant's inputs to analytics: attribution settings, message costs, marketing spend."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from herald.analytics.models import AnalyticsSettings, MarketingSpend
from herald.analytics.rollup import EVERYTHING, mark_dirty, settings_of
from herald.analytics.schemas import (
    AnalyticsSettingsIn,
    AnalyticsSettingsOut,
    SpendIn,
    SpendOut,
)

# Spend is listed a few years at a time.
SPEND_MONTHS_MAX = 120


def get_settings(session: Session) -> AnalyticsSettingsOut:
    return _settings_out(settings_of(session))


def _settings_out(settings: AnalyticsSettings) -> AnalyticsSettingsOut:
    return AnalyticsSettingsOut(
        attribution_model=settings.attribution_model,
        click_window_hours=settings.click_window_hours,
        open_window_hours=settings.open_window_hours,
        delivery_window_hours=settings.delivery_window_hours,
        half_life_hours=settings.half_life_hours,
        message_costs={k: Decimal(str(v)) for k, v in settings.message_costs.items()},
    )


def put_settings(session: Session, data: AnalyticsSettingsIn) -> AnalyticsSettingsOut:
    """Replaces the settings. New windows reach back over every order: the next rollup run
    attributes them all again (the model alone changes no stored weight)."""
    settings = session.scalar(select(AnalyticsSettings))
    if settings is None:
        settings = settings_of(session)
        session.add(settings)
    windows_before = _windows(settings)
    model_before = settings.attribution_model
    settings.attribution_model = data.attribution_model
    settings.click_window_hours = data.click_window_hours
    settings.open_window_hours = data.open_window_hours
    settings.delivery_window_hours = data.delivery_window_hours
    settings.half_life_hours = data.half_life_hours
    settings.message_costs = {k.value: str(v) for k, v in data.message_costs.items()}
    if _windows(settings) != windows_before:
        mark_dirty(session, EVERYTHING, reattribute=True)
    elif settings.attribution_model != model_before:
        mark_dirty(session, EVERYTHING)  # every period's attributed revenue
    session.commit()
    return _settings_out(settings)


def _windows(settings: AnalyticsSettings) -> tuple[int | None, ...]:
    return (
        settings.click_window_hours,
        settings.open_window_hours,
        settings.delivery_window_hours,
        settings.half_life_hours,
    )


def put_spend(session: Session, entries: list[SpendIn]) -> list[SpendOut]:
    """Sets each (month, channel, subject)'s amount; 0 removes the entry. One transaction."""
    for entry in entries:
        key = (
            MarketingSpend.month == entry.month,
            MarketingSpend.channel == entry.channel,
            MarketingSpend.subject == entry.subject,
        )
        existing = session.scalar(select(MarketingSpend).where(*key))
        if entry.amount == 0:
            session.execute(delete(MarketingSpend).where(*key))
        elif existing is None:
            session.add(
                MarketingSpend(
                    month=entry.month,
                    channel=entry.channel,
                    subject=entry.subject,
                    amount=entry.amount,
                )
            )
        else:
            existing.amount = entry.amount
    session.commit()
    return [SpendOut.model_validate(e) for e in entries if e.amount]


def list_spend(session: Session, since: date, until: date) -> list[SpendOut]:
    rows = session.scalars(
        select(MarketingSpend)
        .where(MarketingSpend.month >= since.replace(day=1), MarketingSpend.month <= until)
        .order_by(MarketingSpend.month, MarketingSpend.channel, MarketingSpend.subject)
    )
    return [SpendOut.model_validate(r) for r in rows]
