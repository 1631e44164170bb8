"""Settings: the organization, messaging (sender, providers with write-only credentials, quiet
hours, caps), staff users and roles, API keys, and each member's own security."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request, Response
from markupsafe import Markup

from console.web import (
    SESSION_COOKIE,
    PageRoute,
    Staff,
    allowed,
    check_csrf,
    current_staff,
    redirect,
    render,
    runtime_of,
    validated,
)
from herald.access import actions as keys
from herald.access.models import Role
from herald.access.permissions import Permission
from herald.access.schemas import ApiKeyCreate
from herald.errors import InvalidInput
from herald.messaging import actions as messaging
from herald.messaging.schemas import MessagingSettingsIn
from herald.organizations import actions as organizations
from herald.organizations.schemas import OrganizationUpdate
from herald.staff import actions as staff
from herald.staff.service import STAFF_ROLES

router = APIRouter(route_class=PageRoute, include_in_schema=False)
writes = [Depends(check_csrf)]
ROLES = [r.value for r in Role if r in STAFF_ROLES]

# The settings' sections, each for the roles with its permission (security: everyone's own).
SECTIONS = (
    ("organization", "Organization", Permission.organization_configure),
    ("messaging", "Messaging", Permission.messaging_configure),
    ("users", "Users and roles", Permission.users_manage),
    ("keys", "API keys", Permission.api_keys_manage),
)


def _context(member: Staff, section: str, **extra: Any) -> dict[str, Any]:
    sections = [(key, label) for key, label, needed in SECTIONS if member.may(needed)]
    return {"nav": "settings", "section": section, "sections": sections, **extra}


@router.get("/settings")
async def settings_index(request: Request, member: Staff = Depends(current_staff)) -> Response:
    for key, _, needed in SECTIONS:
        if member.may(needed):
            return redirect(request, f"/settings/{key}")
    return redirect(request, "/settings/security")


# --- organization ----------------------------------------------------------------------------


@router.get("/settings/organization")
async def organization_page(
    request: Request, member: Staff = Depends(allowed(Permission.organization_configure))
) -> Response:
    org = await organizations.organization(runtime_of(request), member.organization_id)
    return render(request, "settings/organization.html", _context(member, "organization", org=org))


@router.post("/settings/organization", dependencies=writes)
async def update_organization(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    reporting_currency: Annotated[str, Form(max_length=3)] = "",
    order_history_days: Annotated[str, Form(max_length=6)] = "",
    member: Staff = Depends(allowed(Permission.organization_configure)),
) -> Response:
    given = {
        "name": name,
        "reporting_currency": reporting_currency.upper(),
        "order_history_days": order_history_days,
    }
    change = validated(OrganizationUpdate, {k: v for k, v in given.items() if v != ""})
    await organizations.update(runtime_of(request), member.organization_id, change)
    return redirect(request, "/settings/organization", toast="Organization saved")


# --- messaging -------------------------------------------------------------------------------

# Secrets: written when typed, never shown; an empty field keeps what is stored.
SECRET_FIELDS = ("sendgrid_api_key", "twilio_auth_token", "fcm_service_account")
TEXT_FIELDS = (
    "email_from",
    "email_from_name",
    "postal_address",
    "twilio_account_sid",
    "sms_from",
    "fcm_base_url",
    "quiet_hours_start",
    "quiet_hours_end",
)


@router.get("/settings/messaging")
async def messaging_page(
    request: Request, member: Staff = Depends(allowed(Permission.messaging_configure))
) -> Response:
    current = await messaging.messaging_settings(runtime_of(request), member.organization_id)
    return render(
        request, "settings/messaging.html", _context(member, "messaging", settings=current)
    )


@router.post("/settings/messaging", dependencies=writes)
async def update_messaging(
    request: Request, member: Staff = Depends(allowed(Permission.messaging_configure))
) -> Response:
    form = await request.form()
    data: dict[str, Any] = {}
    for name in (*TEXT_FIELDS, *SECRET_FIELDS):
        value = str(form.get(name) or "").strip()
        if value:
            data[name] = value
        elif name in TEXT_FIELDS and name in form:
            data[name] = None  # a text field emptied: clear it
    if "fcm_service_account" in data:
        data["fcm_service_account"] = _key_file(data["fcm_service_account"])
    data["newsletter_double_opt_in"] = form.get("newsletter_double_opt_in") == "true"
    caps = []
    for channel, messages, hours in zip(
        form.getlist("cap_channel"),
        form.getlist("cap_max"),
        form.getlist("cap_hours"),
        strict=False,
    ):
        if str(messages).strip():
            caps.append({"channel": channel, "max_messages": messages, "window_hours": hours or 24})
    data["frequency_caps"] = caps
    change = validated(MessagingSettingsIn, data)
    await messaging.put_messaging_settings(runtime_of(request), member.organization_id, change)
    return redirect(request, "/settings/messaging", toast="Messaging settings saved")


def _key_file(pasted: str) -> Any:
    """The pasted key file's JSON (the schema checks what is in it)."""
    try:
        return json.loads(pasted)
    except ValueError as exc:
        raise InvalidInput(
            "not a key file: paste the JSON file Firebase gave you, as it is",
            field="fcm_service_account",
        ) from exc


