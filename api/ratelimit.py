"""Budgets for what anyone may call (sign-up forms attract bots) and for what costs the
merchant money when repeated (test sends). Counted by every API process together
(``herald.ratelimits``).

A public budget is kept per organization and client address: a bot hammering one shop's form
uses up its own budget there, not that of its neighbours behind a shared address at another
shop. The client address is the socket's, or the one a trusted proxy reports
(``HERALD_TRUSTED_PROXIES``; uvicorn reads X-Forwarded-For from those proxies only).
"""

from __future__ import annotations

from fastapi import Depends, Request

from api.deps import app_customer, get_principal, get_runtime
from herald.access.service import Principal
from herald.messaging.inbox import AppCustomer
from herald.runtime import Runtime


class PublicBudget:
    def __init__(self, name: str, budget: str) -> None:
        self.name = name
        self.budget = budget

    def __call__(self, request: Request, runtime: Runtime = Depends(get_runtime)) -> None:
        client = request.client.host if request.client else "unknown"
        slug = str(request.path_params.get("slug", "-"))
        runtime.rate_limits.spend(self.budget, self.name, slug, client)


class OrganizationBudget:
    def __init__(self, name: str, budget: str) -> None:
        self.name = name
        self.budget = budget

    def __call__(
        self,
        principal: Principal = Depends(get_principal),
        runtime: Runtime = Depends(get_runtime),
    ) -> None:
        runtime.rate_limits.spend(self.budget, self.name, str(principal.organization_id))


class AppBudget:
    """Per customer of an organization: one app user in a loop cannot spend another's budget,
    nor another shop's."""

    def __init__(self, name: str, budget: str) -> None:
        self.name = name
        self.budget = budget

    def __call__(
        self, app: AppCustomer = Depends(app_customer), runtime: Runtime = Depends(get_runtime)
    ) -> None:
        runtime.rate_limits.spend(
            self.budget, self.name, str(app.organization_id), str(app.customer_id)
        )


# A person opens a few links and signs up a handful of times at most; a script does far more.
signup_limit = PublicBudget("signup", "20/minute")
link_limit = PublicBudget("link", "60/minute")
# Phones behind one carrier address open their notifications at once after a campaign.
push_open_limit = PublicBudget("push-open", "600/minute")
# A visitor writes to sales once or twice; an office behind one address a few times more.
inquiry_limit = PublicBudget("inquiry", "10/minute")
# Test sends reach any address through the merchant's own provider account: for checking a
# template, not for mailing a list.
test_send_limit = OrganizationBudget("test-send", "30/hour")
# An app polls its inbox now and then, registers a device at start: generous for a person.
app_limit = AppBudget("app", "120/minute")
