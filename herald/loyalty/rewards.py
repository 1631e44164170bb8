"""The rewards catalog, redemption and manual adjustments: every change of a balance is a
ledger entry written under the customer's account lock, and no balance ever goes below zero."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from herald.customers.service import get_customer
from herald.db import session_organization, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.events.models import Event
from herald.loyalty.contracts import LedgerOutcome, RedemptionStatus
from herald.loyalty.models import EntryKind, LedgerEntry, LoyaltyAccount, Redemption, Reward
from herald.loyalty.schemas import AdjustmentIn, RewardCreate, RewardOut, RewardUpdate
from herald.loyalty.service import append_entry, get_settings, lock_account
from herald.pagination import keyset_page

REDEMPTION_SOURCE = "redemption"
RELEASE_SOURCE = "redemption-release"
ADJUSTMENT_SOURCE = "adjustment"
REDEMPTION_RESERVED = "loyalty.redemption_reserved"
# No 0/O or 1/I: codes are read out at tills and typed in at checkouts.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


# -- catalog -----------------------------------------------------------------------------------


def reward_out(reward: Reward) -> RewardOut:
    return RewardOut.model_validate(reward, from_attributes=True)


# A catalog a customer can read through; the list of rewards stays small.
MAX_REWARDS = 200


def create_reward(session: Session, data: RewardCreate) -> Reward:
    if (session.scalar(select(func.count()).select_from(Reward)) or 0) >= MAX_REWARDS:
        raise Conflict(f"a catalog holds at most {MAX_REWARDS} rewards; retire one first")
    reward = Reward(**data.model_dump(), stock_left=data.stock)
    session.add(reward)
    session.commit()
    return reward


def get_reward(session: Session, reward_id: uuid.UUID) -> Reward:
    reward = session.get(Reward, reward_id)
    if reward is None:
        raise NotFound("no such reward")
    return reward


def list_rewards(session: Session, *, active_only: bool = False) -> list[Reward]:
    stmt = select(Reward).order_by(Reward.cost_points, Reward.name)
    if active_only:
        stmt = stmt.where(Reward.active.is_(True))
    return list(session.scalars(stmt))


def update_reward(session: Session, reward_id: uuid.UUID, data: RewardUpdate) -> Reward:
    reward = session.scalars(select(Reward).where(Reward.id == reward_id).with_for_update()).first()
    if reward is None:
        raise NotFound("no such reward")
    changes = data.model_dump(exclude_unset=True)
    if "stock" in changes:
        # Codes out now keep their units: what is left is the new total less those.
        stock = changes["stock"]
        reward.stock_left = None if stock is None else max(stock - _held(session, reward), 0)
    for field, value in changes.items():
        setattr(reward, field, value)
    session.commit()
    return reward


def _held(session: Session, reward: Reward) -> int:
    """Units of a reward taken by live codes (reserved or confirmed)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.reward_id == reward.id,
                Redemption.status != RedemptionStatus.released,
            )
        )
        or 0
    )


# -- redemption --------------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def _take_unit(session: Session, reward: Reward) -> bool:
    """One unit of a stocked reward, if any is left (always, for unlimited ones). One
    conditional statement: two customers cannot take the last unit."""
    if reward.stock_left is None:
        return True
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock_left > 0)
        .values(stock_left=Reward.stock_left - 1)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


def reserve(
    session: Session, customer_id: uuid.UUID, reward_id: uuid.UUID
) -> tuple[Redemption, uuid.UUID]:
    """Hold the reward's points and issue its code, in one commit with the event that starts
    the run releasing them if no order uses the code in time. Returns the event's id.

    Concurrent redemptions of one customer queue on the account lock, so the balance check
    and the debit cannot interleave: the balance never goes below zero.
    """
    customer = get_customer(session, customer_id)
    account = lock_account(session, customer.id)
    reward = session.get(Reward, reward_id)
    if reward is None or not reward.active:
        session.rollback()
        raise InvalidInput("no such reward, or it is no longer offered", field="reward_id")
    if reward.per_customer_limit is not None:
        taken = session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.customer_id == customer.id,
                Redemption.reward_id == reward.id,
                Redemption.status != RedemptionStatus.released,
            )
        )
        if (taken or 0) >= reward.per_customer_limit:
            session.rollback()
            raise Conflict(f"this customer has had this reward {reward.per_customer_limit} times")
    if account.balance < reward.cost_points:
        balance = account.balance
        session.rollback()
        raise Conflict(
            f"not enough points: the reward costs {reward.cost_points}, the balance is {balance}"
        )
    if not _take_unit(session, reward):
        session.rollback()
        raise Conflict("this reward is out of stock")
    now = utcnow()
    hold = timedelta(minutes=get_settings(session).redemption_hold_minutes)
    redemption = Redemption(
        id=uuid.uuid4(),
        customer_id=customer.id,
        reward_id=reward.id,
        code=_new_code(),
        points=reward.cost_points,
        status=RedemptionStatus.reserved,
        created_at=now,
        expires_at=now + hold,
    )
    event = _reserved_event(redemption, reward)
    session.add_all([redemption, event])
    entry = LedgerEntry(
        customer_id=customer.id,
        kind=EntryKind.redemption,
        points=-reward.cost_points,
        source=REDEMPTION_SOURCE,
        source_id=str(redemption.id),
        details={"reward_id": str(reward.id), "reward": reward.name, "code": redemption.code},
    )
    if append_entry(session, account, entry, "redeemed") is None:  # ids are fresh: cannot clash
        raise RuntimeError("a new redemption's ledger key already existed")
    return redemption, event.id


