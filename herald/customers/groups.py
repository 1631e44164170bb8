"""Customer groups: named sets of customers staff keep by hand (wholesale buyers, the stores of
a franchise). Lists (``GET /v1/customers?group=``), segments and templates read a customer's
groups by key."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from herald.customers.models import Customer, CustomerGroup, CustomerGroupMember
from herald.customers.schemas import GroupIn, GroupMembersIn, GroupOut, GroupUpdate
from herald.db import commit_or_conflict, insert_if_absent, one_of, session_organization
from herald.errors import InvalidInput, NotFound

MAX_GROUPS_LISTED = 500


def group_by_key(session: Session, key: str) -> CustomerGroup:
    group = session.scalar(select(CustomerGroup).where(CustomerGroup.key == key))
    if group is None:
        raise NotFound("no such customer group")
    return group


def _out(session: Session, group: CustomerGroup) -> GroupOut:
    members = session.scalar(select(func.count()).where(CustomerGroupMember.group_id == group.id))
    return GroupOut(
        id=group.id,
        key=group.key,
        name=group.name,
        kind=group.kind,
        description=group.description,
        members=members or 0,
        created_at=group.created_at,
    )


def create_group(session: Session, data: GroupIn) -> GroupOut:
    group = CustomerGroup(**data.model_dump())
    session.add(group)
    commit_or_conflict(session, f"a customer group {data.key!r} exists", field="key")
    return _out(session, group)


def list_groups(session: Session) -> list[GroupOut]:
    groups = session.scalars(
        select(CustomerGroup).order_by(CustomerGroup.name).limit(MAX_GROUPS_LISTED)
    )
    return [_out(session, g) for g in groups]


def get_group(session: Session, key: str) -> GroupOut:
    return _out(session, group_by_key(session, key))


def update_group(session: Session, key: str, data: GroupUpdate) -> GroupOut:
    group = group_by_key(session, key)
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(
            group, field, value if value is not None or field == "kind" else getattr(group, field)
        )
    session.commit()
    return _out(session, group)


def delete_group(session: Session, key: str) -> None:
    session.delete(group_by_key(session, key))
    session.commit()


def add_members(session: Session, key: str, data: GroupMembersIn) -> GroupOut:
    """Add customers to the group (those already in it stay, once)."""
    group = group_by_key(session, key)
    wanted = set(data.customer_ids)
    found = set(
        session.scalars(
            select(Customer.id).where(
                one_of(session, Customer.id, wanted), Customer.deleted_at.is_(None)
            )
        )
    )
    if unknown := sorted(str(c) for c in wanted - found):
        raise InvalidInput(
            f"{len(unknown)} unknown customer(s), e.g. {unknown[0]}", field="customer_ids"
        )
    org = session_organization(session)
    insert_if_absent(
        session,
        CustomerGroupMember,
        [{"organization_id": org, "group_id": group.id, "customer_id": c} for c in found],
        ["group_id", "customer_id"],
    )
    session.commit()
    return _out(session, group)


def remove_member(session: Session, key: str, customer_id: uuid.UUID) -> None:
    group = group_by_key(session, key)
    removed = session.execute(
        delete(CustomerGroupMember)
        .where(
            CustomerGroupMember.group_id == group.id,
            CustomerGroupMember.customer_id == customer_id,
        )
        .execution_options(synchronize_session=False)
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise NotFound("the customer is not in this group")
    session.commit()
