"""Key numbers and what needs attention, each section read only when the caller may see it."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.campaigns.contracts import CampaignStatus
from herald.campaigns.models import Campaign
from herald.customers.models import Customer
from herald.db import utcnow
from herald.events.models import Event
from herald.inquiries.contracts import InquiryStatus
from herald.inquiries.models import Inquiry
from herald.journeys.models import Journey, JourneyStatus
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Message
from herald.orders.models import Order
from herald.orders.money import CENT, converted_net, reporting_currency


class Section(enum.StrEnum):
    customers = "customers"  # customers, new this month
    revenue = "revenue"  # this month's orders and revenue
    messages = "messages"  # messages sent this month
    automation = "automation"  # active journeys and campaigns, paused campaigns
    inquiries = "inquiries"  # open and unanswered inquiries
    events = "events"  # events whose dispatch failed


class PausedCampaign(BaseModel):
    id: uuid.UUID
    name: str


class Overview(BaseModel):
    """This month is the calendar month in UTC; money in the reporting currency. A section the
    caller did not ask for is ``None``."""

    month_start: datetime
    currency: str
    customers: int | None = None
    new_this_month: int | None = None
    orders_this_month: int | None = None
    revenue_this_month: Decimal | None = None
    messages_sent_this_month: int | None = None
    active_journeys: int | None = None
    active_campaigns: int | None = None
    paused_campaigns: list[PausedCampaign] | None = None
    open_inquiries: int | None = None
    unanswered_inquiries: int | None = None
    failed_events: int | None = None


# Handed to a provider and not refused (what became of it since included).
SENT = [
    MessageStatus.sent,
    MessageStatus.delivered,
    MessageStatus.opened,
    MessageStatus.clicked,
    MessageStatus.bounced,
    MessageStatus.complained,
]
SENDING = [
    CampaignStatus.scheduled,
    CampaignStatus.running,
    CampaignStatus.testing,
    CampaignStatus.sending_winner,
]
# Paused campaigns listed by name on the home page: the first few, the rest counted.
PAUSED_LISTED = 5


def overview(session: Session, sections: set[Section], now: datetime | None = None) -> Overview:
    now = now or utcnow()
    month_start = datetime(now.year, now.month, 1, tzinfo=UTC)
    currency = reporting_currency(session)
    result = Overview(month_start=month_start, currency=currency)
    if Section.customers in sections:
        live = Customer.deleted_at.is_(None)
        result.customers = session.scalar(select(func.count(Customer.id)).where(live))
        result.new_this_month = session.scalar(
            select(func.count(Customer.id)).where(live, Customer.created_at >= month_start)
        )
    if Section.revenue in sections:
        orders, revenue = session.execute(
            select(func.count(Order.id), func.sum(converted_net(currency))).where(
                Order.paid_at >= month_start
            )
        ).one()
        result.orders_this_month = orders
        result.revenue_this_month = Decimal(revenue or 0).quantize(CENT)
    if Section.messages in sections:
        result.messages_sent_this_month = session.scalar(
            select(func.count(Message.id)).where(
                Message.created_at >= month_start, Message.status.in_(SENT)
            )
        )
    if Section.automation in sections:
        result.active_journeys = session.scalar(
            select(func.count(Journey.id)).where(Journey.status == JourneyStatus.active)
        )
        result.active_campaigns = session.scalar(
            select(func.count(Campaign.id)).where(Campaign.status.in_(SENDING))
        )
        paused = session.execute(
            select(Campaign.id, Campaign.name)
            .where(Campaign.status == CampaignStatus.paused)
            .order_by(Campaign.updated_at.desc())
            .limit(PAUSED_LISTED)
        )
        result.paused_campaigns = [PausedCampaign(id=i, name=n) for i, n in paused]
    if Section.inquiries in sections:
        open_statuses = [InquiryStatus.new, InquiryStatus.assigned]
        result.open_inquiries = session.scalar(
            select(func.count(Inquiry.id)).where(Inquiry.status.in_(open_statuses))
        )
        result.unanswered_inquiries = session.scalar(
            select(func.count(Inquiry.id)).where(Inquiry.status == InquiryStatus.new)
        )
    if Section.events in sections:
        result.failed_events = session.scalar(
            select(func.count(Event.id)).where(
                Event.dispatched_at.is_(None), Event.dispatch_attempts > 0
            )
        )
    return result
