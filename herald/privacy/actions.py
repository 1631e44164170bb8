"""A person's data, for adapters: the archive, and erasure (the database, then their runs)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from herald.privacy import service
from herald.runs.service import end_customer_runs
from herald.runtime import Runtime


class ErasureOut(BaseModel):
    customer_id: uuid.UUID
    addresses_suppressed: int
    runs_ended: int


async def export(runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID) -> bytes:
    return await runtime.in_org(organization_id, lambda s: service.export_person(s, customer_id))


async def erase(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID, actor: str
) -> ErasureOut:
    """Erase the person in one transaction, then end their runs in flight (a run that would
    still send to them finds no address and no consent in any case)."""
    erasure = await runtime.in_org(
        organization_id, lambda s: service.erase_person(s, customer_id, actor=actor)
    )
    ended = await end_customer_runs(
        await runtime.client(), organization_id, customer_id, "the person was erased"
    )
    return ErasureOut(
        customer_id=customer_id,
        addresses_suppressed=erasure.addresses_suppressed,
        runs_ended=ended,
    )
