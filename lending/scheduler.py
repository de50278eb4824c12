"""Background jobs (APScheduler 3): run inside `lending serve` unless LENDING_SCHEDULER=off,
or alone as `lending scheduler` when several web instances share one database.

Each job is a service function that is safe to run from several schedulers at once (rows
are claimed with SKIP LOCKED, business keys are unique), so a second scheduler started by
mistake duplicates nothing.
"""

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine

from lending.db import session_for
from lending.privacy.service import pseudonymise_due
from lending.settings import Settings
from lending.waitlist.service import expire_offers

log = logging.getLogger("lending.scheduler")

WAITLIST_MINUTES = 10


def pass_on_expired_offers(engine: Engine) -> None:
    with session_for(engine, actor="scheduler") as session:
        result = expire_offers(session)
    if result["expired"] or result["offered"]:
        log.info("waitlist: %d offer(s) expired, %d made", len(result["expired"]),
                 len(result["offered"]))


def apply_retention(engine: Engine, months: int) -> None:
    with session_for(engine, actor="scheduler") as session:
        erased = pseudonymise_due(session, months)
    if erased:
        log.info("retention: %d recipient(s) pseudonymised", len(erased))


def add_jobs(scheduler: BaseScheduler, engine: Engine, settings: Settings) -> BaseScheduler:
    scheduler.add_job(pass_on_expired_offers, "interval", minutes=WAITLIST_MINUTES,
                      args=[engine], id="waitlist-offers", coalesce=True, max_instances=1,
                      replace_existing=True)
    # Daily, in the small hours, when the desks are closed.
    scheduler.add_job(apply_retention, "cron", hour=2, minute=30,
                      args=[engine, settings.retention_months], id="retention",
                      coalesce=True, max_instances=1, replace_existing=True)
    return scheduler


def background_scheduler(settings: Settings, engine: Engine) -> BackgroundScheduler:
    return add_jobs(BackgroundScheduler(timezone=settings.zone), engine, settings)


def blocking_scheduler(settings: Settings, engine: Engine) -> BlockingScheduler:
    return add_jobs(BlockingScheduler(timezone=settings.zone), engine, settings)