def gift(
    session: Session, customer_id: uuid.UUID, reward_id: uuid.UUID, key: str, hold: timedelta
) -> Redemption | None:
    """A reward's code given away (no points), once per ``key``; None when out of stock or
    no longer offered. Like any code, a run gives the unit back if it lapses unused."""
    redemption_id = uuid.uuid5(uuid.NAMESPACE_URL, f"gift:{session_organization(session)}:{key}")
    found = session.get(Redemption, redemption_id)
    if found is not None:
        return found
    lock_account(session, customer_id)  # gifts and redemptions of one customer queue up
    reward = session.get(Reward, reward_id)
    if reward is None or not reward.active:
        session.rollback()
        return None
    if not _take_unit(session, reward):
        session.rollback()
        return None
    now = utcnow()
    redemption = Redemption(
        id=redemption_id,
        customer_id=customer_id,
        reward_id=reward.id,
        code=_new_code(),
        points=0,
        status=RedemptionStatus.reserved,
        created_at=now,
        expires_at=now + hold,
    )
    session.add_all([redemption, _reserved_event(redemption, reward)])
    session.commit()
    return redemption


def _reserved_event(redemption: Redemption, reward: Reward) -> Event:
    """Starts the run that frees the code's points and unit if no order uses it in time."""
    return Event(
        id=uuid.uuid4(),
        type=REDEMPTION_RESERVED,
        customer_id=redemption.customer_id,
        occurred_at=redemption.created_at,
        received_at=redemption.created_at,
        properties={
            "redemption_id": str(redemption.id),
            "reward_id": str(reward.id),
            "points": redemption.points,
            "expires_at": redemption.expires_at.isoformat(),
        },
    )


def get_redemption(session: Session, code_or_id: str) -> Redemption:
    """By its code (as the checkout knows it) or its id."""
    condition = Redemption.code == code_or_id.strip().upper()
    with contextlib.suppress(ValueError):  # not an id: a code
        condition = condition | (Redemption.id == uuid.UUID(code_or_id))
    found = session.scalars(select(Redemption).where(condition)).first()
    if found is None:
        raise NotFound("no such redemption code")
    return found


def _locked(session: Session, redemption: Redemption) -> tuple[LoyaltyAccount, Redemption]:
    """The customer's account lock first (as in ``reserve``), then the redemption's fresh row."""
    account = lock_account(session, redemption.customer_id)
    session.refresh(redemption)
    return account, redemption


def confirm(session: Session, code_or_id: str, order_id: str) -> Redemption:
    """The order used the code: the points are spent for good. Repeating it is harmless."""
    account, redemption = _locked(session, get_redemption(session, code_or_id))
    if redemption.status is RedemptionStatus.confirmed:
        session.rollback()
        if redemption.order_id != order_id:
            raise Conflict(f"the code was used by order {redemption.order_id}")
        return redemption
    if redemption.status is RedemptionStatus.released:
        session.rollback()
        raise Conflict(f"the code lapsed ({redemption.release_reason}); its points came back")
    redemption.status = RedemptionStatus.confirmed
    redemption.order_id = order_id
    redemption.settled_at = utcnow()
    account.updated_at = utcnow()
    session.commit()
    return redemption


def release(
    session: Session, code_or_id: str, reason: str, *, due: datetime | None = None
) -> Redemption:
    """Give the points back and the unit to the stock, if the code is still unused (and, for
    the expiry, if its time has come). Repeating it is harmless."""
    account, redemption = _locked(session, get_redemption(session, code_or_id))
    if redemption.status is not RedemptionStatus.reserved or (
        due is not None and due < redemption.expires_at
    ):
        session.rollback()
        return redemption
    redemption.status = RedemptionStatus.released
    redemption.release_reason = reason
    redemption.settled_at = due or utcnow()  # a lapse happens when the hold ran out
    session.execute(
        update(Reward)
        .where(Reward.id == redemption.reward_id, Reward.stock_left.is_not(None))
        .values(stock_left=Reward.stock_left + 1)
    )
    if redemption.points == 0:  # a gift: only the unit comes back
        session.commit()
        return redemption
    entry = LedgerEntry(
        customer_id=redemption.customer_id,
        kind=EntryKind.release,
        points=redemption.points,
        source=RELEASE_SOURCE,
        source_id=str(redemption.id),
        details={"reason": reason, "code": redemption.code},
    )
    if append_entry(session, account, entry, "released") is None:
        session.rollback()  # released by a concurrent call: nothing more to do
    return redemption


def list_redemptions(
    session: Session, customer_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[Redemption], str | None]:
    """Newest first, and the cursor of the next page."""
    get_customer(session, customer_id, include_deleted=True)
    stmt = select(Redemption).where(Redemption.customer_id == customer_id)
    return keyset_page(
        session, stmt, Redemption.created_at, Redemption.id, limit=limit, cursor=cursor
    )


# -- manual adjustments ------------------------------------------------------------------------


def adjust(
    session: Session, customer_id: uuid.UUID, data: AdjustmentIn, actor: str
) -> LedgerOutcome:
    """An owner's correction, kept in the ledger with its reason and who made it."""
    customer = get_customer(session, customer_id)
    account = lock_account(session, customer.id)
    if account.balance + data.points < 0:
        balance = account.balance
        session.rollback()
        raise Conflict(f"the balance is {balance}: it cannot go below zero")
    entry = LedgerEntry(
        customer_id=customer.id,
        kind=EntryKind.adjustment,
        points=data.points,
        source=ADJUSTMENT_SOURCE,
        source_id=str(uuid.uuid4()),
        details={"reason": data.reason, "by": actor},
    )
    outcome = append_entry(session, account, entry, "adjusted")
    assert outcome is not None  # a fresh key
    return outcome
