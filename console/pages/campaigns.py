"""Campaigns: the list (filters, rates, a calendar), starting one from the template library,
the builder (recipients with their count, each variant's content in its channel's composer and
per language, the A/B test, preview at desktop and phone widths, a test send, send now or at a
time), and a campaign's page (its send's live progress, steering, per-variant results with
the winner's reasons, duplicate, archive, export).

The email composer is the block editor island (``static/email-editor.js`` on SortableJS); it
posts a block design, which the domain turns into the stored HTML."""

from __future__ import annotations

import calendar as month_grid
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response

from console import campaign_form as form_values
from console.web import (
    PageRoute,
    Staff,
    allowed,
    check_csrf,
    form_text,
    redirect,
    render,
    runtime_of,
    validated,
)
from herald.access.permissions import Permission
from herald.campaigns import actions
from herald.campaigns.contracts import CampaignStatus, Metric
from herald.campaigns.models import ACTIVE, ARCHIVABLE
from herald.campaigns.schemas import (
    Audience,
    CampaignFilters,
    CampaignStart,
    CampaignUpdate,
)
from herald.errors import InvalidInput
from herald.messaging import actions as messaging
from herald.messaging.messages import TestSendRequest
from herald.messaging.models import Channel
from herald.messaging.schemas import PreviewRequest, SampleContext
from herald.messaging.sms import sms_parts

router = APIRouter(route_class=PageRoute, include_in_schema=False)
read = allowed(Permission.campaigns_read)
write = allowed(Permission.campaigns_write)
operate = allowed(Permission.campaigns_send)
writes = [Depends(check_csrf)]
HOME = "/marketing/campaigns"
FILTERS = ("status", "channel", "since", "until")
# Phone and desktop preview widths (CSS pixels).
PREVIEW_WIDTHS = {"desktop": 680, "phone": 390}


def _page(key: str) -> str:
    return f"{HOME}/{key}"


def _builder_at(key: str, form: Any) -> str:
    """The builder again, on the variant and language the form was sent from."""
    shown = {k: form_text(form, k) for k in ("variant", "locale") if form_text(form, k)}
    return f"{_page(key)}/edit" + (f"?{urlencode(shown)}" if shown else "")


def _filters(request: Request) -> tuple[dict[str, str], CampaignFilters]:
    params = request.query_params
    given = {k: params[k].strip() for k in FILTERS if params.get(k, "").strip()}
    values: dict[str, Any] = {k: v for k, v in given.items() if k in ("status", "channel")}
    for name in ("since", "until"):
        if name in given:
            try:
                day = date.fromisoformat(given[name])
            except ValueError as exc:
                raise InvalidInput("not a date (YYYY-MM-DD)", field=name) from exc
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            values[name] = moment + timedelta(days=1) if name == "until" else moment
    return given, validated(CampaignFilters, values)


def _month(request: Request) -> date:
    raw = request.query_params.get("month", "")
    if not raw:
        return datetime.now(UTC).date().replace(day=1)
    try:
        return date.fromisoformat(f"{raw}-01")
    except ValueError as exc:
        raise InvalidInput("not a month (YYYY-MM)", field="month") from exc


def _calendar_weeks(first: date, items: list[Any]) -> list[list[tuple[date, list[Any]]]]:
    """The month as weeks from Monday, each day with the campaigns going out on it."""
    by_day: dict[date, list[Any]] = {}
    for item in items:
        moment = item.send_at or item.started_at or item.created_at
        by_day.setdefault(moment.astimezone(UTC).date(), []).append(item)
    weeks = month_grid.Calendar().monthdatescalendar(first.year, first.month)
    return [[(d, by_day.get(d, [])) for d in week] for week in weeks]


