"""The weekly report: written by the scheduler every Monday at 07:00 (local time) into the
reports folder, listed and served by the API to managers and admins, and on the Reports page."""

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import ValidationError
from sqlalchemy import text

from lending.scheduler import WEEKLY_REPORT_LOCK, add_jobs, weekly_report_job
from lending.settings import Settings
from tests.lending.test_reports import build_world, pdf_text, sign_in

API = "/api/v1/reports"
LONDON = ZoneInfo("Europe/London")
# A Sunday afternoon: the next run is Monday 30 November 2026 at 07:00, and it covers
# Monday 23 to Sunday 29 November.
SUNDAY = datetime(2026, 11, 29, 15, 0, tzinfo=LONDON)
WEEK_NAME = "weekly-report-2026-11-23-to-2026-11-29.pdf"
LENDING = str(Path(sys.executable).with_name("lending"))


@pytest.fixture
def folder(settings, tmp_path) -> Path:
    """The reports folder, not made yet: the first report makes it."""
    settings.reports_dir = str(tmp_path / "kept" / "reports")
    return tmp_path / "kept" / "reports"


def fire_weekly(engine, settings) -> datetime:
    """Fire the scheduler's weekly job at the time its trigger gives after SUNDAY."""
    scheduler = add_jobs(BackgroundScheduler(timezone=settings.zone), engine, settings)
    job = scheduler.get_job("weekly-report")
    fire_at = job.trigger.get_next_fire_time(None, SUNDAY)
    assert fire_at == datetime(2026, 11, 30, 7, 0, tzinfo=LONDON)
    stored = job.func(fire_at)
    assert stored is not None and stored.name == WEEK_NAME
    return fire_at


def test_the_scheduler_writes_the_pdf_every_monday_at_seven(engine, settings, folder, client,
                                                              manager, office):
    response = client.post("/api/v1/devices", headers=manager, json={
        "kind": "laptop", "make": "Dell", "model": "Latitude", "location": office})
    assert response.status_code == 201, response.text
    fire_weekly(engine, settings)
    written = folder / WEEK_NAME
    assert written.is_file()
    pages = pdf_text(written.read_bytes())
    for number, page in enumerate(pages, start=1):
        assert "23 Nov 2026 to 29 Nov 2026, all locations" in page
        assert f"Page {number} of {len(pages)}" in page
    assert "Devices held 1" in " ".join(" ".join(pages).split())
    # A second scheduler (or a restart) firing for the same week writes nothing again.
    before = written.stat().st_mtime_ns
    again = weekly_report_job(engine, settings)(datetime(2026, 11, 30, 7, 0, 5, tzinfo=LONDON))
    assert again is not None and again.name == WEEK_NAME
    assert written.stat().st_mtime_ns == before
    assert [p.name for p in folder.iterdir()] == [WEEK_NAME]


def test_the_day_and_time_are_configurable_or_off(engine, settings, folder):
    settings.weekly_report = "fri 17:30"
    job = add_jobs(BackgroundScheduler(timezone=settings.zone), engine,
                   settings).get_job("weekly-report")
    assert job.trigger.get_next_fire_time(None, SUNDAY) == datetime(
        2026, 12, 4, 17, 30, tzinfo=LONDON)
    settings.weekly_report = "off"
    assert add_jobs(BackgroundScheduler(), engine, settings).get_job("weekly-report") is None
    with pytest.raises(ValidationError, match="weekly_report") as error:
        Settings(weekly_report="monday 7am", _env_file=None)
    assert "mon 07:00" in str(error.value)


def test_only_the_instance_holding_the_lock_writes_it(engine, settings, folder):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite is one file on one machine: there is no other instance")
    with engine.connect() as other:
        assert other.execute(text("SELECT pg_try_advisory_lock(:k)"),
                             {"k": WEEKLY_REPORT_LOCK}).scalar()
        assert weekly_report_job(engine, settings)(SUNDAY) is None
        assert not folder.exists()
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": WEEKLY_REPORT_LOCK})
        other.commit()
    assert weekly_report_job(engine, settings)(SUNDAY) is not None


def test_the_api_lists_and_serves_them_to_managers_and_admins(engine, settings, folder, client,
                                                             staff, manager, admin):
    empty = client.get(API, headers=manager)
    assert empty.status_code == 200
    assert empty.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    fire_weekly(engine, settings)
    weekly_report_job(engine, settings)(datetime(2026, 11, 23, 7, 0, tzinfo=LONDON))
    for headers in (manager, admin):
        listed = client.get(API, headers=headers)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert body["total"] == 2 and [item["name"] for item in body["items"]] == [
            WEEK_NAME, "weekly-report-2026-11-16-to-2026-11-22.pdf"]
        item = body["items"][0]
        assert item["date_from"] == "2026-11-23" and item["date_to"] == "2026-11-29"
        assert item["size_bytes"] == (folder / WEEK_NAME).stat().st_size > 1000
        assert datetime.fromisoformat(item["created_at"]).tzinfo is not None
        pdf = client.get(f"{API}/{WEEK_NAME}", headers=headers)
        assert pdf.status_code == 200
        assert pdf.headers["content-type"].startswith("application/pdf")
        assert pdf.content == (folder / WEEK_NAME).read_bytes()
    paged = client.get(API, params={"limit": 1, "offset": 1}, headers=manager).json()
    assert paged["total"] == 2 and len(paged["items"]) == 1
    assert client.get(API, headers=staff).status_code == 403
    assert client.get(f"{API}/{WEEK_NAME}", headers=staff).status_code == 403
    assert client.get(API).status_code == 401


