from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from herald.customers.schemas import CustomerFilter
from herald.dataops.models import (
    BulkActionKind,
    BulkStatus,
    ExportKind,
    ExportStatus,
    ImportKind,
    ImportStatus,
)
from herald.messaging.schemas import ConsentIn
from herald.newsletter.models import SubscriberStatus


class MappingIn(BaseModel):
    """Which field each column fills: ``{"E-mail": "email", "Points": null}``. Columns left
    out or mapped to null are ignored. Fields: ``GET /v1/imports/fields``."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str | None] = Field(max_length=200)
    react: bool | None = Field(
        default=None,
        description="orders: award points and start journeys as live orders do (by default "
        "imported orders are history); customers: their customer.created events start journeys",
    )


class CustomerCounts(BaseModel):
    """Customers a bulk action reached: changed (``updated``), found as asked already, or
    refused (deleted, erased)."""

    processed: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


class RowCounts(CustomerCounts):
    """A file's rows: their profiles or orders created, updated, found unchanged, or refused."""

    created: int = 0


class RowError(BaseModel):
    line: int
    error: str


class ImportOut(BaseModel):
    id: uuid.UUID
    kind: ImportKind
    filename: str
    status: ImportStatus
    headers: list[str]
    mapping: dict[str, str]
    unmapped: list[str] = Field(description="columns no field takes: ignored")
    react: bool
    total_rows: int
    check: RowCounts | None = Field(description="the latest dry run: what the import would do")
    result: RowCounts | None = Field(description="what the import did so far")
    errors: list[RowError] = Field(description="the first failed rows; all in /errors as CSV")
    run_id: str | None = Field(description="the workflow id of the latest run")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="why the run failed")


class ImportFields(BaseModel):
    kind: ImportKind
    fields: dict[str, str] = Field(description="each field and what it takes")
    patterns: dict[str, str] = Field(description="fields named by a pattern")


class CustomerSelection(CustomerFilter):
    model_config = ConfigDict(extra="forbid")


MAX_LISTED_IDS = 10_000


class ExportIn(BaseModel):
    """Customers: those the filter selects (a saved segment with ``filter.segment``), or the
    ids listed; by default every live customer. Subscribers: by status and topic."""

    model_config = ConfigDict(extra="forbid")

    kind: ExportKind
    filter: CustomerSelection | None = None
    customer_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_LISTED_IDS
    )
    subscriber_status: SubscriberStatus | None = None
    topic: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _fits_kind(self) -> ExportIn:
        if self.filter is not None and self.customer_ids is not None:
            raise ValueError("give a filter or customer_ids, not both")
        customer_fields = self.filter is not None or self.customer_ids is not None
        subscriber_fields = self.subscriber_status is not None or self.topic is not None
        if self.kind is ExportKind.customers and subscriber_fields:
            raise ValueError("subscriber_status and topic select subscribers")
        if self.kind is ExportKind.subscribers and customer_fields:
            raise ValueError("filter and customer_ids select customers")
        return self


class ExportOut(BaseModel):
    id: uuid.UUID
    kind: ExportKind
    status: ExportStatus
    rows: int = Field(description="rows written so far")
    download_url: str | None = Field(description="while ready: the file, no key needed")
    run_id: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    error: str | None


class BulkIn(BaseModel):
    """One action on the customers the filter selects (a saved segment with
    ``filter.segment``; by default every live customer), or on the ids listed."""

    model_config = ConfigDict(extra="forbid")

    action: BulkActionKind
    filter: CustomerSelection | None = None
    customer_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_LISTED_IDS
    )
    tag: str | None = Field(default=None, min_length=1, max_length=64, description="tag, untag")
    consent: ConsentIn | None = Field(default=None, description="set_consent: the channels named")
    journey: str | None = Field(default=None, max_length=100, description="enroll: its key")
    group: str | None = Field(default=None, max_length=100, description="a customer group's key")

    @model_validator(mode="after")
    def _what_the_action_takes(self) -> BulkIn:
        if self.filter is not None and self.customer_ids is not None:
            raise ValueError("give a filter or customer_ids, not both")
        needs = {
            BulkActionKind.tag: "tag",
            BulkActionKind.untag: "tag",
            BulkActionKind.set_consent: "consent",
            BulkActionKind.enroll: "journey",
            BulkActionKind.add_to_group: "group",
            BulkActionKind.remove_from_group: "group",
        }.get(self.action)
        given = {n for n in ("tag", "consent", "journey", "group") if getattr(self, n) is not None}
        if given != ({needs} if needs else set()):
            wanted = f"takes {needs}" if needs else "takes no parameter"
            raise ValueError(f"{self.action.value} {wanted}")
        if self.tag is not None:
            self.tag = self.tag.strip()
        return self


class BulkOut(BaseModel):
    id: uuid.UUID
    action: BulkActionKind
    params: dict[str, Any]
    status: BulkStatus
    total: int | None = Field(description="customers selected (known once the run begins)")
    progress: CustomerCounts
    run_id: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
