"""Sweep speed: 200,000 active loans, of which 20,000 are due a reminder.

The floor is one hand-written `INSERT ... SELECT` that makes the same selection (the same
joins, date range, bundle rule and "not in the outbox yet" tests) and writes the same rows
with a placeholder body, timed with its commit on the same database in the same run (the
sweep must commit what it writes, and on SQLite the commit is where the written pages go
to disk, a cost a rolled-back floor would leave out). The ratio is the whole sweep (every
kind's selection, the due_soon reminders written by one INSERT ... SELECT worded in SQL,
the commit) to that floor; the goal is at most 2x. Peak
memory (Python allocations, traced) is measured at a tenth of the size too: flat means it
does not grow with the number of loans.

Run with `make bench`, or:
    .venv/bin/pytest tests/benchmarks/test_sweep_benchmark.py -s -o addopts=""
"""

import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from sqlalchemy import text

from lending.messages import service as messages
from notifications.timing import parse_sending_window
from tests.benchmarks.test_reports_benchmark import numbers

LOCATIONS = 10
GOAL = 2.0
# The goal; what is asserted is a bound that catches a regression to a loop over loans.
BOUND = 10.0
TIMING = messages.Timing(ZoneInfo("Europe/London"), parse_sending_window("09:00-20:00"))


def seed(engine, loans: int, today: date) -> None:
    """`loans` active loans on as many devices, one in ten due in two days (a due_soon
    reminder), the rest due in 10 to 25 days; one recipient per four loans, with mobiles;
    every loan issued a month ago (no receipts due). Each device has an older loan too,
    returned two months ago (no survey due): the history a running service keeps, which
    the sweep must not walk."""
    pg = engine.dialect.name == "postgresql"
    json = "CAST('{}' AS json)" if pg else "'{}'"
    array = "CAST('[]' AS json)" if pg else "'[]'"
    issued = "CAST(:issued AS timestamptz)" if pg else ":issued"
    long_ago = "CAST(:long_ago AS timestamptz)" if pg else ":long_ago"
    due = ("CAST(:today AS date) + (CASE WHEN i % 10 = 0 THEN 2 ELSE 10 + i % 16 END)" if pg
           else "date(:today, '+' || (CASE WHEN i % 10 = 0 THEN 2 ELSE 10 + i % 16 END) "
                "|| ' days')")
    recipients = loans // 4
    statements = [
        "DELETE FROM outbox", "DELETE FROM loans", "DELETE FROM recipients",
        "DELETE FROM devices", "DELETE FROM locations",
        f"INSERT INTO locations (id, code, name, address, nation, opening_days) "
        f"SELECT i + 1, 'L' || i, 'Office ' || i, '', 'ENG', '12345' "
        f"FROM {numbers(pg, LOCATIONS)}",
        f"INSERT INTO devices (id, asset_tag, kind, make, model, status, condition, "
        f"location_id, notes) SELECT i + 1, 'B' || i, CASE i % 3 WHEN 0 THEN 'laptop' "
        f"WHEN 1 THEN 'phone' ELSE 'tablet' END, 'Make', 'Model', 'on_loan', 'A', "
        f"1 + i % {LOCATIONS}, '' FROM {numbers(pg, loans)}",
        f"INSERT INTO recipients (id, name, mobile, language, location_id, facts, "
        f"device_restriction, sms_opt_out, status, created_at) SELECT i + 1, "
        f"'Person ' || i, '+4474' || CAST(10000000 + i AS TEXT), CASE WHEN i % 5 = 0 THEN "
        f"'cy' ELSE 'en' END, 1 + i % {LOCATIONS}, {json}, false, false, 'active', "
        f"{issued} FROM {numbers(pg, recipients)}",
        f"INSERT INTO loans (id, device_id, recipient_id, status, issued_at, issued_by, "
        f"due_on, renewals, accessories, agreement_accepted_at, missing_accessories, "
        f"return_notes, stolen, lost_notes) SELECT i + 1, i + 1, 1 + i % {recipients}, "
        f"'active', {issued}, 'bench', {due}, 0, {array}, {issued}, {array}, '', false, '' "
        f"FROM {numbers(pg, loans)}",
        f"INSERT INTO loans (id, device_id, recipient_id, status, issued_at, issued_by, "
        f"due_on, renewals, accessories, agreement_accepted_at, missing_accessories, "
        f"return_notes, stolen, lost_notes, returned_at) SELECT {loans} + i + 1, i + 1, "
        f"1 + i % {recipients}, 'returned', {long_ago}, 'bench', {due}, 0, {array}, "
        f"{long_ago}, {array}, '', false, '', {long_ago} FROM {numbers(pg, loans)}",
    ]
    parameters = {"issued": datetime.now(UTC) - timedelta(days=30), "today": today,
                  "long_ago": datetime.now(UTC) - timedelta(days=60)}
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), parameters)
        if pg:
            for table in ("locations", "devices", "recipients", "loans"):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if pg else "ANALYZE"))


