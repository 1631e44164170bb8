"""Segments: the saved segments with their last size, starting one from a template, the
builder (a rule as nested groups of conditions, previewed live), a segment's members, its size
over time and its export, and two segments compared.

The builder's form is translated to and from a rule by ``console.segment_form``; whether a
rule is valid, who matches it and what may be saved are the domain's answers."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from console import segment_form
from console.segment_form import Node
from console.web import PageRoute, Staff, allowed, check_csrf, redirect, render, runtime_of
from console.web import validated as validated_model
from herald.access.permissions import Permission
from herald.errors import InvalidInput
from herald.segments import actions
from herald.segments.rules import Rule
from herald.segments.schemas import SegmentIn, SegmentSizePoint, SegmentUpdate

router = APIRouter(route_class=PageRoute, include_in_schema=False)
read = allowed(Permission.segments_read)
write = allowed(Permission.segments_write)
writes = [Depends(check_csrf)]

# The size chart's days and drawing box (SVG user units; it scales to the page's width).
SIZE_DAYS = 90
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 340, 170, 28


@router.get("/customers/segments")
async def segment_list(request: Request, member: Staff = Depends(read)) -> Response:
    rows = await actions.segment_rows(runtime_of(request), member.organization_id)
    return render(
        request,
        "segments/list.html",
        {"rows": rows, "templates": actions.templates(), "nav": "segments"},
    )


@router.get("/customers/segments/compare")
async def compare(
    request: Request, a: str = "", b: str = "", member: Staff = Depends(read)
) -> Response:
    """The page names the two segments at once; their figures, which count both over every
    customer, load after it (``compare/figures``) behind an indicator."""
    if not a or not b:
        raise InvalidInput("choose two segments to compare", field="b" if a else "a")
    runtime = runtime_of(request)
    first = await actions.get_segment(runtime, member.organization_id, a)
    second = await actions.get_segment(runtime, member.organization_id, b)
    return render(
        request,
        "segments/compare.html",
        {"a": first, "b": second, "nav": "segments"},
    )


@router.get("/customers/segments/compare/figures")
async def compare_figures(
    request: Request, a: str = "", b: str = "", member: Staff = Depends(read)
) -> Response:
    runtime = runtime_of(request)
    comparison = await actions.compare(runtime, member.organization_id, a, b)
    first = await actions.get_segment(runtime, member.organization_id, a)
    second = await actions.get_segment(runtime, member.organization_id, b)
    return render(
        request,
        "segments/_compare_figures.html",
        {"c": comparison, "name_a": first.name, "name_b": second.name},
    )


@router.get("/customers/segments/new")
async def new_segment(
    request: Request, template: str = "", member: Staff = Depends(write)
) -> Response:
    chosen = next((t for t in actions.templates() if t.key == template), None)
    draft = segment_form.from_rule(chosen.rule) if chosen else _starting_draft()
    values = (
        {"name": chosen.name, "key": chosen.key, "description": chosen.description}
        if chosen
        else {}
    )
    return await _editor(request, member, draft, values=values, segment=None)


@router.post("/customers/segments", dependencies=writes)
async def create(request: Request, member: Staff = Depends(write)) -> Response:
    form = await request.form()
    rule = _rule_of(form)
    data: SegmentIn = validated_model(
        SegmentIn,
        {
            "key": str(form.get("key") or "").strip(),
            "name": str(form.get("name") or "").strip(),
            "description": str(form.get("description") or ""),
            "track_entries": form.get("track_entries") == "true",
            "rule": rule,
        },
    )
    saved = await actions.create_segment(runtime_of(request), member.organization_id, data)
    return redirect(request, f"/customers/segments/{saved.key}", toast="Segment saved")


@router.post("/customers/segments/builder", dependencies=writes)
async def builder(request: Request, member: Staff = Depends(write)) -> Response:
    """The builder again after a change of shape: a condition added, removed or of another
    kind (values typed so far are kept)."""
    form = await request.form()
    draft = segment_form.from_form(form)
    edit = str(form.get("edit") or "")
    if edit.startswith("add:") and edit.count(":") == 1:
        # The group's "Add" button names the group; its picker says what to add.
        edit = f"{edit}:{form.get('new.' + edit[4:]) or 'tag'}"
    draft = segment_form.edited(draft, edit)
    choices = await actions.rule_choices(runtime_of(request), member.organization_id)
    return render(request, "segments/_builder.html", _builder_context(draft, choices))


@router.post("/customers/segments/preview", dependencies=writes)
async def preview(request: Request, member: Staff = Depends(read)) -> Response:
    """Who the rule being built matches now, or what keeps it from being a rule yet."""
    draft = segment_form.from_form(await request.form())
    result = segment_form.checked(draft)
    found = None
    if result.rule is not None:
        found = await actions.preview(runtime_of(request), member.organization_id, result.rule)
    return render(
        request,
        "segments/_preview.html",
        {"preview": found, "problem": result.problem, "where": _where(draft)},
    )


@router.get("/customers/segments/{segment}")
async def segment_page(request: Request, segment: str, member: Staff = Depends(read)) -> Response:
    view = await actions.segment_view(
        runtime_of(request), member.organization_id, segment, SIZE_DAYS
    )
    found = view.segment
    context = {
        "sizes": view.sizes.items,
        "chart": size_chart(view.sizes.items),
        "members": view.members,
        "editable": segment_form.shows_all_of(found.rule),
    }
    values = {"name": found.name, "key": found.key, "description": found.description}
    draft = segment_form.from_rule(found.rule)
    return await _editor(request, member, draft, values=values, segment=found, extra=context)


@router.get("/customers/segments/{segment}/members")
async def member_page(
    request: Request, segment: str, cursor: str | None = None, member: Staff = Depends(read)
) -> Response:
    page = await actions.members(runtime_of(request), member.organization_id, segment, cursor)
    return render(request, "segments/_members.html", {"members": page, "key": segment})


@router.post("/customers/segments/{segment}", dependencies=writes)
async def update(request: Request, segment: str, member: Staff = Depends(write)) -> Response:
    form = await request.form()
    data: SegmentUpdate = validated_model(
        SegmentUpdate,
        {
            "name": str(form.get("name") or "").strip(),
            "description": str(form.get("description") or ""),
            "track_entries": form.get("track_entries") == "true",
            # Without the builder (a rule it cannot show) the saved rule stays as it is.
            "rule": _rule_of(form) if f"{segment_form.ROOT}.node" in form else None,
        },
    )
    saved = await actions.update_segment(runtime_of(request), member.organization_id, segment, data)
    return redirect(request, f"/customers/segments/{saved.key}", toast="Segment saved")


@router.post("/customers/segments/{segment}/delete", dependencies=writes)
async def delete(request: Request, segment: str, member: Staff = Depends(write)) -> Response:
    await actions.delete_segment(runtime_of(request), member.organization_id, segment)
    return redirect(request, "/customers/segments", toast="Segment deleted")


@router.get("/customers/segments/{segment}/export.csv")
async def export(request: Request, segment: str, member: Staff = Depends(read)) -> Response:
    key, rows = await actions.export_csv(runtime_of(request), member.organization_id, segment)
    # Starlette iterates a plain iterator on a worker thread.
    return StreamingResponse(
        rows,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{key}.csv"'},
    )


# --- helpers -----------------------------------------------------------------------------------


def _starting_draft() -> Node:
    """A new segment starts with one empty condition to fill in."""
    return segment_form.edited(segment_form.empty_draft(), f"add:{segment_form.ROOT}:tag")


def _rule_of(form: Any) -> Rule:
    result = segment_form.checked(segment_form.from_form(form))
    if result.rule is None:
        raise InvalidInput(f"the rule is not complete: {result.problem}", field="rule")
    return result.rule


def _where(draft: Node) -> str | None:
    """Where the draft's first complaint is, in words ("condition 2 of the top group")."""
    stack = [draft]
    while stack:
        node = stack.pop(0)
        if node.error is not None:
            return _place(node.path)
        stack.extend(node.children)
    return None


