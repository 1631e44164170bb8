"""Customers: the list (search, filters, sorts, statistics, export, bulk actions) and the
customer profile (record, orders, timeline, notes, points, consent and actions)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response

from console.web import (
    PageRoute,
    Staff,
    allowed,
    check_csrf,
    redirect,
    render,
    runtime_of,
    validated,
)
from herald.access.permissions import Permission
from herald.customers.schemas import CustomerQuery, NoteIn
from herald.dataops import actions as dataops
from herald.dataops.bulk import PERMISSIONS as BULK_PERMISSIONS
from herald.dataops.schemas import BulkIn, ExportIn
from herald.errors import Forbidden, InvalidInput
from herald.loyalty.schemas import AdjustmentIn
from herald.messaging import actions as messaging
from herald.messaging.messages import DirectSend
from herald.privacy import actions as privacy
from herald.profiles import actions as profiles

router = APIRouter(route_class=PageRoute, include_in_schema=False)
read = allowed(Permission.customers_read)
writes = [Depends(check_csrf)]

# The list's filter fields, as the form and the URL carry them.
FILTERS = (
    "q",
    "segment",
    "tag",
    "country",
    "min_lifetime_value",
    "max_lifetime_value",
    "min_orders",
    "max_orders",
    "last_order_after",
    "last_order_before",
)
SORTS = {"lifetime_value": "Lifetime value", "orders": "Orders", "last_order": "Last purchase"}


def _filters(values: Any) -> dict[str, str]:
    return {k: values[k] for k in FILTERS if values.get(k)}


def _query(request: Request) -> CustomerQuery:
    params = request.query_params
    data: dict[str, Any] = _filters(params)
    for key in ("sort", "cursor"):
        if params.get(key):
            data[key] = params[key]
    data["limit"] = 25
    query: CustomerQuery = validated(CustomerQuery, data)
    return query


def _sort_link(query: CustomerQuery, key: str) -> tuple[str, str | None]:
    """The column header's link (descending first, then ascending) and its aria-sort."""
    current = query.sort
    wanted = key if current == f"-{key}" else f"-{key}"
    state = None
    if current.lstrip("-") == key:
        state = "descending" if current.startswith("-") else "ascending"
    params = {**_filters(query.model_dump(mode="json")), "sort": wanted}
    return f"/customers?{urlencode(params)}", state


async def _table_context(request: Request, member: Staff) -> dict[str, Any]:
    query = _query(request)
    page = await profiles.customer_page(runtime_of(request), member.organization_id, query)
    filters = _filters(query.model_dump(mode="json"))
    next_url = None
    if page.next_cursor:
        next_url = "/customers?" + urlencode(
            {**filters, "sort": query.sort, "cursor": page.next_cursor}
        )
    return {
        "query": query,
        "page": page,
        "filters": filters,
        "sorts": {key: _sort_link(query, key) for key in SORTS},
        "sort_names": SORTS,
        "next_url": next_url,
        "first_url": "/customers?" + urlencode({**filters, "sort": query.sort})
        if query.cursor
        else None,
    }


@router.get("/customers")
async def customer_list(request: Request, member: Staff = Depends(read)) -> Response:
    context = await _table_context(request, member)
    choices = await profiles.pickers(
        runtime_of(request), member.organization_id, member.signed_in.principal
    )
    context.update(pickers=choices, nav="customers")
    if request.headers.get("HX-Target") == "customer-table":
        response = render(request, "customers/_table.html", {**context, "oob": True})
        response.headers["HX-Push-Url"] = str(request.url.path) + (
            f"?{request.url.query}" if request.url.query else ""
        )
        return response
    return render(request, "customers/list.html", context)


@router.get("/customers/stats")
async def customer_statistics(request: Request, member: Staff = Depends(read)) -> Response:
    stats = await profiles.statistics(runtime_of(request), member.organization_id)
    return render(request, "customers/_stats.html", {"stats": stats})


# --- export and bulk actions, with their progress --------------------------------------------


@router.post("/customers/export", dependencies=writes)
async def export_customers(
    request: Request, member: Staff = Depends(allowed(Permission.data_export))
) -> Response:
    form = await request.form()
    selection = _filters(form)
    data = validated(ExportIn, {"kind": "customers", "filter": selection})
    export = await dataops.start_export(
        runtime_of(request), member.organization_id, data, member.actor
    )
    return render(request, "customers/_export.html", {"export": export}, toast="Export started")


@router.get("/customers/exports/{export_id}")
async def export_progress(
    request: Request, export_id: uuid.UUID, member: Staff = Depends(allowed(Permission.data_export))
) -> Response:
    export = await dataops.get_export(runtime_of(request), member.organization_id, export_id)
    return render(request, "customers/_export.html", {"export": export})


@router.post("/customers/bulk", dependencies=writes)
async def bulk_action(request: Request, member: Staff = Depends(read)) -> Response:
    form = await request.form()
    action = str(form.get("action") or "")
    data: dict[str, Any] = {"action": action}
    chosen = [str(v) for v in form.getlist("customer_id")]
    if form.get("scope") == "filter":
        data["filter"] = _filters(form)
    elif chosen:
        data["customer_ids"] = chosen
    else:
        raise InvalidInput("tick the customers to act on, or choose all that match", field="scope")
    if action in ("tag", "untag"):
        data["tag"] = form.get("bulk_tag") or None
    elif action == "set_consent":
        data["consent"] = {str(form.get("channel") or "email"): form.get("consent")}
    elif action == "enroll":
        data["journey"] = form.get("journey") or None
    body: BulkIn = validated(BulkIn, data)
    if not member.may(BULK_PERMISSIONS[body.action]):
        raise Forbidden(f"your role may not {body.action.value.replace('_', ' ')} customers")
    bulk = await dataops.start_bulk(runtime_of(request), member.organization_id, body, member.actor)
    return render(request, "customers/_bulk.html", {"bulk": bulk}, toast="Bulk action started")


