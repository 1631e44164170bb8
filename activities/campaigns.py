from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.campaigns import sending
from herald.campaigns.contracts import (
    BatchOutcome,
    CampaignBatch,
    CampaignPlan,
    CampaignRef,
    Snapshot,
    StatusChange,
)
from herald.database import Database
from herald.db import utcnow
from herald.messaging.delivery import delivery_env
from herald.messaging.unsubscribe import Links
from herald.outbound import Outbound


class CampaignActivities:
    """A campaign send's side effects. Each is idempotent under retries."""

    def __init__(self, db: Database, links: Links, outbound: Outbound) -> None:
        self._db = db
        self._links = links
        self._outbound = outbound

    def all_activities(self) -> list[Callable[..., Any]]:
        return [
            self.load_campaign_plan,
            self.snapshot_campaign_audience,
            self.send_campaign_batch,
            self.pick_campaign_winner,
            self.set_campaign_status,
            self.refresh_send_statistics,
        ]

    @activity.defn
    def load_campaign_plan(self, ref: CampaignRef) -> CampaignPlan:
        with self._db.session(ref.organization_id) as session:
            return sending.plan(session, ref.campaign_id)

    @activity.defn
    def snapshot_campaign_audience(self, ref: CampaignRef) -> Snapshot:
        with self._db.session(ref.organization_id) as session:
            return sending.snapshot_audience(session, ref.campaign_id)

    @activity.defn
    def send_campaign_batch(self, batch: CampaignBatch) -> BatchOutcome:
        activity.heartbeat()
        with self._db.session(batch.organization_id) as session:
            env = delivery_env(session, self._links, self._outbound, batch.workflow_time)
            return sending.send_batch(session, batch, env, on_progress=activity.heartbeat)

    @activity.defn
    def pick_campaign_winner(self, ref: CampaignRef) -> str:
        with self._db.session(ref.organization_id) as session:
            return sending.decide_winner(session, ref.campaign_id, ref.at or utcnow())

    @activity.defn
    def set_campaign_status(self, change: StatusChange) -> None:
        with self._db.session(change.organization_id) as session:
            sending.set_status(session, change)

    @activity.defn
    def refresh_send_statistics(self, ref: CampaignRef) -> None:
        with self._db.session(ref.organization_id) as session:
            sending.refresh_statistics(session)
