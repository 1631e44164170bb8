"""The loyalty program: its figures (members per tier, points issued, redeemed and expired by
month, what members hold), how points are earned, the tier ladder, the reward catalog, the
birthday, referral and expiry settings, and the members with their balances and tiers, whose
points an owner or manager can correct with a reason."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData

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
from herald.loyalty import actions
from herald.loyalty.analytics import NO_TIER
from herald.loyalty.models import RewardKind, Rounding, TierBasis
from herald.loyalty.schemas import (
    AdjustmentIn,
    LoyaltySettingsIn,
    RewardCreate,
    RewardUpdate,
    TierLadderIn,
)
from herald.profiles import actions as profiles

router = APIRouter(route_class=PageRoute, include_in_schema=False)
read = allowed(Permission.loyalty_read)
configure = allowed(Permission.loyalty_configure)
adjust = allowed(Permission.loyalty_adjust)
writes = [Depends(check_csrf)]
HOME = "/marketing/loyalty"
TABS = ("overview", "earning", "tiers", "rewards", "members")
# The settings each form of the page carries; the others keep their values.
SETTINGS_SECTIONS = {
    "earning": ("points_per_unit", "rounding", "journey_points_per_run", "redemption_hold_minutes"),
    "birthday": ("birthday_enabled", "birthday_points", "birthday_reward_id"),
    "referral": ("referral_points_referrer", "referral_points_referred"),
    "expiry": ("points_expire_after_days", "expiry_notice_days"),
}
# Empty rows the tier form offers for new rungs.
BLANK_TIERS = 2


def _tab(section: str) -> str:
    return f"{HOME}?tab={section}"


async def _members(request: Request, member: Staff) -> dict[str, Any]:
    params = request.query_params
    q = params.get("q", "").strip() or None
    tier = params.get("tier", "").strip() or None
    page = await actions.member_page(
        runtime_of(request), member.organization_id, q, tier, params.get("cursor") or None
    )
    filters = {k: v for k, v in (("q", q), ("tier", tier)) if v}
    next_url = None
    if page.next_cursor:
        next_url = f"{HOME}?{urlencode({'tab': 'members', **filters, 'cursor': page.next_cursor})}"
    return {"members": page, "filters": filters, "next_url": next_url}


@router.get(HOME)
async def loyalty(request: Request, member: Staff = Depends(read)) -> Response:
    tab = request.query_params.get("tab", "overview")
    tab = tab if tab in TABS else "overview"
    context: dict[str, Any] = {}
    if tab == "members":
        context = await _members(request, member)
        if request.headers.get("HX-Target") == "members":
            return render(request, "loyalty/_members.html", context)
    program = await actions.program(runtime_of(request), member.organization_id)
    return render(
        request,
        "loyalty/page.html",
        {
            **context,
            "tab": tab,
            "tabs": TABS,
            "p": program,
            "roundings": list(Rounding),
            "bases": list(TierBasis),
            "kinds": list(RewardKind),
            "blank_tiers": BLANK_TIERS,
            "no_tier": NO_TIER,
            "nav": "loyalty",
        },
    )


def _setting_value(name: str, form: FormData) -> Any:
    if name == "birthday_enabled":
        return bool(form.get(name))
    value = form_text(form, name)
    if name == "points_expire_after_days" and value == "":
        return 0  # no expiry
    return value or None


@router.post(f"{HOME}/settings/{{section}}", dependencies=writes)
async def save_settings(
    request: Request, section: str, member: Staff = Depends(configure)
) -> Response:
    if section not in SETTINGS_SECTIONS:
        return redirect(request, HOME)
    form = await request.form()
    runtime = runtime_of(request)
    current = (await actions.program(runtime, member.organization_id)).settings
    values = {
        "points_per_unit": current.points_per_unit,
        "rounding": current.rounding,
        **{name: _setting_value(name, form) for name in SETTINGS_SECTIONS[section]},
    }
    change: LoyaltySettingsIn = validated(LoyaltySettingsIn, values)
    await actions.put_settings(runtime, member.organization_id, change)
    return redirect(request, _tab("earning"), toast="Settings saved")


def _tier_rows(form: FormData) -> list[dict[str, str]]:
    """The ladder's rows as typed: a row without a name, or marked to remove, is left out."""
    rows = []
    for index in range(int(form_text(form, "rows") or "0")):
        name = form_text(form, f"name_{index}")
        if not name or form.get(f"remove_{index}"):
            continue
        rows.append(
            {
                "name": name,
                "threshold": form_text(form, f"threshold_{index}") or "0",
                "multiplier": form_text(form, f"multiplier_{index}") or "1",
            }
        )
    return rows


@router.post(f"{HOME}/tiers", dependencies=writes)
async def save_tiers(request: Request, member: Staff = Depends(configure)) -> Response:
    form = await request.form()
    ladder: TierLadderIn = validated(
        TierLadderIn,
        {
            "basis": form_text(form, "basis"),
            "period_days": form_text(form, "period_days") or "365",
            "tiers": _tier_rows(form),
        },
    )
    await actions.put_ladder(runtime_of(request), member.organization_id, ladder)
    return redirect(request, _tab("tiers"), toast="Tiers saved")


def _reward_values(form: FormData, names: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {name: form_text(form, name) or None for name in names}
    if "active" in names:
        values["active"] = bool(form.get("active"))
    return values


@router.post(f"{HOME}/rewards", dependencies=writes)
async def add_reward(request: Request, member: Staff = Depends(configure)) -> Response:
    form = await request.form()
    data: RewardCreate = validated(
        RewardCreate,
        _reward_values(
            form,
            (
                "name",
                "kind",
                "value",
                "sku",
                "cost_points",
                "stock",
                "per_customer_limit",
                "active",
            ),
        ),
    )
    added = await actions.create_reward(runtime_of(request), member.organization_id, data)
    return redirect(request, _tab("rewards"), toast=f"{added.name} added")


@router.post(f"{HOME}/rewards/{{reward_id}}", dependencies=writes)
async def change_reward(
    request: Request, reward_id: uuid.UUID, member: Staff = Depends(configure)
) -> Response:
    form = await request.form()
    change: RewardUpdate = validated(
        RewardUpdate,
        _reward_values(form, ("name", "cost_points", "stock", "per_customer_limit", "active")),
    )
    changed = await actions.update_reward(
        runtime_of(request), member.organization_id, reward_id, change
    )
    return redirect(request, _tab("rewards"), toast=f"{changed.name} saved")


@router.post(f"{HOME}/members/{{customer_id}}/adjust", dependencies=writes)
async def adjust_points(
    request: Request, customer_id: uuid.UUID, member: Staff = Depends(adjust)
) -> Response:
    form = await request.form()
    change: AdjustmentIn = validated(
        AdjustmentIn,
        {"points": form_text(form, "points") or "0", "reason": form_text(form, "reason")},
    )
    await profiles.adjust_points(
        runtime_of(request), member.signed_in.principal, customer_id, change
    )
    # Back to the members list as it was filtered.
    shown = urlsplit(request.headers.get("HX-Current-URL", ""))
    back = f"{HOME}?{shown.query}" if shown.path == HOME else _tab("members")
    return redirect(request, back, toast=f"{change.points:+,} points recorded")
