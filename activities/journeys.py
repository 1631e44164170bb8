from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from herald.database import Database
from herald.journeys import runs
from herald.journeys.contracts import (
    ConditionRequest,
    Entered,
    EnterRequest,
    FinishRequest,
    PointsRequest,
    ProfileUpdate,
    RateSlotRequest,
    SendRequest,
    SendResult,
    VersionRequest,
    WaitRequest,
    WebhookRequest,
)
from herald.journeys.definition import JourneyDefinition
from herald.journeys.service import version_definition
from herald.messaging.delivery import delivery_env
from herald.messaging.unsubscribe import Links
from herald.outbound import Outbound, OutboundFailed, OutboundRefused

WEBHOOK_TIMEOUT_S = 10


class JourneyActivities:
    """The side effects of journey steps. Each is idempotent under retries (see journeys.runs)."""

    def __init__(self, db: Database, links: Links, outbound: Outbound) -> None:
        self._db = db
        self._links = links
        self._outbound = outbound

    def all_activities(self) -> list[Callable[..., Any]]:
        """Every activity JourneyRun calls, bound to this instance (or a subclass's stand-ins)."""
        return [
            self.enter_journey,
            self.load_journey_version,
            self.finish_journey,
            self.send_journey_message,
            self.check_condition,
            self.resolve_wait,
            self.update_journey_profile,
            self.award_journey_points,
            self.take_rate_slot,
            self.post_journey_webhook,
        ]

    @activity.defn
    def enter_journey(self, request: EnterRequest) -> Entered:
        with self._db.session(request.organization_id) as session:
            return runs.enter(session, request)

    @activity.defn
    def load_journey_version(self, request: VersionRequest) -> JourneyDefinition:
        with self._db.session(request.organization_id) as session:
            return version_definition(session, request.journey_id, request.version)

    @activity.defn
    def finish_journey(self, request: FinishRequest) -> None:
        with self._db.session(request.organization_id) as session:
            runs.finish(session, request)

    @activity.defn
    def send_journey_message(self, request: SendRequest) -> SendResult:
        with self._db.session(request.organization_id) as session:
            env = delivery_env(session, self._links, self._outbound, request.workflow_time)
            return runs.send(session, request, env)

    @activity.defn
    def check_condition(self, request: ConditionRequest) -> bool:
        with self._db.session(request.organization_id) as session:
            return runs.matches(session, request)

    @activity.defn
    def resolve_wait(self, request: WaitRequest) -> datetime | None:
        with self._db.session(request.organization_id) as session:
            return runs.wait_until(session, request)

    @activity.defn
    def update_journey_profile(self, request: ProfileUpdate) -> None:
        with self._db.session(request.organization_id) as session:
            runs.update_profile(session, request)

    @activity.defn
    def award_journey_points(self, request: PointsRequest) -> int:
        with self._db.session(request.organization_id) as session:
            return runs.give_points(session, request)

    @activity.defn
    def take_rate_slot(self, request: RateSlotRequest) -> datetime | None:
        with self._db.session(request.organization_id) as session:
            return runs.take_rate_slot(session, request)

    @activity.defn
    def post_journey_webhook(self, request: WebhookRequest) -> int:
        """POST the run's context; throttling and server errors are retried, a refusal is not."""
        try:
            response = self._outbound.request(
                "POST", request.url, json=request.body, deadline_s=WEBHOOK_TIMEOUT_S
            )
        except OutboundRefused as exc:
            raise ApplicationError(f"webhook refused: {exc}", non_retryable=True) from exc
        except OutboundFailed as exc:
            raise ApplicationError(f"webhook failed: {exc}") from exc
        if response.status == 429 or response.status >= 500:
            raise ApplicationError(f"webhook answered HTTP {response.status}")
        if response.status >= 400:
            raise ApplicationError(f"webhook refused: HTTP {response.status}", non_retryable=True)
        return response.status