@router.get(HOME)
async def campaign_list(request: Request, member: Staff = Depends(read)) -> Response:
    runtime = runtime_of(request)
    given, filters = _filters(request)
    context: dict[str, Any] = {
        "filters": given,
        "statuses": list(CampaignStatus),
        "channels": list(Channel),
        "nav": "campaigns",
    }
    if request.query_params.get("view") == "calendar":
        first = _month(request)
        last = (first + timedelta(days=32)).replace(day=1)
        shown = filters.model_copy(
            update={
                "since": datetime(first.year, first.month, 1, tzinfo=UTC),
                "until": datetime(last.year, last.month, 1, tzinfo=UTC),
            }
        )
        items = await actions.calendar(runtime, member.organization_id, shown)
        return render(
            request,
            "campaigns/calendar.html",
            {
                **context,
                "month": first,
                "weeks": _calendar_weeks(first, items),
                "previous": (first - timedelta(days=1)).strftime("%Y-%m"),
                "next": last.strftime("%Y-%m"),
            },
        )
    page = await actions.campaign_page(
        runtime, member.organization_id, filters, request.query_params.get("cursor") or None
    )
    next_url = (
        f"{HOME}?{urlencode({**given, 'cursor': page.next_cursor})}" if page.next_cursor else None
    )
    context.update(page=page, next_url=next_url)
    if request.headers.get("HX-Target") == "campaigns":
        return render(request, "campaigns/_rows.html", context)
    return render(request, "campaigns/list.html", context)


@router.get(f"{HOME}/new")
async def new_campaign(
    request: Request, channel: str = "email", member: Staff = Depends(write)
) -> Response:
    if channel not in Channel.__members__:
        raise InvalidInput("no such channel", field="channel")
    choices = await actions.builder_choices(runtime_of(request), member.organization_id)
    return render(
        request,
        "campaigns/new.html",
        {
            "channel": Channel(channel),
            "channels": list(Channel),
            "choices": choices,
            "audience": {"audience_kind": "segment"},
            "nav": "campaigns",
        },
    )


async def _audience(request: Request, member: Staff, form: Any) -> dict[str, Any]:
    chosen = await actions.chosen_customers(
        runtime_of(request), member.organization_id, form_values.customer_references(form)
    )
    return form_values.audience(form, chosen)


@router.post(HOME, dependencies=writes)
async def start(request: Request, member: Staff = Depends(write)) -> Response:
    form = await request.form()
    source = form_text(form, "source")
    kind, _, key = source.partition(":")
    data: CampaignStart = validated(
        CampaignStart,
        {
            "name": form_text(form, "name"),
            "channel": form_text(form, "channel"),
            "audience": await _audience(request, member, form),
            "starter": key if kind == "starter" else None,
            "template": key if kind == "template" else None,
        },
    )
    started = await actions.start(runtime_of(request), member.organization_id, data)
    return redirect(request, f"{_page(started.key)}/edit", toast="Draft saved")


@router.post(f"{HOME}/audience-size", dependencies=writes)
async def audience_size(request: Request, member: Staff = Depends(read)) -> Response:
    """The live count beside the recipients form (a fragment; a form not yet complete says
    what it lacks instead of a number)."""
    form = await request.form()
    try:
        audience = validated(Audience, await _audience(request, member, form))
        size: int | None = await actions.audience_size(
            runtime_of(request), member.organization_id, audience
        )
        problem = None
    except InvalidInput as exc:
        size, problem = None, exc.detail
    return render(request, "campaigns/_audience_size.html", {"size": size, "problem": problem})


@router.get(f"{HOME}/{{key}}")
async def campaign_page(request: Request, key: str, member: Staff = Depends(read)) -> Response:
    campaign, report = await actions.campaign_with_results(
        runtime_of(request), member.organization_id, key
    )
    return render(
        request,
        "campaigns/page.html",
        {
            "c": campaign,
            "report": report,
            "active": campaign.status in ACTIVE,
            "archivable": campaign.status in ARCHIVABLE,
            "nav": "campaigns",
        },
    )


@router.get(f"{HOME}/{{key}}/progress")
async def progress(request: Request, key: str, member: Staff = Depends(read)) -> Response:
    """The send's progress and results, polled while it runs; once it has ended the fragment
    stops asking (the whole page reloads once to show the final state)."""
    campaign, report = await actions.campaign_with_results(
        runtime_of(request), member.organization_id, key
    )
    response = render(
        request,
        "campaigns/_progress.html",
        {"c": campaign, "report": report, "active": campaign.status in ACTIVE},
    )
    if campaign.status not in ACTIVE and request.query_params.get("was") == "active":
        response.headers["HX-Refresh"] = "true"
    return response


@router.get(f"{HOME}/{{key}}/report.csv")
async def report_csv(request: Request, key: str, member: Staff = Depends(read)) -> Response:
    text = await actions.report_csv(runtime_of(request), member.organization_id, key)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{key}.csv"'},
    )


