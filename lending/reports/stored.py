"""The weekly report: the stock report's PDF for the seven days before the day it is written,
kept in the reports folder, listed, and served by name.

A stored report's name is the only thing a caller gives, and it is never joined to a path
as given: a name must match the weekly pattern (a strict regular expression) and be one of
the files the folder lists, so that `../`, an absolute path or an odd byte is simply not
one of ours (404).
"""

import os
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from eligibility import StockPolicy
from inventory.service import NotFound
from lending.db import session_for
from lending.reports.pdf import render_pdf
from lending.reports.schemas import StoredReport
from lending.reports.service import build_stock_report, report_scope

WEEK_DAYS = 7
NAME = re.compile(r"weekly-report-(\d{4}-\d{2}-\d{2})-to-(\d{4}-\d{2}-\d{2})\.pdf")


def weekly_name(date_from: date, date_to: date) -> str:
    """A file name that sorts by date: weekly-report-2026-11-23-to-2026-11-29.pdf."""
    return f"weekly-report-{date_from.isoformat()}-to-{date_to.isoformat()}.pdf"


def week_before(day: date) -> tuple[date, date]:
    """The seven days before `day` (run on a Monday: Monday to Sunday of last week)."""
    return day - timedelta(days=WEEK_DAYS), day - timedelta(days=1)


def _parsed(name: str) -> tuple[date, date] | None:
    match = NAME.fullmatch(name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match[1]), date.fromisoformat(match[2])
    except ValueError:
        return None


def _stored(path: Path, zone: ZoneInfo) -> StoredReport | None:
    period = _parsed(path.name)
    if period is None or not path.is_file():
        return None
    try:
        stat = path.stat()
    except OSError:  # removed a moment ago
        return None
    return StoredReport(name=path.name, date_from=period[0], date_to=period[1],
                        size_bytes=stat.st_size,
                        created_at=datetime.fromtimestamp(stat.st_mtime, UTC).astimezone(zone))


def _files(folder: Path) -> list[Path]:
    """The folder's entries; none when it is missing or cannot be read."""
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def list_stored_reports(folder: Path, zone: ZoneInfo) -> list[StoredReport]:
    """The weekly reports in the folder, newest period first (none if it does not exist)."""
    found = (_stored(path, zone) for path in _files(folder))
    return sorted((report for report in found if report is not None),
                  key=lambda report: report.name, reverse=True)


def stored_report_path(folder: Path, name: str) -> Path:
    """The file of one stored report, by its name; NotFound for any name not one of ours."""
    if _parsed(name) is not None:
        for path in _files(folder):
            if path.name == name and path.is_file():
                return path
    raise NotFound("no stored report has that name", "name")


def read_stored_report(folder: Path, name: str) -> bytes:
    """The PDF of one stored report; NotFound for any name not one of ours."""
    path = stored_report_path(folder, name)
    try:
        return path.read_bytes()
    except OSError as error:  # removed since it was listed
        raise NotFound("no stored report has that name", "name") from error


def write_weekly_report(engine: Engine, folder: Path, now: datetime, zone: ZoneInfo,
                        stock: StockPolicy, organisation: str, replace: bool = False
                        ) -> tuple[StoredReport, bool]:
    """Write the PDF of the seven days before `now`'s local date, every location, into the
    folder (made if missing). A report already there is kept unless `replace`, so that a
    second scheduler, or a run after a restart, writes nothing twice. Returns the stored
    report and whether it was written now."""
    today = now.astimezone(zone).date()
    date_from, date_to = week_before(today)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / weekly_name(date_from, date_to)
    if path.exists() and not replace:
        report = _stored(path, zone)
        assert report is not None
        return report, False
    with session_for(engine, actor="scheduler", read_only=True) as session:
        scope = report_scope(session, today, zone, None, date_from, date_to)
        report = build_stock_report(session, scope, stock)
    pdf = render_pdf(report, organisation)
    # Written beside its final name and renamed, so that a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".writing-", suffix=".pdf")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(pdf)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    stored = _stored(path, zone)
    assert stored is not None
    return stored, True
