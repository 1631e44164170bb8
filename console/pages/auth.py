"""Signing in and out, the one-time links (invitation, reset), and the second factor.

A person's staff account is per organization; one email and password may open several. After
the password, the console asks which organization to work in (and the account's code, when it
has a second factor); switching organization is signing in again.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request, Response

from console.web import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    PageRoute,
    SignInNeeded,
    check_csrf,
    client_address,
    open_pending,
    redirect,
    render,
    runtime_of,
    seal_pending,
    set_cookie,
)
from herald.errors import HeraldError
from herald.staff import actions as staff
from herald.staff.schemas import SignInChoice
from herald.staff.service import SESSION_LIMIT

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=320)]
Secret = Annotated[str, Form(max_length=200)]
# Where to go after signing in (``next`` in the query and the form).
NextField = Annotated[str, Form(alias="next", max_length=320)]


def _safe_next(url: str | None) -> str:
    # Only a path of this site: a crafted link must not send a signed-in browser elsewhere.
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/"


@router.get("/sign-in")
async def sign_in_page(
    request: Request, next_url: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return render(request, "auth/sign_in.html", {"next": _safe_next(next_url)})


@router.post("/sign-in", dependencies=[Depends(check_csrf)])
async def sign_in(
    request: Request, email: Text, password: Secret, next_url: NextField = "/"
) -> Response:
    runtime = runtime_of(request)
    try:
        choices = await staff.sign_in(runtime, email, password, client_address(request))
    except HeraldError as exc:
        context = {"next": _safe_next(next_url), "email": email, "error": exc.detail}
        return render(request, "auth/sign_in.html", context, status=exc.status)
    if len(choices) == 1 and not choices[0].needs_code:
        return await _open(request, choices[0], None, next_url)
    response = redirect(request, f"/sign-in/continue?next={quote(_safe_next(next_url))}")
    pending = {"choices": [c.model_dump(mode="json") for c in choices]}
    set_cookie(response, PENDING_COOKIE, seal_pending(runtime, pending), max_age=300)
    return response


def _choices(request: Request) -> list[SignInChoice]:
    return [SignInChoice.model_validate(c) for c in open_pending(request)["choices"]]


@router.get("/sign-in/continue")
async def continue_page(
    request: Request, next_url: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return render(
        request,
        "auth/continue.html",
        {"choices": _choices(request), "next": _safe_next(next_url)},
    )


@router.post("/sign-in/continue", dependencies=[Depends(check_csrf)])
async def continue_sign_in(
    request: Request,
    user_id: Annotated[str, Form(max_length=36)],
    code: Annotated[str, Form(max_length=12)] = "",
    next_url: NextField = "/",
) -> Response:
    choices = _choices(request)
    chosen = next((c for c in choices if str(c.user_id) == user_id), None)
    if chosen is None:
        raise SignInNeeded
    try:
        return await _open(request, chosen, code, next_url)
    except HeraldError as exc:
        context = {"choices": choices, "chosen": chosen, "next": _safe_next(next_url)}
        return render(
            request, "auth/continue.html", {**context, "error": exc.detail}, status=exc.status
        )


async def _open(
    request: Request, choice: SignInChoice, code: str | None, next_url: str
) -> Response:
    user_agent = request.headers.get("user-agent", "")
    token = await staff.open_session(
        runtime_of(request), choice, code, user_agent, client_address(request)
    )
    response = redirect(request, _safe_next(next_url))
    set_cookie(response, SESSION_COOKIE, token, max_age=int(SESSION_LIMIT.total_seconds()))
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


@router.post("/sign-out", dependencies=[Depends(check_csrf)])
async def sign_out(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await staff.sign_out(runtime_of(request), token)
    response = redirect(request, "/sign-in", toast="Signed out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/forgot-password")
async def forgot_page(request: Request) -> Response:
    return render(request, "auth/forgot.html")


@router.post("/forgot-password", dependencies=[Depends(check_csrf)])
async def forgot(request: Request, email: Text) -> Response:
    await staff.request_reset(runtime_of(request), email, client_address(request))
    return render(request, "auth/forgot.html", {"sent_to": email})


@router.get("/set-password")
async def set_password_page(request: Request, token: str = "") -> Response:
    try:
        holder = await staff.link_holder(runtime_of(request), token)
    except HeraldError as exc:
        return render(request, "auth/set_password.html", {"expired": exc.detail}, status=404)
    return render(request, "auth/set_password.html", {"holder": holder, "token": token})


@router.post("/set-password", dependencies=[Depends(check_csrf)])
async def set_password(
    request: Request, token: Secret, password: Secret, confirm: Secret
) -> Response:
    runtime = runtime_of(request)
    try:
        holder = await staff.link_holder(runtime, token)
    except HeraldError as exc:
        return render(request, "auth/set_password.html", {"expired": exc.detail}, status=404)
    context = {"holder": holder, "token": token}
    if password != confirm:
        context["error"] = "the two passwords differ"
        return render(request, "auth/set_password.html", context, status=422)
    try:
        await staff.set_password(runtime, token, password)
    except HeraldError as exc:
        context["error"] = exc.detail
        return render(request, "auth/set_password.html", context, status=exc.status)
    return redirect(request, "/sign-in", toast="Password set: sign in with it now")
