"""The scheduler: in-process with `lending serve`, or alone; its jobs run against the DB."""

import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from litestar.testing import TestClient

from lending.app import create_app
from lending.scheduler import add_jobs, apply_retention, pass_on_expired_offers


def scheduler_running() -> bool:
    return any(thread.name == "APScheduler" for thread in threading.enumerate())


def test_the_in_process_scheduler_runs_with_the_app_and_stops_with_it(settings, engine):
    with TestClient(create_app(settings, engine)):
        assert not scheduler_running()  # LENDING_SCHEDULER=off
    settings.scheduler = "on"
    with TestClient(create_app(settings, engine)) as client:
        assert client.get("/health").status_code == 200
        assert scheduler_running()
    deadline = time.monotonic() + 5
    while scheduler_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not scheduler_running()


def test_the_jobs_are_registered_and_run(engine, settings):
    scheduler = add_jobs(BackgroundScheduler(), engine, settings)
    assert [job.id for job in scheduler.get_jobs()] == ["waitlist-offers", "retention",
                                                        "text-messages", "voucher-expiry",
                                                        "weekly-report"]
    pass_on_expired_offers(engine)  # nothing waiting: runs cleanly on an empty database
    apply_retention(engine, settings.retention_months)