@router.get("/customers/bulk/{bulk_id}")
async def bulk_progress(
    request: Request, bulk_id: uuid.UUID, member: Staff = Depends(read)
) -> Response:
    bulk = await dataops.get_bulk(runtime_of(request), member.organization_id, bulk_id)
    return render(request, "customers/_bulk.html", {"bulk": bulk})


# --- the profile -------------------------------------------------------------------------------


@router.get("/customers/{customer_id}")
async def profile(
    request: Request, customer_id: uuid.UUID, member: Staff = Depends(read)
) -> Response:
    record = await profiles.record(runtime_of(request), member.signed_in.principal, customer_id)
    return render(
        request,
        "customers/profile.html",
        {"record": record, "c": record.customer, "nav": "customers", "send_key": uuid.uuid4()},
    )


@router.get("/customers/{customer_id}/timeline")
async def timeline(
    request: Request,
    customer_id: uuid.UUID,
    cursor: str | None = None,
    member: Staff = Depends(read),
) -> Response:
    page = await profiles.timeline(runtime_of(request), member.organization_id, customer_id, cursor)
    return render(
        request, "customers/_timeline.html", {"timeline": page, "customer_id": customer_id}
    )


async def _notes(request: Request, member: Staff, customer_id: uuid.UUID, toast: str) -> Response:
    notes = await profiles.notes(runtime_of(request), member.organization_id, customer_id)
    return render(
        request,
        "customers/_notes.html",
        {"notes": notes, "customer_id": customer_id},
        toast=toast,
    )


@router.post("/customers/{customer_id}/notes", dependencies=writes)
async def add_note(
    request: Request,
    customer_id: uuid.UUID,
    body: Annotated[str, Form(max_length=10_000)] = "",
    pinned: Annotated[bool, Form()] = False,
    member: Staff = Depends(allowed(Permission.customers_update)),
) -> Response:
    note: NoteIn = validated(NoteIn, {"body": body, "pinned": pinned})
    await profiles.add_note(runtime_of(request), member.signed_in.principal, customer_id, note)
    return await _notes(request, member, customer_id, "Note added")


@router.post("/customers/{customer_id}/notes/{note_id}/pin", dependencies=writes)
async def pin_note(
    request: Request,
    customer_id: uuid.UUID,
    note_id: uuid.UUID,
    pinned: Annotated[bool, Form()],
    member: Staff = Depends(allowed(Permission.customers_update)),
) -> Response:
    await profiles.pin_note(
        runtime_of(request), member.signed_in.principal, customer_id, note_id, pinned
    )
    return await _notes(request, member, customer_id, "Note pinned" if pinned else "Note unpinned")


@router.post("/customers/{customer_id}/messages", dependencies=writes)
async def send_message(
    request: Request,
    customer_id: uuid.UUID,
    template_id: Annotated[str, Form(max_length=36)] = "",
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
    member: Staff = Depends(allowed(Permission.messages_send)),
) -> Response:
    if not template_id:
        raise InvalidInput("choose a template", field="template_id")
    data = {"template_id": template_id, "idempotency_key": idempotency_key}
    body: DirectSend = validated(DirectSend, {k: v for k, v in data.items() if v})
    message = await messaging.send_to_customer(
        runtime_of(request), member.organization_id, customer_id, body
    )
    return render(
        request,
        "customers/_sent.html",
        {"message": message, "customer_id": customer_id, "send_key": uuid.uuid4()},
        toast=f"Message {message.status.value}",
    )


@router.post("/customers/{customer_id}/points", dependencies=writes)
async def adjust_points(
    request: Request,
    customer_id: uuid.UUID,
    points: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    member: Staff = Depends(allowed(Permission.loyalty_adjust)),
) -> Response:
    change: AdjustmentIn = validated(AdjustmentIn, {"points": points or None, "reason": reason})
    runtime = runtime_of(request)
    await profiles.adjust_points(runtime, member.signed_in.principal, customer_id, change)
    balance = await profiles.points(runtime, member.organization_id, customer_id)
    return render(
        request,
        "customers/_points.html",
        {"points": balance, "customer_id": customer_id},
        toast=f"Points adjusted by {change.points:+,}",
    )


@router.post("/customers/{customer_id}/delete", dependencies=writes)
async def delete(
    request: Request,
    customer_id: uuid.UUID,
    member: Staff = Depends(allowed(Permission.customers_delete)),
) -> Response:
    await profiles.delete_customer(runtime_of(request), member.signed_in.principal, customer_id)
    return redirect(request, "/customers", toast="Customer deleted (restorable from the API)")


@router.get("/customers/{customer_id}/personal-data")
async def personal_data(
    request: Request,
    customer_id: uuid.UUID,
    member: Staff = Depends(allowed(Permission.personal_data_export)),
) -> Response:
    archive = await privacy.export(runtime_of(request), member.organization_id, customer_id)
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.zip"'},
    )


@router.post("/customers/{customer_id}/erase", dependencies=writes)
async def erase(
    request: Request,
    customer_id: uuid.UUID,
    member: Staff = Depends(allowed(Permission.personal_data_erase)),
) -> Response:
    await privacy.erase(runtime_of(request), member.organization_id, customer_id, member.actor)
    return redirect(request, "/customers", toast="Customer erased")
