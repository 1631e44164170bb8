"""What every page shares: the templates, the signed-in staff member, CSRF, and the answers a
page gives (a full page, a fragment, a redirect that htmx follows too).

The console calls the domain's async actions with the process's runtime; it never calls the
API over HTTP, and it decides nothing the domain decides: permissions come from the one table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData

from herald.access.permissions import Permission, allows
from herald.errors import Forbidden, HeraldError, InvalidInput, Unauthorized
from herald.runtime import Runtime
from herald.settings import secret_keys
from herald.staff import actions as staff
from herald.staff.service import SignedIn

HERE = Path(__file__).parent
SESSION_COOKIE = "herald_session"
# Before signing in: what the sign-in form's CSRF token is bound to.
PRESESSION_COOKIE = "herald_presession"
# Between the password and the chosen organization (or the second factor): signed, short-lived.
PENDING_COOKIE = "herald_pending"
PENDING_LIFETIME_S = 300
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

templates = Jinja2Templates(directory=HERE / "templates")


def duration(span: timedelta) -> str:
    """A length of time as people say it: "4 hours", "1 day 2 hours", "1 hour 30 minutes"."""
    minutes = int(span.total_seconds() // 60)
    parts = []
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "under a minute"


templates.env.filters["duration"] = duration


class SignInNeeded(Exception):
    """No valid session: the browser is sent to the sign-in page (and back afterwards)."""


class PageRoute(APIRoute):
    """A console route: its errors are answered as pages, toasts or redirects, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            request.scope["herald.page"] = True
            return await handler(request)

        return page_handler


def is_page(request: Request) -> bool:
    return bool(request.scope.get("herald.page"))


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _key(runtime: Runtime, purpose: str) -> tuple[bytes, ...]:
    return secret_keys(runtime.settings).for_purpose(purpose)


def _sign(runtime: Runtime, purpose: str, value: str) -> str:
    return hmac.new(_key(runtime, purpose)[0], value.encode(), hashlib.sha256).hexdigest()


def _signed_by_any(runtime: Runtime, purpose: str, value: str, signature: str) -> bool:
    return any(
        hmac.compare_digest(hmac.new(k, value.encode(), hashlib.sha256).hexdigest(), signature)
        for k in _key(runtime, purpose)
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- CSRF: a token bound to the session (or, before it, to a random pre-session cookie) -----


def _csrf_seed(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)


def csrf_token(request: Request) -> str:
    """The token every form and htmx request of this page carries. Before sign-in a random
    pre-session cookie is set for it to be bound to."""
    seed = _csrf_seed(request) or request.scope.get("herald.presession")
    if seed is None:
        seed = secrets.token_urlsafe(24)
        request.scope["herald.presession"] = seed
    return _sign(runtime_of(request), "console-csrf", str(seed))


async def check_csrf(request: Request) -> None:
    """Every write carries the token of the browser's own session: a page of another site
    cannot (it can neither read the cookie nor compute the token)."""
    if request.method in SAFE_METHODS:
        return
    seed = _csrf_seed(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not seed or not sent or not _signed_by_any(runtime_of(request), "console-csrf", seed, sent):
        raise Forbidden("the form is stale or came from elsewhere (CSRF check); reload the page")


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    # Secure and HttpOnly always (browsers accept Secure cookies from localhost over plain
    # HTTP); Lax lets a link from an email open a signed-in page, but never a cross-site write.
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, secure=True, samesite="lax", path="/"
    )


def keep_presession(request: Request, response: Response) -> None:
    seed = request.scope.get("herald.presession")
    if seed is not None:
        set_cookie(response, PRESESSION_COOKIE, str(seed))


# --- the pending sign-in: which accounts the password opened ----------------------------


def seal_pending(runtime: Runtime, data: Mapping[str, Any]) -> str:
    body = base64.urlsafe_b64encode(
        json.dumps({**data, "exp": int(time.time()) + PENDING_LIFETIME_S}).encode()
    ).decode()
    return f"{body}.{_sign(runtime, 'console-pending', body)}"


def open_pending(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(PENDING_COOKIE, "")
    body, _, signature = raw.partition(".")
    if not body or not _signed_by_any(runtime_of(request), "console-pending", body, signature):
        raise SignInNeeded
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    if data.get("exp", 0) < time.time():
        raise SignInNeeded
    return data


# --- the signed-in staff member ---------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    """Who is looking at the page, and what their role lets the page show."""

    signed_in: SignedIn

    def may(self, permission: Permission | str) -> bool:
        return allows(self.signed_in.principal.role, Permission(permission))

    @property
    def organization_id(self) -> Any:
        return self.signed_in.principal.organization_id

    @property
    def actor(self) -> str:
        return self.signed_in.principal.actor


async def current_staff(request: Request) -> Staff:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded
    try:
        signed_in = await staff.signed_in(runtime_of(request), token)
    except Unauthorized as exc:
        raise SignInNeeded from exc
    request.scope["herald.staff"] = signed_in
    return Staff(signed_in)


def allowed(permission: Permission) -> Callable[..., Awaitable[Staff]]:
    """A page or action for the roles that have the permission (others get a 403 page)."""

    async def guard(member: Staff = Depends(current_staff)) -> Staff:
        if not member.may(permission):
            raise Forbidden(
                f"the {member.signed_in.principal.role.value} role may not do this "
                f"({permission.value})"
            )
        return member

    return guard


# --- answers ---------------------------------------------------------------------------------


def validated(model: Any, data: dict[str, Any]) -> Any:
    """Form or query values into the domain's model; its first complaint names the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInput(first["msg"], field=field) from exc


def form_text(form: FormData, name: str) -> str:
    """A form field's text, trimmed; empty when it is missing or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    toast: str | None = None,
) -> HTMLResponse:
    signed_in = request.scope.get("herald.staff")
    member = Staff(signed_in) if signed_in is not None else None
    response = templates.TemplateResponse(
        request,
        template,
        {"staff": member, "csrf": csrf_token(request), "P": Permission, **(context or {})},
        status_code=status,
    )
    keep_presession(request, response)
    if toast:
        response.headers["HX-Trigger"] = json.dumps({"herald:toast": {"message": toast}})
    return response


def redirect(request: Request, url: str, *, toast: str | None = None) -> Response:
    """Go to ``url``: a 303 for a plain form, an ``HX-Redirect`` for htmx (a whole page load,
    so the page's toast shows and the address loses it)."""
    if toast:
        url, hash_, fragment = url.partition("#")
        url = f"{url}{'&' if '?' in url else '?'}toast={quote(toast)}{hash_}{fragment}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def sign_in_url(request: Request) -> str:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/sign-in?next={quote(wanted)}" if wanted not in ("/", "") else "/sign-in"


def error_page(request: Request, exc: HeraldError) -> Response:
    """A domain error on a console route: a problem for htmx (the page shows it as a toast and
    next to its field), a page of its own for a plain navigation."""
    if is_htmx(request) or request.method not in SAFE_METHODS:
        body = {"title": exc.title, "status": exc.status, "detail": exc.detail}
        if exc.field:
            body["errors"] = [{"field": exc.field, "message": exc.detail}]
        return Response(
            json.dumps(body), status_code=exc.status, media_type="application/problem+json"
        )
    return render(request, "error.html", {"error": exc}, status=exc.status)


def sign_in_needed(request: Request) -> Response:
    response = redirect(request, sign_in_url(request))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
