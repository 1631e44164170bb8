"""The orders domain's Temporal names and the payloads its runs exchange."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

REFRESH_FIGURES_WORKFLOW = "RefreshCustomerFigures"
# Recorded when every buyer's figures (or those who bought in one currency) must be computed
# again: a rate set or removed, the reporting currency changed. Its reaction is the run.
FIGURES_STALE = "herald.figures_stale"
# Customers whose figures one activity recomputes, in one short transaction.
FIGURES_PAGE = 2_000


class FiguresRefresh(BaseModel):
    """Recompute the figures of the organization's buyers: all, or those with an order in
    ``currency``. ``after``: where a continued run goes on from."""

    organization_id: uuid.UUID
    currency: str | None = None
    after: uuid.UUID | None = None
    refreshed: int = 0


class FiguresPageDone(BaseModel):
    refreshed: int
    after: uuid.UUID | None  # None: that was the last page