def floor_sql(pg: bool) -> str:
    text_of = "CAST({} AS TEXT)"
    key = (f"'loan:' || {text_of.format('l.id')} || ':due_soon:' || "
           f"{text_of.format('l.due_on')}")
    return f"""
        INSERT INTO outbox (key, "to", language, kind, body, status, attempts,
                            next_attempt_at, reference, recipient_id, loan_id, created_at,
                            updated_at)
        SELECT {key}, r.mobile, r.language, 'due_soon', 'Hi ' || r.name || ', your ' ||
               d.kind || ' is due back at ' || o.name, 'queued', 0, :now,
               'f' || {text_of.format('l.id')}, r.id, l.id, :now, :now
        FROM loans l JOIN recipients r ON r.id = l.recipient_id
        JOIN devices d ON d.id = l.device_id JOIN locations o ON o.id = d.location_id
        WHERE l.status = 'active' AND l.due_on >= :low AND l.due_on <= :high
          AND r.mobile IS NOT NULL AND r.mobile != ''
          AND NOT EXISTS (SELECT 1 FROM loans p WHERE p.id = l.with_loan_id
                          AND p.status = 'active')
          AND NOT EXISTS (SELECT 1 FROM outbox m WHERE m.loan_id = l.id AND m.key = {key})
          AND NOT EXISTS (SELECT 1 FROM outbox m WHERE m.loan_id IN (l.id,
                          coalesce(l.with_loan_id, l.id)) AND m.kind IN ('final_overdue',
                          'overdue', 'due_today', 'due_soon', 'plan_ending')
                          AND m.created_at >= :day_start)
        ON CONFLICT (key) DO NOTHING"""


def time_floor(engine, now: datetime, today: date) -> tuple[float, int]:
    pg = engine.dialect.name == "postgresql"
    day_start = datetime.combine(today, clock(0), tzinfo=TIMING.zone).astimezone(UTC)
    with engine.connect() as connection:
        started = time.perf_counter()
        result = connection.execute(text(floor_sql(pg)), {
            "now": now, "low": today + timedelta(days=1), "high": today + timedelta(days=2),
            "day_start": day_start})
        connection.commit()  # the sweep commits what it writes: so does the floor
        elapsed = time.perf_counter() - started
    return elapsed, result.rowcount


def clear_outbox(engine) -> None:
    """Empties the outbox; on SQLite also writes the log back into the database file, so
    that each timed write starts from the same state and pays only for its own pages."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox"))
    if engine.dialect.name == "sqlite":
        connection = engine.raw_connection()  # outside any transaction, as it must be
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()


def test_sweep_over_200000_active_loans(engine):
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(TIMING.zone).date()
    peaks = {}
    for loans in (20_000, 200_000):
        seed(engine, loans, today)
        floors, sweeps = [], []
        for _ in range(5):  # alternating, best of five: the machine is shared
            floor, floor_rows = time_floor(engine, now, today)
            floors.append(floor)
            clear_outbox(engine)
            started = time.perf_counter()
            report = messages.sweep(engine, TIMING, now=now)
            sweeps.append(time.perf_counter() - started)
            assert report.queued == {"due_soon": loans // 10} == {"due_soon": floor_rows}
            assert messages.sweep(engine, TIMING, now=now).total == 0  # idempotent
            clear_outbox(engine)
        tracemalloc.start()
        messages.sweep(engine, TIMING, now=now)
        peaks[loans] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        clear_outbox(engine)
        ratio = min(sweeps) / min(floors)
        print(f"\n[{engine.dialect.name}] sweep over {loans:,} active loans, "
              f"{loans // 10:,} due: {min(sweeps) * 1000:.0f} ms; hand-written INSERT ... SELECT "
              f"{min(floors) * 1000:.0f} ms; ratio {ratio:.2f}x (goal <= {GOAL}x); peak memory "
              f"{peaks[loans] / 1e6:.1f} MB")
    print(f"[{engine.dialect.name}] peak memory at 200,000 loans / at 20,000: "
          f"{peaks[200_000] / peaks[20_000]:.2f}")
    assert peaks[200_000] < 2 * peaks[20_000]
    assert ratio <= BOUND, f"{ratio:.2f}x"
