"""Driving the console over plain HTTP, as a browser without JavaScript would: cookies kept by
hand (they are Secure, which a cookie jar withholds from http://127.0.0.1), the CSRF token read
from each page's forms."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from herald.access.models import Role
from herald.database import Database
from herald.staff.service import give_password
from tests.support import Org, Stack

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


def add_staff(db: Database, org: Org, role: Role, email: str | None = None) -> str:
    """A staff member who can sign in (as if they had accepted an invitation): their email."""
    email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@shop.example"
    from herald.access.service import create_user

    with db.session(org.id) as session:
        user = create_user(session, email, role)
        give_password(session, user.id, PASSWORD)
    return email


class Browser:
    """One browser's cookies against the stack's API process."""

    def __init__(self, stack: Stack) -> None:
        self.http = httpx.Client(base_url=str(stack.api.base_url), timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers=headers, **kwargs)
        for name, value in response.cookies.items():
            self.cookies[name] = value
        for header in response.headers.get_list("set-cookie"):
            name = header.split("=", 1)[0]
            if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                self.cookies.pop(name, None)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def csrf(self, path: str = "/sign-in") -> str:
        page = self.get(path)
        found = CSRF.search(page.text)
        assert found, f"no CSRF token on {path}: {page.status_code}"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], *, token: str | None = None) -> httpx.Response:
        """A form post with the token of the page it came from (pass ``token=""`` to leave it
        out)."""
        fields = dict(data)
        if token is None:
            token = self.csrf()
        if token:
            fields["csrf_token"] = token
        return self.request("POST", path, data=fields)

    def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return self.post("/sign-in", {"email": email, "password": password, "next": "/"})

    def close(self) -> None:
        self.http.close()
