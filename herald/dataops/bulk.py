"""Bulk actions: one change (tag, untag, consent, delete, restore, enroll in a journey, join or
leave a group) made to every customer a filter, a segment or a list of ids selects.

Who is acted on is fixed when the run begins: the selection is written to ``bulk_targets``
with positions. Each batch changes its customers and settles their targets in one
transaction, so a retried batch finds them settled; each change is idempotent per customer in
any case (a tag added twice is one tag). Every customer changed gets a line in their activity
log naming the action.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from herald.access.permissions import Permission
from herald.customers.groups import group_by_key
from herald.customers.models import Customer, CustomerGroupMember, CustomerTag
from herald.customers.service import log_activity
from herald.dataops.contracts import BULK_BATCH, BULK_WORKFLOW, BulkBatchDone, BulkEnd, BulkRunInput
from herald.dataops.csvfiles import CsvChunks
from herald.dataops.exports import customer_conditions
from herald.dataops.models import BulkAction, BulkActionKind, BulkStatus, BulkTarget, RowOutcome
from herald.dataops.schemas import BulkIn, BulkOut, CustomerCounts
from herald.db import insert_if_absent, insert_rows, one_of, session_organization, utcnow
from herald.errors import Conflict, NotFound
from herald.events.models import Event
from herald.journeys.models import Journey, JourneyStatus
from herald.journeys.triggers import MANUAL_ENROLLMENT
from herald.messaging.audience import record_consents
from herald.messaging.schemas import ConsentIn
from herald.temporal import WorkflowStart, tenant_workflow_id

# What each action needs: the permission of doing it to one customer.
PERMISSIONS = {
    BulkActionKind.tag: Permission.customers_update,
    BulkActionKind.untag: Permission.customers_update,
    BulkActionKind.add_to_group: Permission.customers_update,
    BulkActionKind.remove_from_group: Permission.customers_update,
    BulkActionKind.delete: Permission.customers_delete,
    BulkActionKind.restore: Permission.customers_delete,
    BulkActionKind.set_consent: Permission.audience_manage,
    BulkActionKind.enroll: Permission.journeys_operate,
}


def _run_id(bulk: BulkAction) -> str:
    return tenant_workflow_id(BULK_WORKFLOW, bulk.organization_id, bulk.id)


def _active_journey(session: Session, key: str) -> Journey:
    journey = session.scalar(select(Journey).where(Journey.key == key))
    if journey is None:
        raise NotFound("no such journey", field="journey")
    if journey.status is not JourneyStatus.active:
        raise Conflict(f"a {journey.status.value} journey takes no entries", field="journey")
    return journey


def create(session: Session, data: BulkIn, *, actor: str) -> WorkflowStart:
    """Record the action after checking what it names exists; the run that carries it out."""
    if data.group is not None:
        group_by_key(session, data.group)
    if data.journey is not None:
        _active_journey(session, data.journey)
    selection = data.model_dump(mode="json", include={"filter", "customer_ids"}, exclude_none=True)
    customer_conditions(session, selection)  # an unknown segment is refused now
    bulk = BulkAction(
        id=uuid.uuid4(),
        organization_id=session_organization(session),
        action=data.action,
        params=data.model_dump(
            mode="json", include={"tag", "consent", "journey", "group"}, exclude_none=True
        ),
        selection=selection,
        status=BulkStatus.running,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(bulk)
    session.commit()
    return WorkflowStart(
        workflow=BULK_WORKFLOW,
        workflow_id=_run_id(bulk),
        arg=BulkRunInput(organization_id=bulk.organization_id, bulk_id=bulk.id, actor=actor),
        organization_id=bulk.organization_id,
        customer_id=None,
        summary=f"Bulk action {bulk.id}: {bulk.action.value}",
    )


def _get(session: Session, bulk_id: uuid.UUID) -> BulkAction:
    bulk = session.get(BulkAction, bulk_id)
    if bulk is None:
        raise NotFound("no such bulk action")
    return bulk


def get_bulk(session: Session, bulk_id: uuid.UUID) -> BulkOut:
    bulk = _get(session, bulk_id)
    counts = bulk.counts
    return BulkOut(
        id=bulk.id,
        action=bulk.action,
        params=bulk.params,
        status=bulk.status,
        total=bulk.total,
        progress=CustomerCounts(processed=sum(counts.values()), **counts),
        run_id=_run_id(bulk),
        created_by=bulk.created_by,
        created_at=bulk.created_at,
        finished_at=bulk.finished_at,
        error=bulk.error,
    )


def running_run(session: Session, bulk_id: uuid.UUID) -> str:
    bulk = _get(session, bulk_id)
    if bulk.status is not BulkStatus.running:
        raise Conflict(f"the bulk action is {bulk.status.value}: nothing to cancel")
    return _run_id(bulk)


def snapshot(session: Session, run: BulkRunInput) -> int:
    """Fix who the action is for, once: the selected customers in id order."""
    bulk = _get(session, run.bulk_id)
    if bulk.total is not None:
        return bulk.total
    ids = session.scalars(
        select(Customer.id)
        .where(*customer_conditions(session, bulk.selection))
        .order_by(Customer.id)
    )
    targets = [
        BulkTarget(
            organization_id=bulk.organization_id,
            bulk_id=bulk.id,
            position=position,
            customer_id=customer_id,
            outcome=None,
            error=None,
        )
        for position, customer_id in enumerate(ids)
    ]
    insert_rows(session, BulkTarget, targets)
    bulk.total = len(targets)
    session.commit()
    return bulk.total


def bulk_batch(session: Session, run: BulkRunInput) -> BulkBatchDone:
    """The next targets not yet settled: changed, unchanged or failed, in one transaction."""
    bulk = _get(session, run.bulk_id)
    targets = list(
        session.scalars(
            select(BulkTarget)
            .where(
                BulkTarget.bulk_id == bulk.id,
                BulkTarget.position > run.after,
                BulkTarget.outcome.is_(None),
            )
            .order_by(BulkTarget.position)
            .limit(BULK_BATCH)
        )
    )
    if not targets:
        return BulkBatchDone(last=None)
    # Whether each is deleted or erased: two columns, not the profiles with their relations.
    states = {
        customer_id: (deleted_at, erased_at)
        for customer_id, deleted_at, erased_at in session.execute(
            select(Customer.id, Customer.deleted_at, Customer.erased_at).where(
                one_of(session, Customer.id, [t.customer_id for t in targets])
            )
        )
    }
    acting = [t for t in targets if _actionable(bulk.action, states.get(t.customer_id), t)]
    changed = ACTIONS[bulk.action](session, bulk, [t.customer_id for t in acting])
    counts = dict(bulk.counts)
    for target in targets:
        if target.outcome is None:
            target.outcome = (
                RowOutcome.updated if target.customer_id in changed else RowOutcome.unchanged
            )
        if target.customer_id in changed:
            log_activity(
                session,
                target.customer_id,
                run.actor,
                f"bulk {bulk.action.value}",
                {"bulk_action": str(bulk.id), **bulk.params},
            )
        counts[target.outcome.value] = counts.get(target.outcome.value, 0) + 1
    bulk.counts = counts
    session.commit()
    return BulkBatchDone(last=targets[-1].position)


def _actionable(
    action: BulkActionKind,
    state: tuple[datetime | None, datetime | None] | None,
    target: BulkTarget,
) -> bool:
    """Whether the customer (``state``: when they were deleted and erased, None when there is
    no such customer) can take the action; if not, the target fails with the reason, except a
    deletion of someone deleted already, which changes nothing."""
    if state is None:
        reason = "no such customer"
    elif state[1] is not None:
        reason = "the customer was erased"
    elif state[0] is not None and action is not BulkActionKind.restore:
        if action is BulkActionKind.delete:
            return False
        reason = "the customer is deleted"
    else:
        return True
    target.outcome, target.error = RowOutcome.failed, reason
    return False


Action = Callable[[Session, BulkAction, list[uuid.UUID]], set[uuid.UUID]]


def _tag(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    tag = bulk.params["tag"]
    have = set(
        session.scalars(
            select(CustomerTag.customer_id).where(
                CustomerTag.tag == tag, one_of(session, CustomerTag.customer_id, ids)
            )
        )
    )
    new = [cid for cid in ids if cid not in have]
    for customer_id in new:
        session.add(CustomerTag(customer_id=customer_id, tag=tag))
    return set(new)


def _untag(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    tag = bulk.params["tag"]
    had = set(
        session.scalars(
            select(CustomerTag.customer_id).where(
                CustomerTag.tag == tag, one_of(session, CustomerTag.customer_id, ids)
            )
        )
    )
    if had:
        session.execute(
            delete(CustomerTag).where(
                CustomerTag.tag == tag, one_of(session, CustomerTag.customer_id, list(had))
            )
        )
    return had


def _consent(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    consent = ConsentIn.model_validate({**bulk.params["consent"], "source": "bulk action"})
    return record_consents(session, dict.fromkeys(ids, consent))


def _soft_delete(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    return _set_deleted(session, ids, deleted=True)


def _restore(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    return _set_deleted(session, ids, deleted=False)


def _set_deleted(session: Session, ids: list[uuid.UUID], *, deleted: bool) -> set[uuid.UUID]:
    changed = set()
    now = utcnow()
    for customer in session.scalars(select(Customer).where(one_of(session, Customer.id, ids))):
        if (customer.deleted_at is None) == deleted:
            customer.deleted_at = now if deleted else None
            changed.add(customer.id)
    return changed


def _enroll(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """An enrollment event per customer: once committed, the dispatcher starts their runs (a
    customer already in the journey is not entered twice: the run's id is theirs)."""
    _active_journey(session, bulk.params["journey"])
    enrolled = {"journey": bulk.params["journey"], "bulk_action": str(bulk.id)}
    for customer_id in ids:
        session.add(Event.emitted(MANUAL_ENROLLMENT, customer_id, enrolled))
    return set(ids)


def _join_group(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    group = group_by_key(session, bulk.params["group"])
    members = _members(session, group.id, ids)
    new = [cid for cid in ids if cid not in members]
    if new:
        insert_if_absent(
            session,
            CustomerGroupMember,
            [
                {"organization_id": bulk.organization_id, "group_id": group.id, "customer_id": c}
                for c in new
            ],
            ["group_id", "customer_id"],
        )
    return set(new)


def _leave_group(session: Session, bulk: BulkAction, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    group = group_by_key(session, bulk.params["group"])
    members = _members(session, group.id, ids)
    if members:
        session.execute(
            delete(CustomerGroupMember).where(
                CustomerGroupMember.group_id == group.id,
                one_of(session, CustomerGroupMember.customer_id, list(members)),
            )
        )
    return members


def _members(session: Session, group_id: uuid.UUID, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(CustomerGroupMember.customer_id).where(
                CustomerGroupMember.group_id == group_id,
                one_of(session, CustomerGroupMember.customer_id, ids),
            )
        )
    )


ACTIONS: dict[BulkActionKind, Action] = {
    BulkActionKind.tag: _tag,
    BulkActionKind.untag: _untag,
    BulkActionKind.set_consent: _consent,
    BulkActionKind.delete: _soft_delete,
    BulkActionKind.restore: _restore,
    BulkActionKind.enroll: _enroll,
    BulkActionKind.add_to_group: _join_group,
    BulkActionKind.remove_from_group: _leave_group,
}


def end(session: Session, ended: BulkEnd) -> None:
    bulk = _get(session, ended.bulk_id)
    if ended.error is not None:
        bulk.status, bulk.error = BulkStatus.failed, ended.error
    else:
        bulk.status = BulkStatus.cancelled if ended.cancelled else BulkStatus.done
    bulk.finished_at = utcnow()
    session.commit()


def report(session: Session, bulk_id: uuid.UUID) -> Iterator[str]:
    """Each target's outcome as CSV: customer id, outcome (updated, unchanged, failed, or
    blank when not reached), and why it failed."""
    bulk = _get(session, bulk_id)
    out = CsvChunks()
    out.write(["customer_id", "outcome", "error"])
    yield out.take()
    after = -1
    while True:
        rows = session.execute(
            select(
                BulkTarget.position, BulkTarget.customer_id, BulkTarget.outcome, BulkTarget.error
            )
            .where(BulkTarget.bulk_id == bulk.id, BulkTarget.position > after)
            .order_by(BulkTarget.position)
            .limit(5_000)
        ).all()
        if not rows:
            return
        for _, customer_id, outcome, error in rows:
            out.write([str(customer_id), outcome.value if outcome else None, error])
        after = rows[-1].position
        yield out.take()
