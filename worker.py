"""Herald's Temporal worker: ``python worker.py`` (or ``herald worker``)."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.analytics import AnalyticsActivities
from activities.campaigns import CampaignActivities
from activities.dataops import DataActivities
from activities.errors import DomainErrorInterceptor
from activities.inquiries import InquiryActivities
from activities.journeys import JourneyActivities
from activities.loyalty import BirthdayActivities, ExpiryActivities, LoyaltyActivities
from activities.messaging import MessagingActivities
from activities.orders import OrderActivities
from activities.predictions import PredictionsActivities
from activities.segments import SegmentActivities
from herald import tracing
from herald.assembly import install_secrets
from herald.database import Database
from herald.logs import logging_config
from herald.outbound import Outbound
from herald.schedules import ensure_schedules
from herald.settings import Settings, get_settings
from herald.temporal import connect, ensure_search_attributes
from workflows.analytics import AnalyticsRollup, AnalyticsSweep
from workflows.birthdays import BirthdayReward, BirthdayRewards
from workflows.campaigns import CampaignSend
from workflows.dataops import BulkActionRun, ExportRun, ImportRun
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
from workflows.orders import RefreshCustomerFigures
from workflows.predictions import CustomerPredictions, PredictionsSweep
from workflows.segments import SegmentSizeRecord, SegmentSweep

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
    SegmentSizeRecord,
    RefreshCustomerFigures,
    ImportRun,
    ExportRun,
    BulkActionRun,
    AnalyticsSweep,
    AnalyticsRollup,
    PredictionsSweep,
    CustomerPredictions,
]
# Activities are synchronous database work: they run on this many threads.
ACTIVITY_THREADS = 32


def build_worker(
    settings: Settings, client: Client, db: Database, executor: ThreadPoolExecutor
) -> Worker:
    loyalty = LoyaltyActivities(db)
    links = install_secrets(settings)
    outbound = Outbound.allowing(settings.outbound_allow)
    messaging = MessagingActivities(db, links, outbound)
    journeys = JourneyActivities(db, links, outbound)
    inquiries = InquiryActivities(db, links, outbound)
    # The sandbox imports a workflow's module afresh for every run it creates or replays; without
    # bytecode on disk each of those imports compiles the source again (a fifth of the worker's
    # CPU under load). PYTHONDONTWRITEBYTECODE must not switch that cache off here.
    sys.dont_write_bytecode = False
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
            *CampaignActivities(db, links, outbound).all_activities(),
            *SegmentActivities(db).all_activities(),
            *BirthdayActivities(db).all_activities(),
            *ExpiryActivities(db).all_activities(),
            *OrderActivities(db).all_activities(),
            *DataActivities(db).all_activities(),
            *AnalyticsActivities(db).all_activities(),
            *PredictionsActivities(db).all_activities(),
        ],
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
        interceptors=[DomainErrorInterceptor()],
    )


def sdk_runtime(settings: Settings) -> Runtime | None:
    """With metrics on, a Temporal runtime exporting the SDK's own metrics (task slots, polls,
    latencies) for this process, on the port after Herald's plus the process's place."""
    if not settings.worker_metrics_port:
        return None
    port = settings.worker_metrics_port + 1 + int(os.environ.get(PROCESS_INDEX_ENV, "0"))
    prometheus = PrometheusConfig(
        bind_address=f"{settings.worker_metrics_host}:{port}", durations_as_seconds=True
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    client = await connect(settings, runtime=sdk_runtime(settings))
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


# A supervised worker process learns its supervisor's pid from here, to stop when it is gone.
SUPERVISOR_PID_ENV = "HERALD_WORKER_SUPERVISOR_PID"
# ... and its place among the processes (0, 1, ...).
PROCESS_INDEX_ENV = "HERALD_WORKER_PROCESS_INDEX"
# How often the supervisor looks at its processes, and a supervised process at its supervisor.
WATCH_INTERVAL_S = 1.0
# A process that lived this long before it died is started again at once; one dying sooner
# waits twice as long each time (up to a minute), so a worker that cannot start does not spin.
HEALTHY_AFTER_S = 30.0


async def _serve(supervisor_pid: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def stop_when_orphaned(parent: int) -> None:
        # A supervisor killed outright (SIGKILL, out of memory) cannot stop its processes.
        while os.getppid() == parent:
            await asyncio.sleep(WATCH_INTERVAL_S)
        log.warning("supervisor %s is gone; stopping", parent)
        stop.set()

    watch = asyncio.create_task(stop_when_orphaned(supervisor_pid)) if supervisor_pid else None
    tracing.install("herald-worker")
    await run_worker(get_settings(), stop)
    tracing.shutdown()
    if watch is not None:
        watch.cancel()


def supervise(count: int, metrics_dir: str) -> None:
    """Run ``count`` worker processes. Workflow tasks and activities are CPU work in Python,
    and one process uses one core at a time; the processes share the task queue. One that
    dies is started again; SIGINT or SIGTERM stops them all."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    env = {
        **os.environ,
        "HERALD_WORKER_PROCESSES": "1",
        SUPERVISOR_PID_ENV: str(os.getpid()),
        # Each process's metrics go to files there; the supervisor adds them up.
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    command = [sys.executable, str(Path(__file__).resolve())]

    def start(index: int) -> _Supervised:
        # The index is the process's place (its Temporal SDK metrics port); a replacement
        # takes the place of the one it replaces.
        child_env = {**env, PROCESS_INDEX_ENV: str(index)}
        return _Supervised(subprocess.Popen(command, env=child_env), time.monotonic())

    children = [start(index) for index in range(count)]
    log.info("supervising %d worker processes: %s", count, [c.process.pid for c in children])
    while not stopping:
        time.sleep(WATCH_INTERVAL_S)
        now = time.monotonic()
        for index, child in enumerate(children):
            if stopping or child.process.poll() is None:
                continue
            if child.restart_at is None:
                lived = now - child.started
                delay = 0.0 if lived >= HEALTHY_AFTER_S else min(60.0, child.delay * 2 or 1.0)
                log.warning(
                    "worker process %d exited (%s) after %.0f s; starting another in %.0f s",
                    child.process.pid,
                    child.process.returncode,
                    lived,
                    delay,
                )
                child.delay, child.restart_at = delay, now + delay
            if now >= child.restart_at:
                children[index] = replace(start(index), delay=child.delay)
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.process.kill()


@dataclass
class _Supervised:
    process: subprocess.Popen[bytes]
    started: float
    delay: float = 0.0  # the wait before the last restart
    restart_at: float | None = None  # set once the process has exited


def serve_metrics(settings: Settings, processes_dir: str | None) -> None:
    """Prometheus metrics on HERALD_WORKER_METRICS_PORT: this process's, or with several
    processes the sum of theirs (each writes to ``processes_dir``; the supervisor serves)."""
    if not settings.worker_metrics_port:
        return
    registry = REGISTRY
    if processes_dir is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=processes_dir)
    start_http_server(settings.worker_metrics_port, settings.worker_metrics_host, registry)


def main() -> None:
    logging.config.dictConfig(logging_config())
    settings = get_settings()
    supervisor = os.environ.get(SUPERVISOR_PID_ENV)
    if settings.worker_processes > 1:
        with tempfile.TemporaryDirectory(prefix="herald-metrics-") as processes_dir:
            serve_metrics(settings, processes_dir)
            supervise(settings.worker_processes, processes_dir)
        return
    if supervisor is None:
        serve_metrics(settings, None)
    asyncio.run(_serve(int(supervisor) if supervisor else None))


if __name__ == "__main__":
    main()
