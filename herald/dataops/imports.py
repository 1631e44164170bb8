"""CSV imports of customers and of past orders.

An upload stores the file's rows (``import_rows``) and guesses which field each column fills.
A dry run and the import are runs of the same batches (``ImportRun``): a dry run does every
write inside a savepoint it rolls back, so what it reports (created, updated, unchanged, each
failed row and why) is what the import would do, checked by the same code and constraints.
Each batch settles its rows' outcomes in the transaction of its writes: a retried or restarted
run skips them, and importing the same file again finds every row unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from herald.customers.models import (
    Customer,
    CustomerActivity,
    CustomerAddress,
    CustomerBusiness,
    CustomerEmail,
    CustomerPhone,
    CustomerTag,
)
from herald.customers.schemas import (
    AddressIn,
    BusinessIn,
    CustomerCreate,
    CustomerUpdate,
    EmailIn,
    PhoneIn,
)
from herald.customers.service import (
    ProfileRows,
    change_customer,
    created_records,
    index_customers,
    profile_rows,
)
from herald.dataops.contracts import (
    IMPORT_BATCH,
    IMPORT_WORKFLOW,
    ImportBatchDone,
    ImportEnd,
    ImportRunInput,
)
from herald.dataops.csvfiles import CsvChunks, decoded, header_key, read_rows
from herald.dataops.models import DataImport, ImportKind, ImportRow, ImportStatus, RowOutcome
from herald.dataops.schemas import (
    ImportFields,
    ImportOut,
    MappingIn,
    RowCounts,
    RowError,
)
from herald.db import Base, analyze, insert_rows, one_of, session_organization, utcnow
from herald.errors import Conflict, HeraldError, InvalidInput, NotFound
from herald.events.models import Event
from herald.events.schemas import CustomerRef, OrderPaidEvent, OrderRefundedEvent
from herald.events.service import add_events
from herald.messaging.audience import new_consents, record_consents
from herald.messaging.models import Consent, ConsentStatus
from herald.messaging.schemas import ConsentIn
from herald.orders.models import Order, OrderItem
from herald.orders.schemas import OrderPaidProperties, OrderRefundedProperties
from herald.pagination import Page, page_of
from herald.temporal import WorkflowStart, tenant_workflow_id

MAX_ROWS = 1_000_000
GROWN: dict[ImportKind, tuple[type[Base], ...]] = {
    ImportKind.customers: (
        Customer,
        CustomerEmail,
        CustomerPhone,
        CustomerAddress,
        CustomerTag,
        Consent,
        Event,
        CustomerActivity,
    ),
    ImportKind.orders: (Order, OrderItem, Event),
}
ERRORS_SHOWN = 20
# The refund id of the refunded amount an order's row carries.
IMPORTED_REFUND = "import"

ATTRIBUTE = "attribute:"
CUSTOMER_FIELDS = {
    "external_id": "the shop's id of the customer: matches an existing profile first",
    "email": "the primary email: matches an existing profile when no external_id does",
    "name": "the full name",
    "first_name": "joined with last_name when there is no name column",
    "last_name": "joined with first_name",
    "phone": "a phone number in E.164 form (+84...)",
    "birthday": "YYYY-MM-DD",
    "locale": "a BCP 47 tag (en, vi, de-AT)",
    "timezone": "an IANA time zone (Asia/Ho_Chi_Minh)",
    "tags": "tags separated by commas or semicolons: added to the profile's",
    "address_line1": "street and number: with country, the primary address",
    "address_line2": "",
    "city": "",
    "region": "state or province",
    "postal_code": "",
    "country": "ISO 3166-1 alpha-2 (VN, DE)",
    "company": "the legal name of a business customer",
    "tax_id": "the business's tax number, checked for tax_country",
    "tax_country": "ISO 3166-1 alpha-2",
    "email_consent": "email marketing: yes or no (blank: unchanged)",
    "sms_consent": "SMS marketing: yes or no (blank: unchanged)",
}
ORDER_FIELDS = {
    "order_id": "the shop's order id; an order's lines follow one another",
    "customer_external_id": "who ordered: the customer's external_id",
    "customer_email": "who ordered, when there is no customer_external_id",
    "paid_at": "when it was paid: ISO 8601 (UTC when no offset is given)",
    "currency": "ISO 4217 (VND, EUR)",
    "amount": "what the customer paid, after discounts",
    "discount": "",
    "shipping": "",
    "source": "web, pos, ...",
    "refunded_amount": "refunded so far: recorded as one refund",
    "item_product_id": "a line's product id (lines without one are skipped)",
    "item_variant_id": "",
    "item_name": "",
    "item_quantity": "1 when blank",
    "item_unit_price": "",
}
FIELDS = {ImportKind.customers: CUSTOMER_FIELDS, ImportKind.orders: ORDER_FIELDS}
# Header spellings other tools export, compared by ``header_key``.
ALIASES = {
    ImportKind.customers: {
        "id": "external_id",
        "customer_id": "external_id",
        "e_mail": "email",
        "email_address": "email",
        "full_name": "name",
        "firstname": "first_name",
        "given_name": "first_name",
        "lastname": "last_name",
        "surname": "last_name",
        "family_name": "last_name",
        "phone_number": "phone",
        "mobile": "phone",
        "date_of_birth": "birthday",
        "dob": "birthday",
        "birth_date": "birthday",
        "language": "locale",
        "time_zone": "timezone",
        "address": "address_line1",
        "address1": "address_line1",
        "street": "address_line1",
        "address2": "address_line2",
        "state": "region",
        "province": "region",
        "zip": "postal_code",
        "zip_code": "postal_code",
        "postcode": "postal_code",
        "country_code": "country",
        "company_name": "company",
        "vat": "tax_id",
        "vat_number": "tax_id",
        "tax_number": "tax_id",
        "accepts_email_marketing": "email_consent",
        "accepts_marketing": "email_consent",
        "email_marketing": "email_consent",
        "accepts_sms_marketing": "sms_consent",
        "sms_marketing": "sms_consent",
    },
    ImportKind.orders: {
        "order": "order_id",
        "order_number": "order_id",
        "email": "customer_email",
        "customer_id": "customer_external_id",
        "external_id": "customer_external_id",
        "total": "amount",
        "total_price": "amount",
        "processed_at": "paid_at",
        "created_at": "paid_at",
        "date": "paid_at",
        "discount_amount": "discount",
        "refunded": "refunded_amount",
        "sku": "item_product_id",
        "product_id": "item_product_id",
        "lineitem_sku": "item_product_id",
        "lineitem_name": "item_name",
        "product_name": "item_name",
        "lineitem_quantity": "item_quantity",
        "quantity": "item_quantity",
        "lineitem_price": "item_unit_price",
        "unit_price": "item_unit_price",
        "price": "item_unit_price",
    },
}
YES = {"yes", "y", "true", "1", "granted", "subscribed"}
NO = {"no", "n", "false", "0", "revoked", "unsubscribed", "not_subscribed"}


def fields_of(kind: ImportKind) -> ImportFields:
    patterns = {f"{ATTRIBUTE}<key>": "a custom attribute"} if kind is ImportKind.customers else {}
    return ImportFields(kind=kind, fields=FIELDS[kind], patterns=patterns)


def _known_field(kind: ImportKind, name: str) -> bool:
    if name in FIELDS[kind]:
        return True
    return kind is ImportKind.customers and name.startswith(ATTRIBUTE) and len(name) > 10


def suggested_mapping(kind: ImportKind, headers: list[str]) -> dict[str, str]:
    """The field each header names, by its name or a common alias; one column per field."""
    mapping: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        name = key if _known_field(kind, key) else ALIASES[kind].get(key)
        if name is not None and name not in mapping.values():
            mapping[header] = name
    return mapping


# -- the file ------------------------------------------------------------------------------------


def upload(
    session: Session, kind: ImportKind, filename: str, raw: bytes, *, actor: str
) -> ImportOut:
    """Store the file's rows; the mapping starts as the guess from its headers."""
    headers, rows = read_rows(decoded(raw))
    imported = DataImport(
        id=uuid.uuid4(),
        organization_id=session_organization(session),
        kind=kind,
        filename=filename[:200],
        headers=headers,
        mapping=suggested_mapping(kind, headers),
        react=False,
        status=ImportStatus.uploaded,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(imported)
    session.flush()
    batch: list[ImportRow] = []
    total = 0
    for line, cells in rows:
        total += 1
        if total > MAX_ROWS:
            raise InvalidInput(f"at most {MAX_ROWS:,} rows a file; split it")
        batch.append(
            ImportRow(
                id=uuid.uuid4(),
                organization_id=imported.organization_id,
                import_id=imported.id,
                line=line,
                cells=cells,
                check_outcome=None,
                outcome=None,
                error=None,
            )
        )
        if len(batch) == 5_000:
            insert_rows(session, ImportRow, batch)
            batch = []
    insert_rows(session, ImportRow, batch)
    if total == 0:
        raise InvalidInput("the file has a header but no rows")
    imported.total_rows = total
    session.commit()
    return import_out(session, imported)


def _get(session: Session, import_id: uuid.UUID) -> DataImport:
    imported = session.get(DataImport, import_id)
    if imported is None:
        raise NotFound("no such import")
    return imported


def get_import(session: Session, import_id: uuid.UUID) -> ImportOut:
    return import_out(session, _get(session, import_id))


def list_imports(session: Session, *, limit: int, cursor: str | None) -> Page[ImportOut]:
    return page_of(
        session,
        select(DataImport),
        DataImport.created_at,
        DataImport.id,
        lambda i: import_out(session, i),
        limit=limit,
        cursor=cursor,
    )


def _counts(counts: dict[str, Any]) -> RowCounts | None:
    return RowCounts(processed=sum(counts.values()), **counts) if counts else None


def import_out(session: Session, imported: DataImport) -> ImportOut:
    outcome = ImportRow.outcome if imported.started_at else ImportRow.check_outcome
    errors = session.execute(
        select(ImportRow.line, ImportRow.error)
        .where(ImportRow.import_id == imported.id, outcome == RowOutcome.failed)
        .order_by(ImportRow.line)
        .limit(ERRORS_SHOWN)
    )
    return ImportOut(
        id=imported.id,
        kind=imported.kind,
        filename=imported.filename,
        status=imported.status,
        headers=imported.headers,
        mapping=imported.mapping,
        unmapped=[h for h in imported.headers if h not in imported.mapping],
        react=imported.react,
        total_rows=imported.total_rows,
        check=_counts(imported.checked),
        result=_counts(imported.imported),
        errors=[RowError(line=line, error=error or "") for line, error in errors],
        run_id=_run_id(imported) if imported.status is not ImportStatus.uploaded else None,
        created_by=imported.created_by,
        created_at=imported.created_at,
        started_at=imported.started_at,
        finished_at=imported.finished_at,
        error=imported.error,
    )


def set_mapping(session: Session, import_id: uuid.UUID, data: MappingIn) -> ImportOut:
    imported = _get(session, import_id)
    if imported.started_at is not None or imported.status is ImportStatus.checking:
        raise Conflict("the mapping is fixed once a run has started")
    unknown = sorted(set(data.columns) - set(imported.headers))
    if unknown:
        raise InvalidInput(f"no such column: {', '.join(unknown)}", field="columns")
    mapping = {header: name for header, name in data.columns.items() if name}
    for header, name in mapping.items():
        if not _known_field(imported.kind, name):
            raise InvalidInput(
                f"{header!r}: no {imported.kind.value} field is called {name!r}",
                field=f"columns.{header}",
            )
    doubled = sorted({n for n in mapping.values() if list(mapping.values()).count(n) > 1})
    if doubled:
        raise InvalidInput(f"one column per field: {', '.join(doubled)}", field="columns")
    imported.mapping = mapping
    if data.react is not None:
        imported.react = data.react
    session.commit()
    return import_out(session, imported)


# -- runs ----------------------------------------------------------------------------------------

_STARTABLE = {
    ImportStatus.uploaded,
    ImportStatus.checked,
    ImportStatus.cancelled,
    ImportStatus.failed,
}


def _run_id(imported: DataImport) -> str:
    if imported.started_at is not None:
        return tenant_workflow_id(IMPORT_WORKFLOW, imported.organization_id, imported.id)
    return tenant_workflow_id(
        IMPORT_WORKFLOW, imported.organization_id, imported.id, f"check-{imported.checks}"
    )


def _check_mapping(imported: DataImport) -> None:
    fields = set(imported.mapping.values())
    if imported.kind is ImportKind.customers:
        if not fields & {"external_id", "email"}:
            raise InvalidInput(
                "map a column to external_id or email: rows are matched to profiles by them",
                field="columns",
            )
        return
    missing = sorted({"order_id", "amount", "currency"} - fields)
    if missing:
        raise InvalidInput(f"map a column to {', '.join(missing)}", field="columns")
    if not fields & {"customer_external_id", "customer_email"}:
        raise InvalidInput(
            "map a column to customer_external_id or customer_email", field="columns"
        )


def begin(session: Session, import_id: uuid.UUID, *, dry_run: bool, actor: str) -> WorkflowStart:
    """Mark the dry run or the import begun; the run to start. A cancelled or failed import
    started again goes on with the rows not yet done."""
    imported = _get(session, import_id)
    if imported.status not in _STARTABLE:
        raise Conflict(f"the import is {imported.status.value}")
    if dry_run and imported.started_at is not None:
        raise Conflict("the import has begun: a dry run would tell nothing more")
    _check_mapping(imported)
    if dry_run:
        imported.checks += 1
        imported.checked = {}
        session.execute(
            update(ImportRow)
            .where(ImportRow.import_id == imported.id)
            .values(check_outcome=None, error=None)
        )
        imported.status = ImportStatus.checking
    else:
        imported.started_at = imported.started_at or utcnow()
        imported.status = ImportStatus.importing
    imported.finished_at, imported.error = None, None
    session.commit()
    what = "dry run of import" if dry_run else "import"
    return WorkflowStart(
        workflow=IMPORT_WORKFLOW,
        workflow_id=_run_id(imported),
        arg=ImportRunInput(
            organization_id=imported.organization_id,
            import_id=imported.id,
            dry_run=dry_run,
            actor=actor,
        ),
        organization_id=imported.organization_id,
        customer_id=None,
        summary=f"{what.capitalize()} {imported.id} ({imported.kind.value}, "
        f"{imported.total_rows} rows)",
        rerun=True,
    )


def delete_import(session: Session, import_id: uuid.UUID) -> None:
    """Forget the file: its rows and the error report (what it imported stays)."""
    imported = _get(session, import_id)
    if imported.status in (ImportStatus.checking, ImportStatus.importing):
        raise Conflict("a run is under way: cancel it first")
    session.execute(delete(ImportRow).where(ImportRow.import_id == imported.id))
    session.delete(imported)
    session.commit()


def running_run(session: Session, import_id: uuid.UUID) -> str:
    """The workflow id of the import's run under way (cancel signals it)."""
    imported = _get(session, import_id)
    if imported.status not in (ImportStatus.checking, ImportStatus.importing):
        raise Conflict(f"the import is {imported.status.value}: no run is under way")
    return _run_id(imported)


def end(session: Session, ended: ImportEnd) -> None:
    imported = _get(session, ended.import_id)
    if ended.error is not None:
        imported.status, imported.error = ImportStatus.failed, ended.error
    elif ended.cancelled:
        imported.status = ImportStatus.cancelled
    else:
        imported.status = ImportStatus.checked if ended.dry_run else ImportStatus.imported
    imported.finished_at = utcnow()
    if not ended.dry_run and imported.imported.get(RowOutcome.created.value):
        # Tables that grew by a file's rows at once: PostgreSQL plans the next reads for
        # their new size now, not when autovacuum gets to them (an export right after an
        # import of a new shop otherwise walks each table once per customer).
        for grown in GROWN[imported.kind]:
            analyze(session, grown, sqlite=True)
    session.commit()


@dataclass
class _Row:
    id: uuid.UUID
    line: int
    values: dict[str, str]
    outcome: RowOutcome | None = None
    error: str | None = None

    def fail(self, error: str) -> None:
        self.outcome, self.error = RowOutcome.failed, error


def import_batch(session: Session, run: ImportRunInput) -> ImportBatchDone:
    """The next rows after ``run.after_line`` not yet done, in one transaction with their
    outcomes; for a dry run, every write is rolled back and only the outcomes stay."""
    imported = _get(session, run.import_id)
    settled = ImportRow.check_outcome if run.dry_run else ImportRow.outcome
    fields = [
        (position, name)
        for position, header in enumerate(imported.headers)
        if (name := imported.mapping.get(header))
    ]

    def next_rows(after: int, limit: int) -> list[_Row]:
        found = session.execute(
            select(ImportRow.id, ImportRow.line, ImportRow.cells)
            .where(ImportRow.import_id == imported.id, ImportRow.line > after, settled.is_(None))
            .order_by(ImportRow.line)
            .limit(limit)
        )
        return [_Row(row_id, line, _values(fields, cells)) for row_id, line, cells in found]

    rows = next_rows(run.after_line, IMPORT_BATCH)
    if not rows:
        return ImportBatchDone(rows=0, last_line=None)
    if imported.kind is ImportKind.orders:
        # An order's lines follow one another: the batch takes the last order's other lines.
        last_order = rows[-1].values.get("order_id")
        while last_order:
            more = [
                r
                for r in next_rows(rows[-1].line, IMPORT_BATCH)
                if r.values.get("order_id") == last_order
            ]
            rows += more
            if len(more) < IMPORT_BATCH:
                break
    apply = _import_orders if imported.kind is ImportKind.orders else _import_customers
    savepoint = session.begin_nested()
    apply(session, imported, rows, run.actor)
    if run.dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    _settle(session, rows, settled)
    counts = dict(imported.checked if run.dry_run else imported.imported)
    for item in rows:
        assert item.outcome is not None
        counts[item.outcome.value] = counts.get(item.outcome.value, 0) + 1
    if run.dry_run:
        imported.checked = counts
    else:
        imported.imported = counts
    session.commit()
    return ImportBatchDone(rows=len(rows), last_line=rows[-1].line)


def _settle(session: Session, rows: list[_Row], outcome: Any) -> None:
    """Write the rows' outcomes: one statement per outcome and error (errors are few)."""
    groups: dict[tuple[RowOutcome | None, str | None], list[uuid.UUID]] = {}
    for item in rows:
        groups.setdefault((item.outcome, item.error), []).append(item.id)
    for (result, error), ids in groups.items():
        session.execute(
            update(ImportRow)
            .where(one_of(session, ImportRow.id, ids))
            .values({outcome.key: result, "error": error})
            .execution_options(synchronize_session=False)
        )


def _values(fields: list[tuple[int, str]], cells: list[str]) -> dict[str, str]:
    """The row's non-blank cells by the field their column fills."""
    return {
        name: cells[position]
        for position, name in fields
        if position < len(cells) and cells[position]
    }


def _problem(exc: ValidationError, columns: dict[str, str]) -> str:
    """A validation error in the file's own column names."""
    parts = []
    for error in exc.errors():
        where = [str(p) for p in error["loc"] if not isinstance(p, int)]
        name = where[-1] if where else "row"
        parts.append(f"{columns.get(name, name)}: {error['msg']}")
    return "; ".join(parts)


# -- customers -----------------------------------------------------------------------------------

# Fields of CustomerCreate and the import fields they come from, for error messages.
_CUSTOMER_COLUMNS = {
    "emails": "email",
    "address": "email",
    "phones": "phone",
    "number": "phone",
    "addresses": "address_line1",
    "line1": "address_line1",
    "line2": "address_line2",
    "legal_name": "company",
    "business": "company",
}


def _consent(value: str | None, column: str) -> ConsentStatus | None:
    if value is None:
        return None
    word = value.strip().lower().replace(" ", "_")
    if word in YES:
        return ConsentStatus.granted
    if word in NO:
        return ConsentStatus.revoked
    raise ValueError(f"{column}: yes or no, not {value!r}")


def _customer_data(
    values: dict[str, str], columns: dict[str, str]
) -> tuple[CustomerCreate, ConsentIn | None]:
    name = values.get("name") or " ".join(
        v for v in (values.get("first_name"), values.get("last_name")) if v
    )
    payload: dict[str, Any] = {
        "name": name,
        "external_id": values.get("external_id"),
        "emails": [values["email"]] if "email" in values else [],
        "phones": [values["phone"]] if "phone" in values else [],
        "birthday": values.get("birthday"),
        "locale": values.get("locale"),
        "timezone": values.get("timezone"),
        "tags": [t for t in values.get("tags", "").replace(";", ",").split(",") if t.strip()],
        "attributes": {
            k[len(ATTRIBUTE) :]: v for k, v in values.items() if k.startswith(ATTRIBUTE)
        },
    }
    address = {
        key: values.get(column)
        for key, column in (
            ("line1", "address_line1"),
            ("line2", "address_line2"),
            ("city", "city"),
            ("region", "region"),
            ("postal_code", "postal_code"),
            ("country", "country"),
        )
    }
    names = {**_CUSTOMER_COLUMNS, **{f: f for f in CUSTOMER_FIELDS}}
    labels = {name: columns.get(column, column) for name, column in names.items()}
    if address["line1"]:
        payload["addresses"] = [address]
    elif any(value for key, value in address.items() if key != "country"):
        raise ValueError(f"{labels['line1']}: blank, and an address needs its first line")
    else:
        # A country alone is where the customer is, without an address.
        payload["country"] = address["country"]
    if "company" in values or "tax_id" in values:
        payload["business"] = {
            "legal_name": values.get("company", ""),
            "tax_id": values.get("tax_id"),
            "tax_country": values.get("tax_country") or values.get("country"),
        }
    try:
        data = CustomerCreate.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(_problem(exc, labels)) from None
    email = _consent(values.get("email_consent"), columns.get("email_consent", ""))
    sms = _consent(values.get("sms_consent"), columns.get("sms_consent", ""))
    consent = ConsentIn(email=email, sms=sms, source="import") if email or sms else None
    return data, consent


@dataclass
class _Profiles:
    """The batch's profiles by external id and primary email: found, or made by earlier rows
    (their rows, written after the batch's other rows)."""

    by_external_id: dict[str, Customer | ProfileRows] = field(default_factory=dict)
    by_email: dict[str, Customer | ProfileRows] = field(default_factory=dict)

    def remember(self, profile: Customer | ProfileRows) -> None:
        if isinstance(profile, ProfileRows):
            external_id = profile.customer["external_id"]
            email = profile.customer["primary_email"]
        else:
            external_id, email = profile.external_id, profile.primary_email
        if external_id:
            self.by_external_id[external_id] = profile
        if email:
            self.by_email[email] = profile


def _profiles(session: Session, external_ids: set[str], emails: set[str]) -> _Profiles:
    conditions = []
    if external_ids:
        conditions.append(one_of(session, Customer.external_id, external_ids))
    if emails:
        conditions.append(one_of(session, Customer.primary_email, emails))
    profiles = _Profiles()
    if conditions:
        for customer in session.scalars(select(Customer).where(or_(*conditions))):
            profiles.remember(customer)
    return profiles


class _Later(Exception):
    """The row is about a profile an earlier row of the batch creates: it is applied once
    that profile is written."""


_Parsed = tuple[_Row, CustomerCreate, ConsentIn | None]


def _import_customers(session: Session, imported: DataImport, rows: list[_Row], actor: str) -> None:
    columns = {name: header for header, name in imported.mapping.items()}
    parsed: list[_Parsed] = []
    for item in rows:
        try:
            data, consent = _customer_data(item.values, columns)
        except ValueError as exc:
            item.fail(str(exc))
            continue
        parsed.append((item, data, consent))
    while parsed:
        parsed = _apply_customer_rows(session, imported, parsed, actor)


def _apply_customer_rows(
    session: Session, imported: DataImport, parsed: list[_Parsed], actor: str
) -> list[_Parsed]:
    """Create and update the rows' profiles: the new ones written in bulk (COPY on
    PostgreSQL), the others through the ORM. The rows left for a second pass."""
    profiles = _profiles(
        session,
        {d.external_id for _, d, _ in parsed if d.external_id},
        {d.emails[0].address.lower() for _, d, _ in parsed if d.emails},
    )
    later: list[_Parsed] = []
    created: list[tuple[ProfileRows, ConsentIn | None]] = []
    consents: dict[uuid.UUID, tuple[ConsentIn, list[_Row]]] = {}
    for item, data, consent in parsed:
        try:
            profile = _upsert(session, profiles, item, data, actor)
        except _Later:
            later.append((item, data, consent))
            continue
        except ValueError as exc:
            item.fail(str(exc))
            continue
        if isinstance(profile, ProfileRows):
            created.append((profile, consent))
        elif consent is not None:
            # A later row of the same person wins, as it would have row by row.
            rows_of = consents.get(profile.id, (consent, []))[1]
            consents[profile.id] = (consent, [*rows_of, item])
    _write_profiles(session, imported, created, actor)
    session.flush()
    changed = record_consents(session, {cid: consent for cid, (consent, _) in consents.items()})
    for customer_id in changed:
        for item in consents[customer_id][1]:
            if item.outcome is RowOutcome.unchanged:
                item.outcome = RowOutcome.updated
    return later


def _write_profiles(
    session: Session,
    imported: DataImport,
    created: list[tuple[ProfileRows, ConsentIn | None]],
    actor: str,
) -> None:
    """New profiles, each table's rows in one bulk write, with their consent and the records
    of their creation."""
    org = imported.organization_id

    def owned(rows: list[dict[str, Any]], customer_id: uuid.UUID) -> list[dict[str, Any]]:
        return [{**row, "organization_id": org, "customer_id": customer_id} for row in rows]

    insert_rows(session, Customer, [{**p.customer, "organization_id": org} for p, _ in created])
    for model, part in (
        (CustomerEmail, "emails"),
        (CustomerPhone, "phones"),
        (CustomerAddress, "addresses"),
        (CustomerTag, "tags"),
    ):
        insert_rows(
            session,
            model,
            [row for p, _ in created for row in owned(getattr(p, part), p.customer["id"])],
        )
    businesses = [
        owned([p.business], p.customer["id"])[0] for p, _ in created if p.business is not None
    ]
    insert_rows(session, CustomerBusiness, businesses)
    records: dict[type[Base], list[Any]] = {Event: [], CustomerActivity: [], Consent: []}
    for profile, consent in created:
        customer_id = profile.customer["id"]
        made: list[Event | CustomerActivity | Consent] = [
            *created_records(customer_id, source="import", actor=actor, react=imported.react),
            *(new_consents(customer_id, consent) if consent is not None else []),
        ]
        for record in made:
            record.organization_id = org
            records[type(record)].append(record)
    for kind, objects in records.items():
        insert_rows(session, kind, objects)


def _upsert(
    session: Session,
    profiles: _Profiles,
    item: _Row,
    data: CustomerCreate,
    actor: str,
) -> Customer | ProfileRows:
    email = data.emails[0].address.lower() if data.emails else None
    by_external_id = profiles.by_external_id.get(data.external_id) if data.external_id else None
    by_email = profiles.by_email.get(email) if email else None
    if by_external_id is not None and by_email is not None and by_external_id is not by_email:
        raise ValueError("the email is the primary email of another customer")
    found = by_external_id or by_email
    if isinstance(found, ProfileRows):
        raise _Later
    if (
        by_external_id is None
        and isinstance(by_email, Customer)
        and by_email.external_id
        and data.external_id is not None
    ):
        raise ValueError("the email belongs to a customer with another external_id")
    if found is None:
        if data.external_id is None and email is None:
            raise ValueError("a row needs an external_id or an email to match a profile by")
        created = profile_rows(data)
        profiles.remember(created)
        item.outcome = RowOutcome.created
        return created
    if found.deleted_at is not None:
        raise ValueError("this customer is deleted; restore them first")
    changes = _changes(found, data, item.values)
    changed = bool(changes) and bool(
        change_customer(session, found, CustomerUpdate(**changes), actor=actor)
    )
    profiles.remember(found)
    item.outcome = RowOutcome.updated if changed else RowOutcome.unchanged
    return found


def _place(address: AddressIn | Any) -> tuple[str | None, ...]:
    return (
        address.line1,
        address.line2,
        address.city,
        address.region,
        address.postal_code,
        address.country,
    )


def _changes(customer: Customer, data: CustomerCreate, values: dict[str, str]) -> dict[str, Any]:
    """What the row adds to an existing profile: given fields that differ; a new email, phone
    or address becomes the primary one and the others stay; tags are added."""
    changes: dict[str, Any] = {}
    if ("name" in values or "first_name" in values or "last_name" in values) and (
        data.name.strip() != customer.name
    ):
        changes["name"] = data.name
    for name in ("birthday", "locale", "timezone"):
        if name in values and getattr(data, name) != getattr(customer, name):
            changes[name] = getattr(data, name)
    if data.external_id and customer.external_id is None:
        changes["external_id"] = data.external_id
    if data.emails:
        known = [e.email for e in customer.emails]
        address = data.emails[0].address.lower()
        if address != customer.primary_email:
            others = [e for e in known if e != address]
            changes["emails"] = [EmailIn(address=address, primary=True)] + [
                EmailIn(address=e) for e in others[:19]
            ]
    if data.phones:
        known_phones = [p.phone for p in customer.phones]
        number = data.phones[0].number
        if not customer.phones or customer.phones[0].phone != number:
            phones = [PhoneIn(number=p) for p in known_phones if p != number]
            changes["phones"] = [PhoneIn(number=number, primary=True), *phones[:19]]
    if data.addresses:
        new = data.addresses[0]
        primary = next((a for a in customer.addresses if a.is_primary), None)
        if primary is None or _place(primary) != _place(new):
            kept = [
                AddressIn.model_validate(a, from_attributes=True)
                for a in customer.addresses
                if _place(a) != _place(new)
            ]
            changes["addresses"] = [new.model_copy(update={"primary": True}), *kept][:20]
    if data.country and not customer.addresses and data.country != customer.country:
        changes["country"] = data.country
    if data.business is not None:
        current = customer.business
        wanted = data.business
        if current is None or (current.legal_name, current.tax_id, current.tax_country) != (
            wanted.legal_name,
            wanted.tax_id,
            wanted.tax_country,
        ):
            changes["business"] = BusinessIn(
                legal_name=wanted.legal_name,
                tax_id=wanted.tax_id,
                tax_country=wanted.tax_country,
                billing_contact=None,
            )
    have = {t.tag for t in customer.tags}
    if set(data.tags) - have:
        changes["tags"] = sorted(have | set(data.tags))
    attributes = {k: v for k, v in data.attributes.items() if customer.attributes.get(k) != v}
    if attributes:
        changes["attributes"] = attributes
    return changes


# -- orders --------------------------------------------------------------------------------------


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Order(BaseModel):
    paid: OrderPaidEvent
    refund: OrderRefundedEvent | None


def _order_of(lines: list[_Row], columns: dict[str, str]) -> _Order:
    """One order from its lines: the order's fields from its first line, an item per line."""
    first = lines[0].values
    labels = {name: columns.get(name, name) for name in ORDER_FIELDS}
    labels.update(
        {"product_id": labels["item_product_id"], "unit_price": labels["item_unit_price"]}
    )
    try:
        paid_at = _instant(first.get("paid_at"))
    except ValueError:
        raise ValueError(f"{labels['paid_at']}: not a date and time in ISO 8601") from None
    items = [
        {
            "product_id": line.values["item_product_id"],
            "variant_id": line.values.get("item_variant_id"),
            "name": line.values.get("item_name"),
            "quantity": line.values.get("item_quantity", "1"),
            "unit_price": line.values.get("item_unit_price"),
        }
        for line in lines
        if "item_product_id" in line.values
    ]
    customer = {
        "external_id": first.get("customer_external_id"),
        "email": None if "customer_external_id" in first else first.get("customer_email"),
    }
    try:
        properties = OrderPaidProperties.model_validate(
            {
                "order_id": first["order_id"],
                "amount": first.get("amount"),
                "currency": first.get("currency", "").upper(),
                "discount": first.get("discount", "0"),
                "shipping": first.get("shipping", "0"),
                "source": first.get("source"),
                "paid_at": paid_at,
                "items": items,
            }
        )
        ref = CustomerRef.model_validate(customer)
        paid = OrderPaidEvent(
            type="order.paid", customer=ref, occurred_at=paid_at, properties=properties
        )
        refund = None
        if "refunded_amount" in first:
            refunded = OrderRefundedProperties.model_validate(
                {
                    "order_id": properties.order_id,
                    "refund_id": IMPORTED_REFUND,
                    "amount": first["refunded_amount"],
                    "currency": properties.currency,
                }
            )
            if refunded.amount:
                refund = OrderRefundedEvent(
                    type="order.refunded", customer=ref, occurred_at=paid_at, properties=refunded
                )
    except ValidationError as exc:
        raise ValueError(_problem(exc, labels)) from None
    return _Order(paid=paid, refund=refund)


def _import_orders(session: Session, imported: DataImport, rows: list[_Row], actor: str) -> None:
    columns = {name: header for header, name in imported.mapping.items()}
    by_order: dict[str, list[_Row]] = {}
    for item in rows:
        order_id = item.values.get("order_id")
        if order_id is None:
            item.fail(f"{columns['order_id']}: blank")
            continue
        by_order.setdefault(order_id, []).append(item)
    parsed: list[tuple[list[_Row], _Order]] = []
    for lines in by_order.values():
        try:
            parsed.append((lines, _order_of(lines, columns)))
        except ValueError as exc:
            for line in lines:
                line.fail(str(exc))
    refs = [order.paid.customer for _, order in parsed]
    known = index_customers(
        session,
        ids=set(),
        external_ids={r.external_id for r in refs if r.external_id},
        emails={r.email for r in refs if r.email},
    )
    ready: list[tuple[list[_Row], _Order]] = []
    for lines, order in parsed:
        ref = order.paid.customer
        if known.find(None, ref.external_id, ref.email) is None:
            for line in lines:
                line.fail("no such customer: import the customers first")
        else:
            ready.append((lines, order))
    _record_orders(session, ready, as_history=not imported.react)


def _record_orders(
    session: Session, orders: list[tuple[list[_Row], _Order]], *, as_history: bool
) -> None:
    """Every order in one go; when one is refused, each in its own savepoint, so the refusal
    fails that order's lines only."""

    def record(batch: list[tuple[list[_Row], _Order]]) -> None:
        events = [e for _, o in batch for e in (o.paid, o.refund) if e is not None]
        accepted = iter(add_events(session, events, as_history=as_history))
        for lines, order in batch:
            paid = next(accepted)
            refund = next(accepted) if order.refund is not None else None
            fresh = not paid.duplicate or (refund is not None and not refund.duplicate)
            for line in lines:
                line.outcome = RowOutcome.created if fresh else RowOutcome.unchanged

    try:
        with session.begin_nested():
            record(orders)
        return
    except HeraldError:
        pass
    for lines, order in orders:
        try:
            with session.begin_nested():
                record([(lines, order)])
        except HeraldError as exc:
            for line in lines:
                line.fail(exc.detail)


# -- the error report ----------------------------------------------------------------------------


def error_report(session: Session, import_id: uuid.UUID) -> Iterator[str]:
    """The failed rows of the import (or of its latest dry run) as CSV: the line, why, and
    the row as uploaded."""
    imported = _get(session, import_id)
    outcome = ImportRow.outcome if imported.started_at else ImportRow.check_outcome
    out = CsvChunks()
    out.write(["line", "error", *imported.headers])
    yield out.take()
    after = 0
    while True:
        rows = session.execute(
            select(ImportRow.line, ImportRow.error, ImportRow.cells)
            .where(
                ImportRow.import_id == imported.id,
                outcome == RowOutcome.failed,
                ImportRow.line > after,
            )
            .order_by(ImportRow.line)
            .limit(5_000)
        ).all()
        if not rows:
            return
        for line, error, cells in rows:
            out.write([line, error, *cells])
        after = rows[-1].line
        yield out.take()