# --- users and roles -------------------------------------------------------------------------


@router.get("/settings/users")
async def users_page(
    request: Request, member: Staff = Depends(allowed(Permission.users_manage))
) -> Response:
    users = await staff.list_staff(runtime_of(request), member.organization_id)
    return render(
        request, "settings/users.html", _context(member, "users", users=users, roles=ROLES)
    )


async def _users_table(request: Request, member: Staff, toast: str) -> Response:
    users = await staff.list_staff(runtime_of(request), member.organization_id)
    return render(
        request,
        "settings/_users_table.html",
        {"users": users, "roles": ROLES},
        toast=toast,
    )


@router.post("/settings/users/invite", dependencies=writes)
async def invite(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    member: Staff = Depends(allowed(Permission.users_manage)),
) -> Response:
    if role not in ROLES:
        raise InvalidInput("choose a role", field="role")
    if "@" not in email:
        raise InvalidInput("give the email address to invite", field="email")
    sent = await staff.invite(runtime_of(request), member.organization_id, email, Role(role))
    toast = f"Invitation sent to {sent.user.email}"
    if sent.message_status.startswith("failed"):
        toast = f"Invitation to {sent.user.email} not sent ({sent.message_status}); invite again"
    return await _users_table(request, member, toast)


@router.post("/settings/users/{user_id}/role", dependencies=writes)
async def change_role(
    request: Request,
    user_id: uuid.UUID,
    role: Annotated[str, Form(max_length=20)],
    member: Staff = Depends(allowed(Permission.users_manage)),
) -> Response:
    if role not in ROLES:
        raise InvalidInput("choose a role", field="role")
    changed = await staff.change_role(
        runtime_of(request), member.organization_id, user_id, Role(role)
    )
    return await _users_table(request, member, f"{changed.email} is now {changed.role.value}")


@router.post("/settings/users/{user_id}/remove", dependencies=writes)
async def remove(
    request: Request, user_id: uuid.UUID, member: Staff = Depends(allowed(Permission.users_manage))
) -> Response:
    await staff.remove_user(runtime_of(request), member.organization_id, user_id)
    if user_id == member.signed_in.principal.user_id:
        return redirect(request, "/sign-in", toast="You removed yourself")
    return await _users_table(request, member, "User removed; their sessions have ended")


@router.post("/settings/users/{user_id}/sign-out", dependencies=writes)
async def sign_user_out(
    request: Request, user_id: uuid.UUID, member: Staff = Depends(allowed(Permission.users_manage))
) -> Response:
    ended = await staff.end_sessions(runtime_of(request), member.organization_id, user_id)
    return await _users_table(request, member, f"{ended} session(s) ended")


