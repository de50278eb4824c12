"""Background jobs (APScheduler 3): run inside `lending serve` unless LENDING_SCHEDULER=off,
or alone as `lending scheduler` when several web instances share one database.

Each job is a service function that is safe to run from several schedulers at once (rows
are claimed with SKIP LOCKED, business keys are unique), so a second scheduler started by
mistake duplicates nothing.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine, text

from eligibility import load_policy
from lending.db import is_sqlite, session_for
from lending.messages import service as messages
from lending.privacy.service import pseudonymise_due
from lending.reports.schemas import StoredReport
from lending.reports.stored import write_weekly_report
from lending.settings import Settings, get_settings
from lending.vouchers.service import expire_vouchers
from lending.waitlist.service import expire_offers

log = logging.getLogger("lending.scheduler")

WAITLIST_MINUTES = 10
# On PostgreSQL, the text-message job runs only in the instance holding this lock.
SMS_LOCK = 0x1E4D0A
VOUCHER_MINUTES = 60
# On PostgreSQL, the weekly report is written only by the instance holding this lock.
WEEKLY_REPORT_LOCK = 0x1E4D0B
# A weekly report missed by up to this long (the scheduler was busy) is still written.
WEEKLY_REPORT_GRACE_SECONDS = 6 * 3600


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


@contextmanager
def holding_lock(engine: Engine, key: int) -> Iterator[bool]:
    """True while this process holds the PostgreSQL advisory lock `key` (taken without
    waiting: another instance holding it means this one skips its turn). SQLite, one file
    on one machine, serialises writers itself: always True."""
    if is_sqlite(engine):
        yield True
        return
    with engine.connect() as connection:
        held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                  {"key": key}).scalar()
        connection.commit()
        try:
            yield bool(held)
        finally:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


def text_messages_job(engine: Engine, settings: Settings
                      ) -> Callable[[datetime | None], messages.PassReport | None]:
    """The sweep then the dispatch, as one job; None when another instance runs it."""
    timing = messages.Timing.of(settings)
    policy = messages.MessagePolicy.from_policy(load_policy(settings.policy_file or None))
    provider = messages.provider_from(settings)

    def run(now: datetime | None = None) -> messages.PassReport | None:
        with holding_lock(engine, SMS_LOCK) as held:
            if not held:
                return None
            report = messages.run_once(engine, provider, timing, policy, now)
        if report.sweep.total or report.dispatch.sent or report.dispatch.failed:
            log.info("sms: %d queued, %d sent, %d failed", report.sweep.total,
                     report.dispatch.sent, report.dispatch.failed)
        return report

    return run


def expire_data_vouchers(engine: Engine, settings: Settings) -> None:
    """Vouchers past their expiry date leave the available stock."""
    with session_for(engine, actor="scheduler") as session:
        expired = expire_vouchers(session, settings.today())
    if expired:
        log.info("vouchers: %d expired unused", expired)


def weekly_report_job(engine: Engine, settings: Settings, replace: bool = False
                      ) -> Callable[[datetime | None], StoredReport | None]:
    """Write the stock report's PDF for the seven days before `now` (default: now) into the
    reports folder; None when another instance holds the lock. A report already written
    is kept unless `replace` (the command line replaces it)."""
    stock = load_policy(settings.policy_file or None).stock

    def run(now: datetime | None = None) -> StoredReport | None:
        with holding_lock(engine, WEEKLY_REPORT_LOCK) as held:
            if not held:
                return None
            report, written = write_weekly_report(
                engine, settings.reports_folder, now or datetime.now(UTC), settings.zone,
                stock, settings.organisation, replace=replace)
        if written:
            log.info("weekly report: wrote %s", report.name)
        return report

    return run


def add_jobs(scheduler: BaseScheduler, engine: Engine,
             settings: Settings | None = None) -> BaseScheduler:
    settings = settings or get_settings()
    scheduler.add_job(pass_on_expired_offers, "interval", minutes=WAITLIST_MINUTES,
                      args=[engine], id="waitlist-offers", coalesce=True, max_instances=1,
                      replace_existing=True)
    # Daily, in the small hours, when the desks are closed.
    scheduler.add_job(apply_retention, "cron", hour=2, minute=30,
                      args=[engine, settings.retention_months], id="retention",
                      coalesce=True, max_instances=1, replace_existing=True)
    scheduler.add_job(text_messages_job(engine, settings), "interval",
                      seconds=settings.sms_interval_seconds, id="text-messages", coalesce=True,
                      max_instances=1, replace_existing=True)
    # Hourly, so that a voucher leaves the stock within the hour after its last day.
    scheduler.add_job(expire_data_vouchers, "interval", minutes=VOUCHER_MINUTES,
                      args=[engine, settings], id="voucher-expiry", coalesce=True,
                      max_instances=1, replace_existing=True)
    # Weekly, by default on Monday at 07:00 local time (LENDING_WEEKLY_REPORT).
    if (weekly := settings.weekly_report_time) is not None:
        day, hour, minute = weekly
        scheduler.add_job(weekly_report_job(engine, settings), "cron", day_of_week=day,
                          hour=hour, minute=minute, id="weekly-report", coalesce=True,
                          max_instances=1, replace_existing=True,
                          misfire_grace_time=WEEKLY_REPORT_GRACE_SECONDS)
    return scheduler


def background_scheduler(settings: Settings, engine: Engine) -> BackgroundScheduler:
    return add_jobs(BackgroundScheduler(timezone=settings.zone), engine, settings)


def blocking_scheduler(settings: Settings, engine: Engine) -> BlockingScheduler:
    return add_jobs(BlockingScheduler(timezone=settings.zone), engine, settings)
