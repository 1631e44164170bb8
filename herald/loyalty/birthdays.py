"""Birthday rewards: whose birthday it is at an instant, each in their own time zone, and the
reward itself (points and a message), once per customer and year."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import ColumnElement, and_, or_, select, tuple_
from sqlalchemy.orm import Session

from herald.customers.models import Customer, month_day
from herald.loyalty.contracts import (
    BirthdayPage,
    BirthdayPrepared,
    BirthdayQuery,
    BirthdayRewardInput,
)
from herald.loyalty.models import LoyaltySettings
from herald.loyalty.rewards import get_reward, gift
from herald.loyalty.service import award_points, get_settings
from herald.messaging.models import Category, Channel
from herald.messaging.schemas import TemplateCreate
from herald.messaging.templates import ensure_template

BIRTHDAY_SOURCE = "birthday"
# How long a birthday gift's code can be used.
GIFT_HOLD = timedelta(days=30)
# A customer without a time zone celebrates on the UTC date.
DEFAULT_ZONE = "UTC"
BIRTHDAY_TEMPLATE = TemplateCreate(
    key="loyalty-birthday",
    name="Loyalty: happy birthday",
    channel=Channel.email,
    # A gift, but still marketing: it goes only to those who agreed to hear from the shop.
    category=Category.marketing,
    default_locale="en",
    variants={
        "en": {
            "subject": "Happy birthday, {{ customer.first_name | default('friend') }}!",
            "html": "<p>Happy birthday from all of us!</p>"
            "{% if event.points %}<p>We added {{ event.points }} points to your account: "
            "you now have {{ customer.points }}.</p>{% endif %}"
            "{% if event.code %}<p>Our gift: {{ event.reward }}. Your code: "
            "<strong>{{ event.code }}</strong></p>{% endif %}",
            "text": "Happy birthday from all of us!"
            "{% if event.points %}\n\nWe added {{ event.points }} points to your account: "
            "you now have {{ customer.points }}.{% endif %}"
            "{% if event.code %}\n\nOur gift: {{ event.reward }}. Your code: {{ event.code }}"
            "{% endif %}",
        }
    },
)


def celebrated_days(local: date) -> list[int]:
    """The birthdays (month_day) celebrated on a local date: 29 February counts on
    28 February in years without one."""
    days = [month_day(local)]
    if (local.month, local.day) == (2, 28) and not calendar.isleap(local.year):
        days.append(229)
    return days


@lru_cache(maxsize=8)
def _zones_by_local_date(at: datetime) -> dict[date, tuple[str, ...]]:
    """Every IANA zone, grouped by the local date at ``at`` (at most three dates)."""
    groups: dict[date, list[str]] = defaultdict(list)
    for name in sorted(available_timezones() | {DEFAULT_ZONE}):
        groups[at.astimezone(ZoneInfo(name)).date()].append(name)
    return {day: tuple(names) for day, names in groups.items()}


def find_birthdays(session: Session, query: BirthdayQuery) -> BirthdayPage:
    """Customers of organizations with birthday rewards on whose birthday it is at
    ``query.at``, in (organization, customer) order from ``query.after``."""
    at = query.at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    matches = []
    for local, zones in _zones_by_local_date(at).items():
        zone_match: ColumnElement[bool] = Customer.timezone.in_(zones)
        if DEFAULT_ZONE in zones:
            zone_match = or_(zone_match, Customer.timezone.is_(None))
        matches.append(and_(Customer.birthday_md.in_(celebrated_days(local)), zone_match))
    stmt = (
        select(Customer.organization_id, Customer.id, Customer.timezone)
        .join(
            LoyaltySettings,
            and_(
                LoyaltySettings.organization_id == Customer.organization_id,
                LoyaltySettings.birthday_enabled.is_(True),
            ),
        )
        .where(or_(*matches), Customer.deleted_at.is_(None))
        .order_by(Customer.organization_id, Customer.id)
        .limit(query.limit)
    )
    if query.organization_id is not None:
        stmt = stmt.where(Customer.organization_id == query.organization_id)
    if query.after is not None:
        stmt = stmt.where(tuple_(Customer.organization_id, Customer.id) > tuple(query.after))
    rows = session.execute(stmt).all()
    rewards = [
        BirthdayRewardInput(
            organization_id=org_id,
            customer_id=customer_id,
            # The year of the local date being celebrated keys the reward.
            year=query.at.astimezone(ZoneInfo(zone or DEFAULT_ZONE)).year,
        )
        for org_id, customer_id, zone in rows
    ]
    last = (rows[-1][0], rows[-1][1]) if len(rows) == query.limit else None
    return BirthdayPage(rewards=rewards, after=last)


def prepare_birthday(session: Session, reward: BirthdayRewardInput) -> BirthdayPrepared:
    """The year's birthday points and gift code, once each (keyed by customer and year), and
    the template of the birthday message."""
    settings = get_settings(session)
    key = f"{reward.customer_id}/{reward.year}"
    awarded = None
    if settings.birthday_points > 0:
        awarded = award_points(
            session,
            reward.customer_id,
            settings.birthday_points,
            BIRTHDAY_SOURCE,
            key,
            {"year": reward.year},
        )
    code = reward_name = None
    if settings.birthday_reward_id is not None:
        given = gift(
            session, reward.customer_id, settings.birthday_reward_id, f"birthday/{key}", GIFT_HOLD
        )
        if given is not None:
            code, reward_name = given.code, get_reward(session, given.reward_id).name
    template = ensure_template(session, BIRTHDAY_TEMPLATE)
    # Two first birthdays at once may both create it: the loser's retry finds it.
    session.commit()
    return BirthdayPrepared(
        points=awarded.points if awarded else 0,
        balance=awarded.balance if awarded else None,
        template_id=template.id,
        code=code,
        reward=reward_name,
    )
