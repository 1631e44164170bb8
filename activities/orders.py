from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.database import Database
from herald.orders import figures
from herald.orders.contracts import FIGURES_PAGE, FiguresPageDone, FiguresRefresh


class OrderActivities:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.refresh_figures_page]

    @activity.defn
    def refresh_figures_page(self, refresh: FiguresRefresh) -> FiguresPageDone:
        with self._db.session(refresh.organization_id) as session:
            return figures.refresh_page(session, refresh.currency, refresh.after, FIGURES_PAGE)
