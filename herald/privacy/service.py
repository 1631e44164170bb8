"""A person's data: everything Herald holds about them as one archive, and its erasure.

Erasure removes or irreversibly blanks personal data in every table that holds it, in one
transaction: the profile's fields and its emails, phones, addresses, business details, tags
and group memberships; messages' recipients and rendered content; event properties; newsletter
subscriptions; inquiries and their timelines; notes and what the activity log recorded of the
profile's values; consent and push devices. What counts stays (orders, ledger entries, message
and event rows), tied to a customer row that no longer says who it was. The addresses are kept
only as salted hashes on the suppression list, so the person is never contacted again.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from herald.customers.models import (
    CustomerActivity,
    CustomerGroupMember,
    CustomerNote,
)
from herald.customers.service import get_customer, log_activity, to_out
from herald.dataops.erasure import forget_person
from herald.db import insert_if_absent, session_organization, utcnow
from herald.errors import Conflict
from herald.events.models import Event
from herald.inquiries.models import Inquiry, InquiryEntry
from herald.loyalty.models import LedgerEntry
from herald.messaging.models import (
    AdHocRecipient,
    Channel,
    Consent,
    Device,
    Message,
    Suppression,
    SuppressionReason,
)
from herald.messaging.policy import erased_address
from herald.newsletter.models import Subscriber
from herald.orders.models import Order, OrderItem, OrderRefund
from herald.orders.money import customer_metrics
from herald.predictions.models import CustomerPrediction

ERASED = "erased"


def _rows(
    session: Session, model: Any, *where: Any, skip: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Every column of the rows, as JSON-ready values (the tenant column left out)."""
    columns = [c for c in model.__table__.columns if c.key not in ("organization_id", *skip)]
    return [
        {c.key: _plain(getattr(row, c.key)) for c in columns}
        for row in session.scalars(select(model).where(*where))
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    return str(value)


def export_person(session: Session, customer_id: uuid.UUID) -> bytes:
    """A zip of JSON files: the profile and each kind of record Herald holds about them."""
    customer = get_customer(session, customer_id, include_deleted=True)
    emails = [e.email for e in customer.emails]
    orders = session.scalars(select(Order).where(Order.customer_id == customer_id)).all()
    order_ids = [o.order_id for o in orders]
    inquiry_ids = session.scalars(
        select(Inquiry.id).where(Inquiry.customer_id == customer_id)
    ).all()
    sections: dict[str, Any] = {
        "profile": to_out(customer).model_dump(mode="json")
        | {"metrics": customer_metrics(session, customer_id).model_dump(mode="json")},
        "orders": _rows(session, Order, Order.customer_id == customer_id),
        "order_items": _rows(session, OrderItem, OrderItem.order_pk.in_([o.id for o in orders])),
        "refunds": _rows(session, OrderRefund, OrderRefund.order_id.in_(order_ids)),
        "events": _rows(session, Event, Event.customer_id == customer_id),
        "messages": _rows(session, Message, Message.customer_id == customer_id),
        "consent": _rows(session, Consent, Consent.customer_id == customer_id),
        "loyalty_ledger": _rows(session, LedgerEntry, LedgerEntry.customer_id == customer_id),
        "newsletter": _rows(
            session,
            Subscriber,
            or_(Subscriber.customer_id == customer_id, Subscriber.email.in_(emails)),
            skip=("token",),
        ),
        "inquiries": _rows(session, Inquiry, Inquiry.id.in_(inquiry_ids)),
        "inquiry_timelines": _rows(session, InquiryEntry, InquiryEntry.inquiry_id.in_(inquiry_ids)),
        "notes": _rows(session, CustomerNote, CustomerNote.customer_id == customer_id),
        "activity": _rows(session, CustomerActivity, CustomerActivity.customer_id == customer_id),
        "devices": _rows(session, Device, Device.customer_id == customer_id),
        # Profiling is personal data too: the scores the lifetime-value model gave them.
        "predictions": _rows(
            session, CustomerPrediction, CustomerPrediction.customer_id == customer_id
        ),
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, content in sections.items():
            zipped.writestr(f"{name}.json", json.dumps(content, indent=2, ensure_ascii=False))
    return archive.getvalue()


@dataclass(frozen=True)
class Erasure:
    customer_id: uuid.UUID
    addresses_suppressed: int


def erase_person(session: Session, customer_id: uuid.UUID, *, actor: str) -> Erasure:
    customer = get_customer(session, customer_id, include_deleted=True)
    if customer.erased_at is not None:
        raise Conflict("this person was erased already")
    org = session_organization(session)
    emails = {e.email.lower() for e in customer.emails} | (
        {customer.primary_email} if customer.primary_email else set()
    )
    phones = {p.phone for p in customer.phones}
    subscribed = session.scalars(
        select(Subscriber.email).where(
            or_(Subscriber.customer_id == customer_id, Subscriber.email.in_(emails))
        )
    ).all()
    emails |= set(subscribed)
    suppressions = [(Channel.email, e) for e in emails] + [(Channel.sms, p) for p in phones]
    if suppressions:
        insert_if_absent(
            session,
            Suppression,
            [
                {
                    "id": uuid.uuid4(),
                    "organization_id": org,
                    "channel": channel,
                    "address": erased_address(org, address),
                    "reason": SuppressionReason.erased,
                    "created_at": utcnow(),
                }
                for channel, address in suppressions
            ],
            ["organization_id", "channel", "address"],
        )
    mine = Message.customer_id == customer_id
    session.execute(
        update(Message)
        .where(mine)
        .values(recipient=ERASED, content={}, status_reason=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Event)
        .where(Event.customer_id == customer_id)
        .values(properties={})
        .execution_options(synchronize_session=False)
    )
    inquiry_ids = session.scalars(
        select(Inquiry.id).where(Inquiry.customer_id == customer_id)
    ).all()
    if inquiry_ids:
        session.execute(
            update(Inquiry)
            .where(Inquiry.id.in_(inquiry_ids))
            .values(
                name=ERASED,
                email=ERASED,
                phone=None,
                company=None,
                website=None,
                message="",
                source_page=None,
                lost_reason=None,
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(InquiryEntry)
            .where(InquiryEntry.inquiry_id.in_(inquiry_ids))
            .values(details={})
            .execution_options(synchronize_session=False)
        )
    for model, where in (
        (Subscriber, or_(Subscriber.customer_id == customer_id, Subscriber.email.in_(emails))),
        (CustomerNote, CustomerNote.customer_id == customer_id),
        (Consent, Consent.customer_id == customer_id),
        (Device, Device.customer_id == customer_id),
        (AdHocRecipient, func.lower(AdHocRecipient.address).in_(emails | phones)),
        (CustomerGroupMember, CustomerGroupMember.customer_id == customer_id),
        (CustomerPrediction, CustomerPrediction.customer_id == customer_id),
    ):
        session.execute(delete(model).where(where).execution_options(synchronize_session=False))
    session.execute(
        update(CustomerActivity)
        .where(CustomerActivity.customer_id == customer_id)
        .values(changes={})
        .execution_options(synchronize_session=False)
    )
    forget_person(
        session,
        customer_id,
        [*emails, *phones, *([customer.external_id] if customer.external_id else [])],
    )
    now = utcnow()
    customer.name = ""
    customer.primary_email = None
    customer.birthday = None
    customer.locale = None
    customer.timezone = None
    customer.external_id = None
    customer.attributes = {}
    customer.country = None
    customer.user_id = None
    customer.emails = []
    customer.phones = []
    customer.addresses = []
    customer.tags = []
    customer.business = None
    customer.deleted_at = customer.deleted_at or now
    customer.erased_at = now
    log_activity(session, customer_id, actor, ERASED)
    session.commit()
    return Erasure(customer_id=customer_id, addresses_suppressed=len(suppressions))