@pytest.mark.parametrize("name", [
    "..%2Fsecret.pdf", "..%2F..%2Fsecret.pdf", "%2E%2E%2Fsecret.pdf", "..%5Csecret.pdf",
    "%2Fetc%2Fpasswd", "%2F" + "tmp%2Fsecret.pdf", "notes.pdf", ".writing-x.pdf",
    "weekly-report-2026-13-01-to-2026-13-07.pdf", f"{WEEK_NAME}%00", f"{WEEK_NAME}%00.pdf",
    "%FF%FE", "weekly-report-%E2%80%AE.pdf", f"x{WEEK_NAME}", WEEK_NAME.upper(),
    "weekly-report-2026-11-16-to-2026-11-22.pdf"])
def test_a_name_that_is_not_one_of_ours_is_not_found(engine, settings, folder, client,
                                                      manager, name):
    fire_weekly(engine, settings)
    for path in (folder.parent / "secret.pdf", folder / "notes.pdf", folder / ".writing-x.pdf"):
        path.write_bytes(b"%PDF NOT-TO-BE-SERVED")
    response = client.get(f"{API}/{name}", headers=manager)
    assert response.status_code == 404, (name, response.status_code)
    assert b"NOT-TO-BE-SERVED" not in response.content


@pytest.mark.parametrize("path", ["//etc/passwd", "/../../etc/passwd", "/%2e%2e/secret.pdf"])
def test_absolute_and_climbing_paths_are_not_found(engine, settings, folder, client, manager,
                                                   path):
    fire_weekly(engine, settings)
    response = client.get(f"{API}{path}", headers=manager)
    assert response.status_code in (404, 405), (path, response.status_code)
    assert b"root:" not in response.content


def test_the_reports_page_lists_them_with_links(engine, settings, folder, client, office):
    sign_in(client, engine, "manager")
    page = client.get("/reports")
    assert page.status_code == 200
    assert "Weekly reports" in page.text and "No weekly report has been written yet" in page.text
    assert "Monday at 07:00" in page.text
    fire_weekly(engine, settings)
    page = client.get("/reports")
    assert f'href="/api/v1/reports/{WEEK_NAME}"' in page.text
    assert "23 Nov 2026 to 29 Nov 2026" in page.text
    assert "No weekly report has been written yet" not in page.text


def test_the_command_writes_one_by_hand(database_url, tmp_path, office):
    folder = tmp_path / "by-hand"
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
           "LENDING_REPORTS_DIR": str(folder)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([LENDING, "report", "weekly", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)

    done = run("--now", "2026-11-30T07:00")
    assert done.returncode == 0, done.stderr
    assert WEEK_NAME in done.stdout and (folder / WEEK_NAME).is_file()
    assert "23 Nov 2026 to 29 Nov 2026" in pdf_text((folder / WEEK_NAME).read_bytes())[0]
    bad = run("--now", "last monday")
    assert bad.returncode == 1 and "--now" in bad.stderr and "Traceback" not in bad.stderr


def test_the_low_stock_thresholds_come_from_the_policy_file(engine, settings, tmp_path):
    from eligibility import load_policy
    from lending.db import session_for
    from lending.reports import service
    from tests.eligibility.eligibility_policy_texts import edited_default

    world = build_world(engine, settings)
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(edited_default((
        "low_stock_threshold = 3\n",
        "low_stock_threshold = 2\n[stock.low_stock_by_kind]\nsim = 0\nphone = 5\n")))
    stock = load_policy(str(policy_file)).stock
    with session_for(engine, read_only=True) as session:
        scope = service.report_scope(session, world.today, settings.zone)
        report = service.build_stock_report(session, scope, stock)
        default = service.build_stock_report(session, scope, load_policy(None).stock)
    low = report.table("low_stock")
    assert ["LDN", "sim", 1, 3] in default.table("low_stock").rows
    assert all(row[1] != "sim" for row in low.rows)  # 0: never flagged
    assert all(row[3] == (5 if row[1] == "phone" else 2) for row in low.rows)
    assert all(row[2] < row[3] for row in low.rows) and ["MAN", "phone", 1, 5] in low.rows
    assert "2; phone 5, sim 0" in low.definition
    assert report.figure("low_stock_pairs").value == len(low.rows)