@router.post("/settings/users/{user_id}/reset-two-factor", dependencies=writes)
async def reset_two_factor(
    request: Request, user_id: uuid.UUID, member: Staff = Depends(allowed(Permission.users_manage))
) -> Response:
    await staff.disable_totp(runtime_of(request), member.organization_id, user_id)
    return await _users_table(request, member, "Two-factor turned off for the user")


# --- API keys --------------------------------------------------------------------------------


@router.get("/settings/keys")
async def keys_page(
    request: Request, member: Staff = Depends(allowed(Permission.api_keys_manage))
) -> Response:
    listed = await keys.list_keys(runtime_of(request), member.organization_id)
    return render(request, "settings/keys.html", _context(member, "keys", keys=listed, roles=ROLES))


@router.post("/settings/keys", dependencies=writes)
async def issue_key(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    member: Staff = Depends(allowed(Permission.api_keys_manage)),
) -> Response:
    data = validated(ApiKeyCreate, {"name": name, "role": role})
    runtime = runtime_of(request)
    issued = await keys.issue_key(runtime, member.organization_id, data)
    listed = await keys.list_keys(runtime, member.organization_id)
    return render(
        request,
        "settings/_keys_table.html",
        {"keys": listed, "issued": issued},
        toast="Key issued: copy it now",
    )


@router.post("/settings/keys/{key_id}/revoke", dependencies=writes)
async def revoke_key(
    request: Request,
    key_id: uuid.UUID,
    member: Staff = Depends(allowed(Permission.api_keys_manage)),
) -> Response:
    runtime = runtime_of(request)
    await keys.revoke_key(runtime, member.organization_id, key_id)
    listed = await keys.list_keys(runtime, member.organization_id)
    return render(request, "settings/_keys_table.html", {"keys": listed}, toast="Key revoked")


# --- the member's own security ---------------------------------------------------------------


@router.get("/settings/security")
async def security_page(request: Request, member: Staff = Depends(current_staff)) -> Response:
    return render(request, "settings/security.html", _context(member, "security"))


@router.post("/settings/security/two-factor", dependencies=writes)
async def start_two_factor(request: Request, member: Staff = Depends(current_staff)) -> Response:
    enrolment = await staff.start_totp(runtime_of(request), member.signed_in.principal)
    # The same key as a QR code for the app's camera; segno draws it as inline SVG.
    qr = segno.make(enrolment.otpauth_uri, error="m").svg_inline(
        scale=4, border=2, title="QR code of the key for your authenticator app"
    )
    return render(request, "settings/_totp.html", {"enrolment": enrolment, "qr": Markup(qr)})


@router.post("/settings/security/two-factor/confirm", dependencies=writes)
async def confirm_two_factor(
    request: Request,
    code: Annotated[str, Form(max_length=12)] = "",
    member: Staff = Depends(current_staff),
) -> Response:
    await staff.confirm_totp(runtime_of(request), member.signed_in.principal, code)
    return redirect(request, "/settings/security", toast="Two-factor sign-in is on")


@router.post("/settings/security/two-factor/off", dependencies=writes)
async def two_factor_off(request: Request, member: Staff = Depends(current_staff)) -> Response:
    principal = member.signed_in.principal
    assert principal.user_id is not None
    await staff.disable_totp(runtime_of(request), principal.organization_id, principal.user_id)
    return redirect(request, "/settings/security", toast="Two-factor sign-in is off")


@router.post("/settings/security/sign-out-everywhere", dependencies=writes)
async def sign_out_everywhere(request: Request, member: Staff = Depends(current_staff)) -> Response:
    principal = member.signed_in.principal
    assert principal.user_id is not None
    await staff.end_sessions(runtime_of(request), principal.organization_id, principal.user_id)
    response = redirect(request, "/sign-in", toast="Signed out of every browser")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
