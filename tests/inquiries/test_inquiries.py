"""The inquiry follow-up under time skipping: every timer at its time, none after the lead
moved on, transitions checked by the run itself, one email per reply."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.inquiries import InquiryActivities
from herald.access.models import Role, User
from herald.customers.models import Customer
from herald.database import Database
from herald.events.models import Event
from herald.inquiries.contracts import (
    AssignIn,
    ConvertIn,
    FollowUpOutcome,
    InquiryStatus,
    LeadResponseIn,
    LoseIn,
    ReplyIn,
    Transition,
)
from herald.inquiries.models import InquiryEntry
from herald.inquiries.schemas import InquiryIn
from herald.inquiries.service import capture, get_inquiry
from herald.inquiries.triggers import inquiry_workflows_for
from herald.messaging.models import Message
from herald.messaging.unsubscribe import Links
from herald.temporal import start_run
from simulator import time_skipping_worker
from tests.support import TO_FAKES, Org
from workflows.inquiries import InquiryFollowUp

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

QUEUE = "inquiries"


@asynccontextmanager
async def _follow_ups(db: Database) -> AsyncIterator[WorkflowEnvironment]:
    activities = InquiryActivities(db, Links("http://127.0.0.1:8000", "test-secret"), TO_FAKES)
    async with time_skipping_worker(QUEUE, [InquiryFollowUp], activities.all_activities()) as env:
        yield env


def _staff(db: Database, org: Org) -> dict[Role, uuid.UUID]:
    with db.session(org.id) as session:
        users = {
            role: User(email=f"{role.value}-{uuid.uuid4().hex[:6]}@shop.example", role=role)
            for role in (Role.owner, Role.manager, Role.sales, Role.marketing)
        }
        session.add_all(users.values())
        session.commit()
        return {role: user.id for role, user in users.items()}


@dataclass
class FollowUp:
    inquiry_id: uuid.UUID
    handle: WorkflowHandle[Any, Any]  # typed, for updates and queries
    started: WorkflowHandle[Any, Any]  # as started: awaiting its result moves the clock on

    async def outcome(self) -> FollowUpOutcome:
        return FollowUpOutcome.model_validate(await self.started.result())


async def _inquire(env: WorkflowEnvironment, db: Database, org: Org) -> FollowUp:
    """A contact-form inquiry, its run started the way event dispatch starts it."""
    with db.session(org.id) as session:
        captured = capture(
            session,
            InquiryIn(
                name="Grace Hopper",
                email=f"grace-{uuid.uuid4().hex[:6]}@navy.example",
                company="Navy",
                message="We need loyalty for 40 stores.\n<script>alert(1)</script>",
            ),
        )
        assert captured is not None
        inquiry, event_id = captured
    with db.system_session() as session:
        event = session.get(Event, event_id)
        assert event is not None
        (start,) = inquiry_workflows_for(session, event)
    started = await start_run(env.client, QUEUE, start)
    handle = env.client.get_workflow_handle_for(
        InquiryFollowUp.run, start.workflow_id, run_id=started.result_run_id
    )
    return FollowUp(inquiry.id, handle, started)


def _emails(db: Database, org: Org, inquiry_id: uuid.UUID) -> list[tuple[str, str]]:
    """(intent, recipient) of every email the follow-up sent, in order."""
    prefix = f"inquiry/{inquiry_id}/"
    with db.session(org.id) as session:
        rows = session.scalars(
            select(Message)
            .where(Message.idempotency_key.startswith(prefix))
            .order_by(Message.created_at, Message.recipient)
        )
        return [
            (m.idempotency_key.removeprefix(prefix).split("/")[0], m.recipient)
            for m in rows
            if m.status.value == "sent"
        ]


def _timeline(db: Database, org: Org, inquiry_id: uuid.UUID) -> list[tuple[str, timedelta]]:
    """(kind, time after the inquiry arrived) of each timeline entry."""
    with db.session(org.id) as session:
        received = get_inquiry(session, inquiry_id).created_at
        entries = session.scalars(
            select(InquiryEntry)
            .where(InquiryEntry.inquiry_id == inquiry_id)
            .order_by(InquiryEntry.at, InquiryEntry.key)
        )
        return [(e.kind, e.at - received) for e in entries]


def _near(actual: timedelta, expected: timedelta) -> bool:
    return expected <= actual < expected + timedelta(minutes=1)


def _email_of(db: Database, org: Org, user_id: uuid.UUID) -> str:
    with db.session(org.id) as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.email


async def test_an_untouched_inquiry_reminds_owners_at_four_hours_and_is_lost_at_fourteen_days(
    db: Database, org: Org
) -> None:
    staff = _staff(db, org)
    owner, sales = _email_of(db, org, staff[Role.owner]), _email_of(db, org, staff[Role.sales])
    async with _follow_ups(db) as env:
        follow_up = await _inquire(env, db, org)
        inquiry_id = follow_up.inquiry_id
        await env.sleep(timedelta(hours=3, minutes=59))
        assert sorted(_emails(db, org, inquiry_id)) == [("new", owner), ("new", sales)]
        await env.sleep(timedelta(minutes=2))
        assert _emails(db, org, inquiry_id)[-1] == ("unassigned", owner)
        outcome = await follow_up.outcome()
    assert (outcome.status, outcome.lost_reason) == ("lost", "no outcome within 14 days")
    kinds = dict(_timeline(db, org, inquiry_id))
    assert list(kinds) == ["received", "notified", "reminder", "lost"]
    assert _near(kinds["reminder"], timedelta(hours=4))
    assert _near(kinds["lost"], timedelta(days=14))
    assert [k for k, _ in _emails(db, org, inquiry_id)].count("unassigned") == 1
    with db.session(org.id) as session:
        inquiry = get_inquiry(session, inquiry_id)
        assert inquiry.status is InquiryStatus.lost and inquiry.closed_at is not None
        # What the visitor typed reaches sales escaped, never as markup.
        notice = session.scalars(
            select(Message).where(Message.idempotency_key.contains("/new/"))
        ).first()
        assert notice is not None
        assert "&lt;script&gt;" in notice.content["html"]
        assert "<script>" not in notice.content["html"]


async def _update(handle: WorkflowHandle[Any, Any], name: str, **change: Any) -> Any:
    return await handle.execute_update(
        getattr(InquiryFollowUp, name), Transition(actor="test", **change)
    )


async def test_each_timer_fires_once_at_its_time_and_never_after_the_lead_moved_on(
    db: Database, org: Org
) -> None:
    staff = _staff(db, org)
    addresses = {role: _email_of(db, org, user) for role, user in staff.items()}
    async with _follow_ups(db) as env:
        follow_up = await _inquire(env, db, org)
        inquiry_id, handle = follow_up.inquiry_id, follow_up.handle
        await env.sleep(timedelta(hours=1))  # taken before the 4-hour reminder
        await _update(handle, "assign", assign=AssignIn(assignee_id=staff[Role.sales]))
        await env.sleep(timedelta(hours=2))  # answered well inside the 24-hour window
        await _update(handle, "reply", reply=ReplyIn(subject="Re: loyalty", body="Call me?"))
        await env.sleep(timedelta(days=1))  # the lead answers: sales owes them again
        await _update(handle, "lead_response", lead_response=LeadResponseIn(note="phoned"))
        await env.sleep(timedelta(hours=25))  # nobody answers within 24 hours: escalation
        await _update(handle, "reply", reply=ReplyIn(subject="Sorry", body="Here it is."))
        await env.sleep(timedelta(days=4))  # the lead goes quiet: one nudge after 3 days
        await _update(handle, "convert", convert=ConvertIn(create_customer=True))
        outcome = await follow_up.outcome()
    assert outcome.status == "converted" and outcome.customer_id is not None
    timeline = _timeline(db, org, inquiry_id)
    kinds = [kind for kind, _ in timeline]
    assert kinds == [
        "received",
        "notified",
        "assigned",
        "replied",
        "lead_responded",
        "escalation",
        "replied",
        "nudge",
        "converted",
    ]
    at = {f"{kind}{i}": when for i, (kind, when) in enumerate(timeline)}
    lead_answered = at["lead_responded4"]
    assert _near(at["escalation5"] - lead_answered, timedelta(hours=24))
    assert _near(at["nudge7"] - at["replied6"], timedelta(days=3))
    lead = _lead_address(db, org, inquiry_id)
    sent = _emails(db, org, inquiry_id)
    assert [to for kind, to in sent if kind == "no-reply-3"] == sorted(
        [addresses[Role.owner], addresses[Role.manager], addresses[Role.sales]]
    )
    assert [to for kind, to in sent if kind.startswith("reply-")] == [lead, lead]
    assert [to for kind, to in sent if kind.startswith("nudge")] == [lead]
    assert not [kind for kind, _ in sent if kind == "unassigned"]
    with db.session(org.id) as session:
        customer = session.get(Customer, outcome.customer_id)
        assert customer is not None and customer.primary_email == lead
        assert get_inquiry(session, inquiry_id).customer_id == customer.id
        converted = session.scalars(select(Event).where(Event.type == "inquiry.converted"))
        assert [e.customer_id for e in converted] == [customer.id]


def _lead_address(db: Database, org: Org, inquiry_id: uuid.UUID) -> str:
    with db.session(org.id) as session:
        return get_inquiry(session, inquiry_id).email


async def _refusal(handle: WorkflowHandle[Any, Any], name: str, **change: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _update(handle, name, **change)
    return str(refused.value.cause)


async def test_transitions_the_status_does_not_allow_are_refused(db: Database, org: Org) -> None:
    staff = _staff(db, org)
    async with _follow_ups(db) as env:
        follow_up = await _inquire(env, db, org)
        inquiry_id, handle = follow_up.inquiry_id, follow_up.handle
        reply = ReplyIn(subject="Hi", body="Hello")
        assert "assign the inquiry before replying" in await _refusal(handle, "reply", reply=reply)
        assert "cannot convert" in await _refusal(handle, "convert", convert=ConvertIn())
        await _update(handle, "assign", assign=AssignIn(assignee_id=staff[Role.sales]))
        answer = LeadResponseIn()
        assert "only answer a reply" in await _refusal(
            handle, "lead_response", lead_response=answer
        )
        await _update(handle, "lose", lose=LoseIn(reason="went with a competitor"))
        outcome = await follow_up.outcome()
    assert (outcome.status, outcome.lost_reason) == ("lost", "went with a competitor")
    # Nothing refused left a trace: no reply went out, the timeline shows what happened.
    assert [kind for kind, _ in _timeline(db, org, inquiry_id)] == [
        "received",
        "notified",
        "assigned",
        "lost",
    ]
    assert not [k for k, _ in _emails(db, org, inquiry_id) if k.startswith("reply")]


async def test_a_reply_sends_exactly_one_email_even_when_the_request_is_repeated(
    db: Database, org: Org
) -> None:
    staff = _staff(db, org)
    async with _follow_ups(db) as env:
        follow_up = await _inquire(env, db, org)
        inquiry_id, handle = follow_up.inquiry_id, follow_up.handle
        await _update(handle, "assign", assign=AssignIn(assignee_id=staff[Role.owner]))
        change = Transition(actor="test", reply=ReplyIn(subject="Quote", body="10 € per store"))
        first = await handle.execute_update(InquiryFollowUp.reply, change, id="reply-once")
        again = await handle.execute_update(InquiryFollowUp.reply, change, id="reply-once")
        assert first == again
        state = await handle.query(InquiryFollowUp.state)
        assert state.status is InquiryStatus.replied
        await handle.terminate()
    lead = _lead_address(db, org, inquiry_id)
    replies = [(k, to) for k, to in _emails(db, org, inquiry_id) if k.startswith("reply")]
    assert replies == [("reply-reply-once", lead)]
    with db.session(org.id) as session:
        message = session.scalars(
            select(Message).where(Message.idempotency_key.contains("/reply-reply-once/"))
        ).one()
        assert message.content["subject"] == "Quote"
        assert "10 € per store" in message.content["text"]
