"""Herald's Temporal worker: ``python worker.py`` (or ``herald worker``)."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.campaigns import CampaignActivities
from activities.inquiries import InquiryActivities
from activities.journeys import JourneyActivities
from activities.loyalty import BirthdayActivities, ExpiryActivities, LoyaltyActivities
from activities.messaging import MessagingActivities
from activities.segments import SegmentActivities
from herald.db import Database
from herald.messaging.unsubscribe import Links
from herald.schedules import ensure_schedules
from herald.settings import Settings, get_settings, signing_key
from herald.temporal import connect, ensure_search_attributes
from workflows.birthdays import BirthdayReward, BirthdayRewards
from workflows.campaigns import CampaignSend
from workflows.inquiries import InquiryFollowUp
from workflows.journeys import JourneyRun
from workflows.loyalty import (
    AwardOrderPoints,
    ExpirePoints,
    ReferralReward,
    ReverseOrderPoints,
    RewardRedemption,
    TierReview,
)
from workflows.messaging import SendMessage
from workflows.segments import SegmentSweep

log = logging.getLogger("herald.worker")

WORKFLOWS = [
    AwardOrderPoints,
    ReverseOrderPoints,
    SendMessage,
    JourneyRun,
    InquiryFollowUp,
    BirthdayRewards,
    BirthdayReward,
    RewardRedemption,
    TierReview,
    ReferralReward,
    ExpirePoints,
    CampaignSend,
    SegmentSweep,
]
# Activities are synchronous database work: they run on this many threads.
ACTIVITY_THREADS = 32


def build_worker(
    settings: Settings, client: Client, db: Database, executor: ThreadPoolExecutor
) -> Worker:
    loyalty = LoyaltyActivities(db)
    links = Links(settings.public_url, signing_key(settings))
    messaging = MessagingActivities(db, links)
    journeys = JourneyActivities(db, links)
    inquiries = InquiryActivities(db, links)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            loyalty.award_order_points,
            loyalty.reverse_order_points,
            loyalty.expire_redemption,
            loyalty.review_tier,
            loyalty.reward_referral,
            messaging.deliver_message,
            *journeys.all_activities(),
            *inquiries.all_activities(),
            *CampaignActivities(db, links).all_activities(),
            *SegmentActivities(db).all_activities(),
            *BirthdayActivities(db).all_activities(),
            *ExpiryActivities(db).all_activities(),
        ],
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    client = await connect(settings)
    try:
        await ensure_search_attributes(client, settings.temporal_namespace)
    except Exception as exc:  # a server without the operator service (or rights): say so, go on
        log.warning("could not check search attributes: %s", exc)
    # Every worker puts it in place; the first creates it, the others find it current.
    await ensure_schedules(client, settings.task_queue)
    db = Database(settings.database_url)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        async with build_worker(settings, client, db, executor):
            log.info("worker polling task queue %r", settings.task_queue)
            await stop.wait()
    db.dispose()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(get_settings(), stop)

    asyncio.run(_run())


if __name__ == "__main__":
    main()
