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
from lending.settings import Settings
from lending.vouchers.service import expire_vouchers
from lending.waitlist.service import expire_offers

log = logging.getLogger("lending.scheduler")

WAITLIST_MINUTES = 10
VOUCHER_MINUTES = 60


def pass_on_expired_offers(engine: Engine) -> None:
    with session_for(engine, actor="scheduler") as session:
        result = expire_offers(session)
    if result["expired"] or result["offered"]:
        log.info("waitlist: %d offer(s) expired, %d made", len(result["expired"]),
                 len(result["offered"]))


def expire_data_vouchers(engine: Engine, settings: Settings) -> None:
    """Vouchers past their expiry date leave the available stock."""
    with session_for(engine, actor="scheduler") as session:
        expired = expire_vouchers(session, settings.today())
    if expired:
        log.info("vouchers: %d expired unused", expired)


def add_jobs(scheduler: BaseScheduler, engine: Engine,
             settings: Settings | None = None) -> BaseScheduler:
    scheduler.add_job(pass_on_expired_offers, "interval", minutes=WAITLIST_MINUTES,
                      args=[engine], id="waitlist-offers", coalesce=True, max_instances=1,
                      replace_existing=True)
    if settings is not None:
        # Hourly, so that a voucher leaves the stock within the hour after its last day.
        scheduler.add_job(expire_data_vouchers, "interval", minutes=VOUCHER_MINUTES,
                          args=[engine, settings], id="voucher-expiry", coalesce=True,
                          max_instances=1, replace_existing=True)
    return scheduler


def background_scheduler(settings: Settings, engine: Engine) -> BackgroundScheduler:
    return add_jobs(BackgroundScheduler(timezone=settings.zone), engine, settings)


def blocking_scheduler(settings: Settings, engine: Engine) -> BlockingScheduler:
    return add_jobs(BlockingScheduler(timezone=settings.zone), engine, settings)