def _place(path: str) -> str:
    steps = path.split(".")[1:]
    if not steps:
        return "the top group"
    return " in ".join(f"condition {int(step) + 1}" for step in reversed(steps))


def _builder_context(draft: Node, choices: actions.RuleChoices) -> dict[str, Any]:
    return {
        "draft": draft,
        "choices": choices,
        "groups": segment_form.GROUPS,
        "conditions": segment_form.CONDITIONS,
        "options": segment_form.OPTIONS,
    }


async def _editor(
    request: Request,
    member: Staff,
    draft: Node,
    *,
    values: dict[str, str],
    segment: Any,
    extra: dict[str, Any] | None = None,
) -> Response:
    choices = await actions.rule_choices(runtime_of(request), member.organization_id)
    context = {
        **_builder_context(draft, choices),
        "values": values,
        "segment": segment,
        "nav": "segments",
        **(extra or {}),
    }
    return render(request, "segments/edit.html", context)


def size_chart(points: list[SegmentSizePoint]) -> dict[str, Any] | None:
    """The size over time as an SVG polyline: x by day, y by size from zero to the largest."""
    if not points:
        return None
    first: date = points[0].day
    span = max(1, (points[-1].day - first).days)
    top = max(1, max(p.size for p in points))
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD

    def xy(point: SegmentSizePoint) -> tuple[float, float]:
        x = CHART_PAD + inner_w * (point.day - first).days / span
        y = CHART_PAD + inner_h * (1 - point.size / top)
        return round(x, 1), round(y, 1)

    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "pad": CHART_PAD,
        "points": " ".join(f"{x},{y}" for x, y in map(xy, points)),
        "dots": [(*xy(p), p) for p in points],
        "top": top,
        "first": first,
        "last": points[-1].day,
    }