@router.get(f"{HOME}/{{key}}/edit")
async def builder(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    runtime = runtime_of(request)
    view = await actions.draft_view(runtime, member.organization_id, key)
    if view.campaign.status is not CampaignStatus.draft:
        return redirect(request, _page(key), toast="Only a draft is edited; this one has gone out")
    names = [v.name for v in view.variants]
    variant_name = request.query_params.get("variant") or names[0]
    variant = next((v for v in view.variants if v.name == variant_name), view.variants[0])
    locale = request.query_params.get("locale") or variant.template.default_locale
    content = variant.template.variants.get(locale)
    choices = await actions.builder_choices(runtime, member.organization_id)
    return render(
        request,
        "campaigns/builder.html",
        {
            "view": view,
            "c": view.campaign,
            "variant": variant,
            "locale": locale,
            "content": content,
            "new_locale": content is None,
            "audience": form_values.audience_values(view.campaign.audience),
            "choices": choices,
            "metrics": list(Metric),
            "widths": PREVIEW_WIDTHS,
            "nav": "campaigns",
        },
    )


@router.post(f"{HOME}/{{key}}/details", dependencies=writes)
async def save_details(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    form = await request.form()
    change: CampaignUpdate = validated(
        CampaignUpdate,
        {
            "name": form_text(form, "name"),
            "audience": await _audience(request, member, form),
        },
    )
    await actions.update(runtime_of(request), member.organization_id, key, change)
    return redirect(request, _builder_at(key, form), toast="Recipients saved")


@router.post(f"{HOME}/{{key}}/ab", dependencies=writes)
async def save_ab(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    form = await request.form()
    change: CampaignUpdate = validated(CampaignUpdate, {"ab": form_values.ab_test(form)})
    if change.ab is None:  # the field given as null: the test is switched off
        change = CampaignUpdate.model_validate({"ab": None})
    await actions.update(runtime_of(request), member.organization_id, key, change)
    return redirect(request, f"{_builder_at(key, form)}#ab", toast="A/B test saved")


@router.post(f"{HOME}/{{key}}/variants", dependencies=writes)
async def add_variant(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    changed = await actions.add_variant(runtime_of(request), member.organization_id, key)
    added = changed.variants[-1].name
    return redirect(request, f"{_page(key)}/edit?variant={added}", toast=f"Variant {added} added")


@router.post(f"{HOME}/{{key}}/variants/{{name}}/delete", dependencies=writes)
async def remove_variant(
    request: Request, key: str, name: str, member: Staff = Depends(write)
) -> Response:
    await actions.remove_variant(runtime_of(request), member.organization_id, key, name)
    return redirect(request, f"{_page(key)}/edit", toast=f"Variant {name} removed")


@router.post(f"{HOME}/{{key}}/variants/{{name}}/content", dependencies=writes)
async def save_content(
    request: Request, key: str, name: str, member: Staff = Depends(write)
) -> Response:
    form = await request.form()
    locale = form_text(form, "locale")
    channel = Channel(form_text(form, "channel"))
    try:
        await actions.set_variant_content(
            runtime_of(request),
            member.organization_id,
            key,
            name,
            locale,
            form_values.content(channel, form),
        )
    except InvalidInput as problem:
        raise form_values.located(problem) from problem
    if form.get("added"):  # a new language: reload, so its tab appears
        return redirect(
            request, f"{_page(key)}/edit?variant={name}&locale={locale}", toast="Language added"
        )
    # The preview listens for herald:saved and renders the saved content again.
    trigger = {"herald:toast": {"message": "Content saved"}, "herald:saved": {}}
    return Response(status_code=204, headers={"HX-Trigger": json.dumps(trigger)})


@router.post(f"{HOME}/{{key}}/variants/{{name}}/locales/{{locale}}/delete", dependencies=writes)
async def remove_locale(
    request: Request, key: str, name: str, locale: str, member: Staff = Depends(write)
) -> Response:
    await actions.remove_variant_locale(
        runtime_of(request), member.organization_id, key, name, locale
    )
    return redirect(request, f"{_page(key)}/edit?variant={name}", toast=f"{locale} removed")


@router.get(f"{HOME}/{{key}}/variants/{{name}}/preview")
async def preview(
    request: Request,
    key: str,
    name: str,
    locale: str = "",
    customer: str = "",
    width: str = "desktop",
    member: Staff = Depends(read),
) -> Response:
    """The variant rendered as a recipient would see it: for a chosen customer (by email or
    id), else with sample data; in a frame as wide as a desktop mail app or a phone."""
    runtime = runtime_of(request)
    template_id = await actions.variant_template_id(runtime, member.organization_id, key, name)
    customer_id = (
        await actions.preview_for(runtime, member.organization_id, customer)
        if customer.strip()
        else None
    )
    body = PreviewRequest(
        locale=locale or None,
        customer_id=customer_id,
        sample=None if customer_id else SampleContext(customer=SAMPLE_CUSTOMER),
    )
    rendered = await messaging.preview(runtime, member.organization_id, template_id, body)
    return render(
        request,
        "campaigns/_preview.html",
        {
            "rendered": rendered,
            "sms": sms_parts(rendered.content["body"]) if "body" in rendered.content else None,
            "width": width if width in PREVIEW_WIDTHS else "desktop",
            "widths": PREVIEW_WIDTHS,
            "customer": customer,
        },
    )


# What a preview without a chosen customer shows for the customer's fields.
SAMPLE_CUSTOMER = {
    "name": "Alex Sample",
    "first_name": "Alex",
    "email": "alex@example.com",
    "points": 1250,
    "tags": ["vip"],
    "orders": 4,
    "lifetime_value": "312.50",
}


@router.post(f"{HOME}/{{key}}/variants/{{name}}/test", dependencies=writes)
async def test_send(
    request: Request, key: str, name: str, member: Staff = Depends(write)
) -> Response:
    form = await request.form()
    to = form_text(form, "to")
    if not to:
        raise InvalidInput("give an address to send the test to", field="to")
    runtime = runtime_of(request)
    template_id = await actions.variant_template_id(runtime, member.organization_id, key, name)
    customer = form_text(form, "customer")
    as_customer = (
        {"customer_id": await actions.preview_for(runtime, member.organization_id, customer)}
        if customer
        else {"sample_customer": SAMPLE_CUSTOMER}
    )
    sent = await messaging.test_send(
        runtime,
        member.organization_id,
        template_id,
        validated(TestSendRequest, {"to": to, **as_customer}),
    )
    outcome = f"Test sent to {to}" if sent.status.value != "skipped" else sent.status_reason
    return render(
        request,
        "campaigns/_test_sent.html",
        {"message": sent},
        toast=outcome or f"Test {sent.status.value}",
    )


@router.post(f"{HOME}/{{key}}/send", dependencies=writes)
async def send(request: Request, key: str, member: Staff = Depends(operate)) -> Response:
    form = await request.form()
    runtime = runtime_of(request)
    at = form_values.send_at(form)
    await actions.update(
        runtime, member.organization_id, key, CampaignUpdate.model_validate({"send_at": at})
    )
    sent = await actions.send(runtime, member.organization_id, key)
    toast = "Scheduled" if sent.status is CampaignStatus.scheduled else "Sending"
    return redirect(request, _page(key), toast=toast)


@router.post(f"{HOME}/{{key}}/steer/{{action}}", dependencies=writes)
async def steer(
    request: Request, key: str, action: actions.SendAction, member: Staff = Depends(operate)
) -> Response:
    await actions.steer(runtime_of(request), member.organization_id, key, action)
    done = {"pause": "Pausing", "resume": "Resumed", "cancel": "Cancelling"}[action.value]
    return redirect(request, _page(key), toast=done)


@router.post(f"{HOME}/{{key}}/duplicate", dependencies=writes)
async def duplicate(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    copy = await actions.duplicate(runtime_of(request), member.organization_id, key)
    return redirect(request, f"{_page(copy.key)}/edit", toast=f"Copied as {copy.name}")


@router.post(f"{HOME}/{{key}}/archive", dependencies=writes)
async def archive(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    await actions.archive(runtime_of(request), member.organization_id, key)
    return redirect(request, HOME, toast="Archived")


@router.post(f"{HOME}/{{key}}/unarchive", dependencies=writes)
async def unarchive(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    await actions.unarchive(runtime_of(request), member.organization_id, key)
    return redirect(request, _page(key), toast="Restored from the archive")


@router.post(f"{HOME}/{{key}}/delete", dependencies=writes)
async def delete(request: Request, key: str, member: Staff = Depends(write)) -> Response:
    await actions.delete(runtime_of(request), member.organization_id, key)
    return redirect(request, HOME, toast="Draft deleted")
