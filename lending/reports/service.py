"""Manager reports: stock, loans, losses and equal access, from set-based SQL aggregates.

Every figure is counted by the database (GROUP BY, conditional sums, percentiles); Python
only arranges the few aggregate rows that come back. A report reads models from inventory,
loans, recipients and the waitlist, and each office's last stocktake from the stocktakes
service; nothing below this layer imports it.

Periods are local dates in the service's time zone, turned into UTC instants once here.
"""

import csv
import io
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session

from eligibility import StockPolicy
from inventory.models import Device, DeviceKind, DeviceSource, DeviceStatus, Location, PlanChange
from inventory.service import Invalid, get_location
from lending.decisions.models import EligibilityDecision
from lending.loans.models import NOTHING, Loan, LoanStatus, Purpose
from lending.recipients.models import Recipient
from lending.reports.schemas import Figure, ReportPeriod, Section, StockReport, Table, Unit
from lending.stocktakes.service import last_stocktakes
from lending.vouchers.models import Voucher, VoucherStatus
from lending.waitlist.models import OPEN_STATUSES, RequestStatus, WaitlistRequest
from notifications.models import ErrorCode, Message, MessageStatus, Reply
from notifications.texts import Kind

DEVICES = Device.__table__
LOANS = Loan.__table__
LOCATIONS = Location.__table__
DECISIONS = EligibilityDecision.__table__
RECIPIENTS = Recipient.__table__
WAITLIST = WaitlistRequest.__table__
VOUCHERS = Voucher.__table__
# The rate that stock is given at, for the weeks of stock left: the last four weeks.
VOUCHER_RATE_DAYS = 28
PLAN_CHANGES = PlanChange.__table__

DEFAULT_PERIOD_DAYS = 28
MAX_PERIOD_DAYS = 3660
PLAN_WARNING_DAYS = 30
TREND_MONTHS = 12
OVERDUE_BANDS = (("overdue_1_7", "1-7", 1, 7), ("overdue_8_28", "8-28", 8, 28),
                 ("overdue_29_plus", "29+", 29, None))
# Reasons that explain a yes rather than stand in the way (see recipients.service).
SUPPORTING_CODES = ("need_shown", "checks_passed", "declaration_recorded")
PLAN_KINDS = (DeviceKind.sim.value, DeviceKind.hotspot.value)
OUT_OF_STOCK = (DeviceStatus.lost.value, DeviceStatus.retired.value)


# --- the period and its filters -------------------------------------------------------------


class Scope:
    """What a report covers: local dates, their UTC instants, and an optional location."""

    def __init__(self, date_from: date, date_to: date, today: date, zone: ZoneInfo,
                 location: Location | None) -> None:
        self.date_from, self.date_to, self.today, self.zone = date_from, date_to, today, zone
        self.location = location
        self.start = self.instant(date_from)
        self.end = self.instant(date_to + timedelta(days=1))
        self.now = datetime.now(UTC)

    def instant(self, day: date) -> datetime:
        """The UTC instant a local day begins."""
        return datetime.combine(day, time(0), self.zone).astimezone(UTC)

    @property
    def location_id(self) -> int | None:
        return self.location.id if self.location else None


def report_scope(session: Session, today: date, zone: ZoneInfo, location: str | None = None,
                 date_from: date | None = None, date_to: date | None = None) -> Scope:
    """The period (default: the last 28 days, today included) and the location, checked."""
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if date_from > date_to:
        raise Invalid(f"the period starts ({date_from}) after it ends ({date_to})", "from")
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise Invalid(f"a period is at most {MAX_PERIOD_DAYS} days", "from")
    found = get_location(session, location) if location else None
    return Scope(date_from, date_to, today, zone, found)


# --- dialect helpers -------------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _days_between(session: Session, start: ColumnElement, end: ColumnElement) -> ColumnElement:
    if _is_postgres(session):
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def _utc_date(session: Session, moment: ColumnElement) -> ColumnElement:
    if _is_postgres(session):
        return cast(func.timezone("UTC", moment), Date)
    return func.date(moment)


def _json_items(session: Session, column: ColumnElement):
    """The items of a JSON array of strings, one row per item: (table, value column)."""
    if _is_postgres(session):
        items = func.json_array_elements_text(column).table_valued("value")
        return items, items.c.value
    items = func.json_each(column).table_valued("value")
    return items, items.c.value


def _reason_codes(session: Session):
    """The reasons of each decision, one row per reason: (decision id, code)."""
    if _is_postgres(session):
        reasons = func.json_array_elements(DECISIONS.c.reasons).table_valued("value")
        return reasons, reasons.c.value.op("->>")("code")
    reasons = func.json_each(DECISIONS.c.reasons).table_valued("value")
    return reasons, func.json_extract(reasons.c.value, "$.code")


def percentiles(session: Session, values: Select, fractions: tuple[float, ...]
                ) -> list[float | None]:
    """Continuous percentiles (as PostgreSQL's percentile_cont) of a one-column query.

    PostgreSQL computes them itself; on SQLite one query ranks the values (window
    functions) and returns only the one or two each percentile falls between."""
    inner = values.subquery()
    value = inner.c[0]
    if _is_postgres(session):
        row = session.execute(select(*[
            func.percentile_cont(fraction).within_group(value) for fraction in fractions
        ]).select_from(inner)).one()
        return [None if v is None else float(v) for v in row]
    # One ordered pass: each value's rank and the count, keeping only the one or two rows
    # each percentile falls between.
    ranked = select(value.label("v"), func.row_number().over(order_by=value).label("rank"),
                    func.count().over().label("n")).where(value.is_not(None)).subquery()

    def below(fraction: float):
        return cast(fraction * (ranked.c.n - 1), Integer) + 1

    rows = session.execute(select(ranked.c.v, ranked.c.rank, ranked.c.n).where(or_(*[
        ranked.c.rank.between(below(f), below(f) + 1) for f in fractions]))).all()
    if not rows:
        return [None for _ in fractions]
    count = rows[0].n
    by_rank = {row.rank: float(row.v) for row in rows}
    results: list[float | None] = []
    for fraction in fractions:
        position = fraction * (count - 1)
        low = math.floor(position)
        start = by_rank[low + 1]
        results.append(start + (by_rank.get(low + 2, start) - start) * (position - low))
    return results


def _monthly_medians(session: Session, month: ColumnElement, days: ColumnElement,
                     where: list[ColumnElement], join) -> dict[str, float]:
    """Median of `days` per month, with window functions (the same SQL on both engines).
    Each row's month and days are worked out once, below the windows that rank them."""
    each = select(month.label("month"), days.label("days")).select_from(join).where(
        *where).subquery()
    ranked = select(each.c.month, each.c.days,
                    func.row_number().over(partition_by=each.c.month, order_by=each.c.days)
                    .label("rank"),
                    func.count().over(partition_by=each.c.month).label("n")).subquery()
    middle = or_(ranked.c.rank == (ranked.c.n + 1) // 2, ranked.c.rank == (ranked.c.n + 2) // 2)
    rows = session.execute(select(ranked.c.month, func.avg(ranked.c.days))
                           .where(middle).group_by(ranked.c.month)).all()
    return {m: float(v) for m, v in rows}


# --- presentation helpers --------------------------------------------------------------------


def display(value: int | float | None, unit: Unit) -> str:
    """How a value is written in the PDF, the page and the CSV's display column."""
    if value is None:
        return "none to measure"
    if unit == "pence":
        return f"£{value / 100:,.2f}"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "days":
        return f"{value:,.1f} days" if isinstance(value, float) else f"{value:,} days"
    if unit == "gigabytes":
        return f"{value:,g} GB"
    if unit == "weeks":
        return f"{value:,.1f} weeks"
    return f"{value:,}"


def figure(key: str, label: str, value: int | float | None, unit: Unit, definition: str
           ) -> Figure:
    if isinstance(value, float):
        value = round(value, 1)
    return Figure(key=key, label=label, value=value, unit=unit, display=display(value, unit),
                  definition=definition)


def _age_days(scope: Scope, moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return (scope.today - moment.astimezone(scope.zone).date()).days


def _months(scope: Scope) -> list[tuple[str, datetime, datetime]]:
    """The twelve calendar months ending with the period's last: (YYYY-MM, start, end)."""
    first = scope.date_to.replace(day=1)
    months = []
    for back in range(TREND_MONTHS - 1, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        start = date(year, month + 1, 1)
        following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
        months.append((start.strftime("%Y-%m"), scope.instant(start), scope.instant(following)))
    return months


# --- stock -----------------------------------------------------------------------------------


def _device_filter(scope: Scope) -> list[ColumnElement]:
    return [DEVICES.c.location_id == scope.location_id] if scope.location else []


def _thresholds_line(stock: StockPolicy) -> str:
    """The low stock thresholds in words: "3 for every kind", "3; sim 10"."""
    if not stock.low_stock_by_kind:
        return f"{stock.low_stock_threshold} for every kind"
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(stock.low_stock_by_kind.items()))
    return f"{stock.low_stock_threshold}; {kinds}"


def stock_section(session: Session, scope: Scope, stock: StockPolicy) -> Section:
    where = _device_filter(scope)
    by_group = session.execute(
        select(LOCATIONS.c.code, DEVICES.c.kind, DEVICES.c.status, func.count())
        .select_from(DEVICES.join(LOCATIONS, LOCATIONS.c.id == DEVICES.c.location_id))
        .where(*where)
        .group_by(LOCATIONS.c.code, DEVICES.c.kind, DEVICES.c.status)
        .order_by(LOCATIONS.c.code, DEVICES.c.kind, DEVICES.c.status)).all()
    statuses = [status.value for status in DeviceStatus]
    by_status = dict.fromkeys(statuses, 0)
    by_location: dict[str, dict[str, int]] = {}
    by_location_kind: dict[tuple[str, str], dict[str, int]] = {}
    for code, kind, status, count in by_group:
        by_status[status] = by_status.get(status, 0) + count
        by_location.setdefault(code, dict.fromkeys(statuses, 0))[status] += count
        by_location_kind.setdefault((code, kind), dict.fromkeys(statuses, 0))[status] += count

    # A device waits for a wipe from when its last loan (the highest id) ended: one index
    # look-up per waiting device, never a pass over every loan.
    last_ended = (select(func.coalesce(LOANS.c.found_at, LOANS.c.returned_at))
                  .where(LOANS.c.device_id == DEVICES.c.id)
                  .order_by(LOANS.c.id.desc()).limit(1).scalar_subquery())
    oldest_wipe = session.scalar(
        select(func.min(last_ended))
        .where(DEVICES.c.status == DeviceStatus.awaiting_wipe.value, *where))

    # One pass over the devices for the stock value and the data plans ending soon, or
    # ended on loan; and, from an index, the devices by where they came from (so that donors
    # and partners can be told what their gift did), held and on loan.
    held = DEVICES.c.status.not_in(OUT_OF_STOCK)
    on_loan = DEVICES.c.status == DeviceStatus.on_loan.value
    horizon = scope.today + timedelta(days=PLAN_WARNING_DAYS)
    with_plan = and_(DEVICES.c.kind.in_(PLAN_KINDS), DEVICES.c.plan_ends_on.is_not(None))

    def count_when(*conditions: ColumnElement) -> ColumnElement:
        return func.sum(case((and_(*conditions), 1), else_=0))

    value, unpriced, *plans = session.execute(
        select(func.sum(case((held, DEVICES.c.purchase_cost_pence), else_=None)),
               count_when(held, DEVICES.c.purchase_cost_pence.is_(None)),
               count_when(with_plan, DEVICES.c.plan_ends_on >= scope.today,
                          DEVICES.c.plan_ends_on <= horizon, held),
               count_when(with_plan, DEVICES.c.plan_ends_on < scope.today, on_loan))
        .where(*where)).one()
    devices_by_source = session.execute(
        select(DEVICES.c.source, DEVICES.c.source_name, count_when(held), count_when(on_loan))
        .where(*where).group_by(DEVICES.c.source, DEVICES.c.source_name)).all()
    loans_by_source = dict(((source, name), int(n)) for source, name, n in session.execute(
        select(DEVICES.c.source, DEVICES.c.source_name, func.count())
        .select_from(LOANS.join(DEVICES, DEVICES.c.id == LOANS.c.device_id))
        .where(_between(LOANS.c.issued_at, scope.start, scope.end), *where)
        .group_by(DEVICES.c.source, DEVICES.c.source_name)))
    by_source = sorted(
        [source, name or "-", int(n_held or 0), int(n_out or 0),
         loans_by_source.get((source, name), 0)]
        for source, name, n_held, n_out in devices_by_source)
    spent = session.scalar(
        select(func.sum(PLAN_CHANGES.c.cost_pence))
        .select_from(PLAN_CHANGES.join(DEVICES, DEVICES.c.id == PLAN_CHANGES.c.device_id))
        .where(_between(PLAN_CHANGES.c.recorded_at, scope.start, scope.end), *where))

    low = [[code, kind, counts[DeviceStatus.available.value], stock.threshold(kind)]
           for (code, kind), counts in sorted(by_location_kind.items())
           if counts[DeviceStatus.available.value] < stock.threshold(kind)
           and sum(counts[s] for s in statuses if s not in OUT_OF_STOCK) > 0]
    thresholds = _thresholds_line(stock)

    figures = [
        figure("devices_in_stock", "Devices held",
               sum(n for s, n in by_status.items() if s not in OUT_OF_STOCK), "count",
               "Devices not lost or retired, in any other status."),
        figure("available", "Available", by_status["available"], "count",
               "Devices wiped and ready to lend."),
        figure("on_loan", "On loan", by_status["on_loan"], "count",
               "Devices out with a recipient on an active loan."),
        figure("awaiting_wipe", "Awaiting a wipe", by_status["awaiting_wipe"], "count",
               "Devices back from a loan (or found) that need a recorded wipe before lending."),
        figure("awaiting_wipe_oldest_days", "Oldest wait for a wipe",
               _age_days(scope, oldest_wipe), "days",
               "Days since the loan of the longest-waiting device ended (return or find)."),
        figure("in_repair", "In repair", by_status["in_repair"], "count",
               "Devices away for repair."),
        figure("lost", "Lost", by_status["lost"], "count",
               "Devices recorded lost or stolen and not found since."),
        figure("retired", "Retired", by_status["retired"], "count",
               "Devices taken out of service for good."),
        figure("plans_ending_30_days", "Data plans ending within 30 days", int(plans[0] or 0),
               "count", "SIMs and hotspots (not lost or retired) whose plan ends between today "
               "and 30 days from today."),
        figure("on_loan_past_plan_end", "On loan past their plan's end", int(plans[1] or 0),
               "count", "SIMs and hotspots on loan whose data plan ended before today."),
        figure("low_stock_pairs", "Low stock (location and kind)", len(low), "count",
               f"Locations and kinds holding devices but fewer available than the policy's "
               f"threshold ({thresholds})."),
        figure("stock_value", "Stock value", int(value or 0), "pence",
               "Sum of purchase costs of devices not lost or retired."),
        figure("stock_without_cost", "Devices with no purchase cost", int(unpriced or 0),
               "count", "Devices not lost or retired whose purchase cost is not recorded "
               "(donated, or unknown): not in the stock value."),
        figure("data_spend", "Spent on data plans", int(spent or 0), "pence",
               "Cost of the renewals and top-ups of data plans recorded in the period."),
    ]
    tables = [
        Table(key="stock_by_location", title="Stock by location and status",
              definition="Devices at each location, by status.",
              columns=["location", *statuses, "total"],
              rows=[[code, *counts.values(), sum(counts.values())]
                    for code, counts in by_location.items()]),
        Table(key="stock_by_location_kind_status", title="Stock by location, kind and status",
              definition="Devices at each location of each kind in each status.",
              columns=["location", "kind", "status", "devices"],
              rows=[list(row) for row in by_group]),
        Table(key="low_stock", title="Low stock",
              definition=f"Location and kind pairs with fewer devices available than the "
              f"threshold in the policy file's [stock] table ({thresholds}).",
              columns=["location", "kind", "available", "threshold"], rows=low),
        Table(key="stock_by_source", title="Devices and loans by source",
              definition="Devices by where they came from (" + ", ".join(
                  source.value for source in DeviceSource) + ") and from whom: held (not "
              "lost or retired), on loan today, and loans of them issued in the period.",
              columns=["source", "from", "held", "on_loan", "loans_issued"],
              rows=by_source),
        last_stocktake_table(session, scope),
    ]
    return Section(key="stock", title="Stock", figures=figures, tables=tables)


STOCKTAKE_RESULT = ("expected", "found", "missing", "unexpected", "on_loan")


def last_stocktake_table(session: Session, scope: Scope) -> Table:
    """Each office's last closed stocktake (one query): the local date it closed, or
    "never", its number and its result as kept at closing. Counts only: who closed it is on
    the stocktake's own page, as names are nowhere in the report."""
    rows: list[list[str | int | None]] = []
    for entry in last_stocktakes(session, scope.location_id, scope.zone):
        counts = entry["counts"] or {}
        rows.append([entry["location"],
                     entry["closed_on"].isoformat() if entry["closed_on"] else "never",
                     entry["stocktake_id"], *[counts.get(key) for key in STOCKTAKE_RESULT]])
    return Table(key="last_stocktake", title="Last stocktake by office",
                 definition="Each office's last closed stocktake: the day it closed (never if "
                 "none has), its number, and its result: devices expected on the shelf, found, "
                 "missing, unexpected (scanned but not expected) and, apart, on loan.",
                 columns=["location", "closed_on", "stocktake", *STOCKTAKE_RESULT], rows=rows)


# --- loans -----------------------------------------------------------------------------------


def _loans_from(scope: Scope):
    """Loans, joined to their devices only when a location narrows them."""
    if scope.location:
        return LOANS.join(DEVICES, DEVICES.c.id == LOANS.c.device_id), [
            DEVICES.c.location_id == scope.location_id]
    return LOANS, []


def _between(column: ColumnElement, start: datetime, end: datetime) -> ColumnElement:
    return and_(column >= start, column < end)


def loans_section(session: Session, scope: Scope) -> Section:
    source, where = _loans_from(scope)
    today = scope.today
    active = LOANS.c.status == LoanStatus.active.value

    def band(low: int, high: int | None) -> ColumnElement:
        conditions = [LOANS.c.due_on <= today - timedelta(days=low)]
        if high is not None:
            conditions.append(LOANS.c.due_on >= today - timedelta(days=high))
        return func.sum(case((and_(*conditions), 1), else_=0))

    current = session.execute(
        select(func.count(),
               func.sum(case((and_(LOANS.c.due_on >= today,
                                   LOANS.c.due_on <= today + timedelta(days=6)), 1), else_=0)),
               *[band(low, high) for _, _, low, high in OVERDUE_BANDS])
        .select_from(source).where(active, *where)).one()
    active_count, due_week, *bands = (int(v or 0) for v in current)

    in_period = _between(LOANS.c.issued_at, scope.start, scope.end)
    issued = session.scalar(select(func.count()).select_from(source).where(in_period, *where))
    lost = session.scalar(select(func.count()).select_from(source).where(
        _between(LOANS.c.lost_at, scope.start, scope.end), *where))

    returned_in_period = [_between(LOANS.c.returned_at, scope.start, scope.end),
                          LOANS.c.status == LoanStatus.returned.value, *where]
    returned, on_time = session.execute(
        select(func.count(),
               func.sum(case((_utc_date(session, LOANS.c.returned_at) <= LOANS.c.due_on, 1),
                             else_=0)))
        .select_from(source).where(*returned_in_period)).one()
    returned, on_time = int(returned or 0), int(on_time or 0)

    # A renewal falls in the period only on a loan open at some time in it: still active,
    # or closed (returned or lost) after the period began. One part per status, so that
    # each reads its own index.
    issued_before_end = [LOANS.c.issued_at < scope.end] if scope.end < scope.now else []
    parts = union_all(*[
        select(LOANS.c.renewals).select_from(source)
        .where(*issued_before_end, LOANS.c.renewals > 0, *where, *condition)
        for condition in ([active],
                          [LOANS.c.status == LoanStatus.returned.value,
                           LOANS.c.returned_at >= scope.start],
                          [LOANS.c.status == LoanStatus.lost.value,
                           LOANS.c.lost_at >= scope.start])]).subquery()
    renewed, renewals = session.execute(
        select(func.count(), func.sum(parts.c.renewals))).one()

    length = _days_between(session, LOANS.c.issued_at, LOANS.c.returned_at)
    (median_length,) = percentiles(
        session, select(length).select_from(source).where(*returned_in_period), (0.5,))

    figures = [
        figure("active_loans", "Active loans", active_count, "count",
               "Loans not yet returned or lost, as of today."),
        figure("due_this_week", "Due this week", due_week, "count",
               "Active loans due between today and six days from today."),
        *[figure(key, f"Overdue {label} days", value, "count",
                 f"Active loans whose due date was {label} days before today.")
          for (key, label, _, _), value in zip(OVERDUE_BANDS, bands, strict=True)],
        figure("issued", "Loans issued", int(issued or 0), "count",
               "Loans issued in the period."),
        figure("returned", "Loans returned", returned, "count",
               "Loans returned in the period."),
        figure("returned_on_time_share", "Returned on time",
               100.0 * on_time / returned if returned else None, "percent",
               "Share of loans returned in the period that came back on or before their "
               "due date (UTC day of the return)."),
        figure("loans_renewed", "Loans renewed", int(renewed or 0), "count",
               "Loans open at some time in the period that have been renewed at least once."),
        figure("renewals", "Renewals", int(renewals or 0), "count",
               "Renewals in total on those loans."),
        figure("lost_loans", "Loans lost", int(lost or 0), "count",
               "Loans recorded lost or stolen in the period."),
        figure("loss_rate", "Losses over issues",
               100.0 * lost / issued if issued else None, "percent",
               "Loans lost in the period over loans issued in the period."),
        figure("median_loan_days", "Median loan length", median_length, "days",
               "Median days from issue to return of the loans returned in the period."),
    ]

    months = _months(scope)
    counts = [
        select(literal(label).label("month"),
               select(func.count()).select_from(source)
               .where(_between(LOANS.c.issued_at, start, end), *where).scalar_subquery()
               .label("issued"),
               select(func.count()).select_from(source)
               .where(_between(LOANS.c.returned_at, start, end), *where).scalar_subquery()
               .label("returned"))
        for label, start, end in months]
    trend = session.execute(union_all(*counts)).all()
    tables = [Table(
        key="loans_by_month", title="Loans issued and returned by month",
        definition="Loans issued, and loans returned, in each of the twelve months ending "
        "with the period's last month.",
        columns=["month", "issued", "returned"],
        rows=[[month, int(issued_n), int(returned_n)]
              for month, issued_n, returned_n in sorted(trend)])]
    return Section(key="loans", title="Loans", figures=figures, tables=tables)


# --- purposes, outcomes and the survey -------------------------------------------------------


def inclusion_section(session: Session, scope: Scope) -> Section:
    """What loans were for, what they helped with, and how much the recipients said they
    helped (the survey after the return, 1 to 5)."""
    source, where = _loans_from(scope)
    purposes, purpose = _json_items(session, LOANS.c.purposes)
    issued = session.execute(
        select(purpose, func.count()).select_from(source.join(purposes, true()))
        .where(_between(LOANS.c.issued_at, scope.start, scope.end), *where)
        .group_by(purpose)).all()
    issued_by = {name: int(n) for name, n in issued}
    unstated = session.scalar(
        select(func.count()).select_from(source)
        .where(_between(LOANS.c.issued_at, scope.start, scope.end), *where,
               func.json_array_length(LOANS.c.purposes) == 0))

    # Outcomes: loans returned in the period with what they helped with recorded, by each
    # of their purposes: helped with that purpose, or not.
    # Those loans are read once (MATERIALIZED), and three counts made of them in one
    # statement: by purpose, helped with that purpose, and helped with nothing.
    back = (select(LOANS.c.purposes, LOANS.c.helped_with).select_from(source)
            .where(_between(LOANS.c.returned_at, scope.start, scope.end), *where,
                   LOANS.c.helped_with.is_not(None))
            .cte("back").prefix_with("MATERIALIZED"))
    back_purposes, back_purpose = _json_items(session, back.c.purposes)
    outcomes, outcome = _json_items(session, back.c.helped_with)
    counted = session.execute(union_all(
        select(literal_column("'asked'"), back_purpose, func.count())
        .select_from(back.join(back_purposes, true())).group_by(back_purpose),
        select(literal_column("'helped'"), back_purpose, func.count())
        .select_from(back.join(back_purposes, true()).join(outcomes, true()))
        .where(outcome == back_purpose).group_by(back_purpose),
        select(literal_column("'nothing'"), literal_column(f"'{NOTHING}'"), func.count())
        .select_from(back.join(outcomes, true())).where(outcome == NOTHING))).all()
    asked_by = {name: int(n) for what, name, n in counted if what == "asked"}
    helped_by = {name: int(n) for what, name, n in counted if what == "helped"}
    nothing = sum(int(n) for what, _, n in counted if what == "nothing")

    answered = [_between(LOANS.c.survey_answered_at, scope.start, scope.end), *where,
                LOANS.c.survey_answer.is_not(None)]
    distribution = dict(session.execute(
        select(LOANS.c.survey_answer, func.count()).select_from(source).where(*answered)
        .group_by(LOANS.c.survey_answer)).all())
    answers = sum(distribution.values())
    mean = (sum(score * n for score, n in distribution.items()) / answers
            if answers else None)
    # The question goes out in the survey text after a return: how many went, to set the
    # answers against.
    outbox = Message.__table__
    asked = session.scalar(
        select(func.count()).select_from(source.join(outbox, outbox.c.loan_id == LOANS.c.id))
        .where(*where, outbox.c.kind == Kind.survey.value,
               _between(outbox.c.sent_at, scope.start, scope.end)))

    names = [p.value for p in Purpose]
    figures = [
        figure("loans_without_purpose", "Loans issued with no purpose recorded",
               int(unstated or 0), "count", "Loans issued in the period with no purpose."),
        figure("helped_with_nothing", "Returns that helped with nothing", int(nothing or 0),
               "count", "Loans returned in the period recorded as having helped with nothing."),
        figure("surveys_sent", "Surveys sent", int(asked or 0), "count",
               "Texts after a return asking how much the loan helped, sent in the period."),
        figure("survey_answers", "Survey answers", answers, "count",
               "Replies of 1 to 5 to the question after a return, received in the period."),
        figure("survey_mean", "Average survey answer", mean, "count",
               "The mean of those answers (5: helped a great deal)."),
    ]
    tables = [
        Table(key="loans_by_purpose", title="Loans issued by purpose",
              definition="Loans issued in the period for each purpose; a loan for several "
              "purposes counts under each.",
              columns=["purpose", "loans"],
              rows=[[name, issued_by.get(name, 0)] for name in names]),
        Table(key="outcomes_by_purpose", title="Outcomes by purpose",
              definition="Loans returned in the period with an outcome recorded, by purpose: "
              "how many, and how many helped with that purpose.",
              columns=["purpose", "returned", "helped"],
              rows=[[name, asked_by.get(name, 0), helped_by.get(name, 0)] for name in names]),
        Table(key="survey_distribution", title="Survey answers",
              definition="How much the loan helped, 1 (not at all) to 5 (a lot): "
              "replies received in the period.",
              columns=["answer", "replies"],
              rows=[[score, int(distribution.get(score, 0))] for score in range(1, 6)]),
    ]
    return Section(key="inclusion", title="Purposes and outcomes", figures=figures,
                   tables=tables)


# --- equal access ----------------------------------------------------------------------------


def access_section(session: Session, scope: Scope) -> Section:
    waiting_where = [WAITLIST.c.status.in_(OPEN_STATUSES)]
    if scope.location:
        waiting_where.append(WAITLIST.c.location_id == scope.location_id)
    waiting = session.execute(
        select(LOCATIONS.c.code, WAITLIST.c.kind, func.count(), func.min(WAITLIST.c.requested_at))
        .select_from(WAITLIST.join(LOCATIONS, LOCATIONS.c.id == WAITLIST.c.location_id))
        .where(*waiting_where).group_by(LOCATIONS.c.code, WAITLIST.c.kind)
        .order_by(LOCATIONS.c.code, WAITLIST.c.kind)).all()
    oldest_request = min((row[3] for row in waiting), default=None)

    # Over a year, the requests met are read first: there are far fewer of them than
    # loans, so each finds its loan by id (a correlated look-up, whatever the planner's
    # guess about the year's loans), once (MATERIALIZED: not once per use of the column).
    met_where = [WAITLIST.c.status == RequestStatus.fulfilled.value]
    if scope.location:
        met_where.append(WAITLIST.c.location_id == scope.location_id)
    met = select(WAITLIST.c.requested_at, select(LOANS.c.issued_at)
                 .where(LOANS.c.id == WAITLIST.c.loan_id).scalar_subquery()
                 .label("issued_at")).where(*met_where).cte("met").prefix_with("MATERIALIZED")
    wait = _days_between(session, met.c.requested_at, met.c.issued_at)
    # For one period, the other way round: its loans, each looking for a request it met.
    period_wait = _days_between(session, WAITLIST.c.requested_at, LOANS.c.issued_at)
    median_wait, p90_wait = percentiles(
        session, select(period_wait)
        .select_from(LOANS.join(WAITLIST, WAITLIST.c.loan_id == LOANS.c.id))
        .where(_between(LOANS.c.issued_at, scope.start, scope.end), *met_where), (0.5, 0.9))

    source, where = _loans_from(scope)
    in_period = _between(LOANS.c.issued_at, scope.start, scope.end)
    served = session.scalar(select(func.count(func.distinct(LOANS.c.recipient_id)))
                            .select_from(source).where(in_period, *where))
    earlier = LOANS.alias("earlier")
    first_time = session.scalar(
        select(func.count(func.distinct(LOANS.c.recipient_id))).select_from(source)
        .where(in_period, *where, ~exists().where(
            earlier.c.recipient_id == LOANS.c.recipient_id,
            earlier.c.issued_at < scope.start)))

    decided = [_between(DECISIONS.c.decided_at, scope.start, scope.end)]
    decisions_from = DECISIONS
    if scope.location:
        decisions_from = DECISIONS.join(RECIPIENTS, RECIPIENTS.c.id == DECISIONS.c.recipient_id)
        decided.append(RECIPIENTS.c.location_id == scope.location_id)
    outcomes = dict(session.execute(
        select(DECISIONS.c.outcome, func.count()).select_from(decisions_from)
        .where(DECISIONS.c.purpose == "issue", *decided)
        .group_by(DECISIONS.c.outcome)).all())
    reasons, code = _reason_codes(session)

    def by_code(*conditions: ColumnElement) -> list[list[str | int]]:
        rows = session.execute(
            select(code, func.count()).select_from(decisions_from.join(reasons, true()))
            .where(*conditions, *decided, code.not_in(SUPPORTING_CODES))
            .group_by(code).order_by(func.count().desc(), code)).all()
        return [[reason, int(n)] for reason, n in rows]

    refusals = by_code(DECISIONS.c.purpose == "issue", DECISIONS.c.outcome == "ineligible")
    overrides = by_code(DECISIONS.c.purpose == "override")
    override_count = session.scalar(
        select(func.count()).select_from(decisions_from)
        .where(DECISIONS.c.purpose == "override", *decided))

    months = _months(scope)
    month_cases = case(*[(_between(met.c.issued_at, start, end), literal(label))
                         for label, start, end in months], else_=literal(None))
    medians = _monthly_medians(
        session, month_cases, wait, [_between(
            met.c.issued_at, months[0][1], months[-1][2])], met)

    outcome_names = ("eligible", "needs_review", "ineligible")
    figures = [
        figure("requests_waiting", "Requests waiting", sum(int(r[2]) for r in waiting),
               "count", "Waitlist requests waiting for a device or holding an offer, now."),
        figure("oldest_request_days", "Oldest request waiting",
               _age_days(scope, oldest_request), "days",
               "Days since the longest-waiting open request was made."),
        figure("days_to_device_median", "Days from request to device (median)", median_wait,
               "days", "Median days from a waitlist request to the loan that met it, for "
               "loans issued in the period."),
        figure("days_to_device_p90", "Days from request to device (90th percentile)",
               p90_wait, "days", "Nine in ten requests met in the period were met within "
               "this many days."),
        figure("people_served", "People served", int(served or 0), "count",
               "Distinct recipients issued a loan in the period."),
        figure("first_time_recipients", "First-time recipients", int(first_time or 0),
               "count", "Recipients issued a loan in the period who had never had one "
               "before it."),
        *[figure(f"decisions_{name}", f"Decisions: {name.replace('_', ' ')}",
                 int(outcomes.get(name, 0)), "count",
                 f"Eligibility decisions made while issuing in the period with the outcome "
                 f"{name}.") for name in outcome_names],
        figure("overrides", "Manager overrides", int(override_count or 0), "count",
               "Eligibility outcomes set aside by a manager, with a written reason, in the "
               "period."),
    ]
    tables = [
        Table(key="requests_waiting", title="Requests waiting by location and kind",
              definition="Open waitlist requests, and days since the oldest was made.",
              columns=["location", "kind", "waiting", "oldest_days"],
              rows=[[loc, kind, int(n), _age_days(scope, oldest)]
                    for loc, kind, n, oldest in waiting]),
        Table(key="decisions_by_outcome", title="Decisions by outcome",
              definition="Eligibility decisions made while issuing in the period.",
              columns=["outcome", "decisions"],
              rows=[[name, int(outcomes.get(name, 0))] for name in outcome_names]),
        Table(key="refusals_by_reason", title="Refusals by reason code",
              definition="Reasons given for refusals in the period (a refusal may give "
              "several).", columns=["reason", "refusals"], rows=refusals),
        Table(key="overrides_by_reason", title="Overrides by reason code",
              definition="Reasons a manager set aside in the period.",
              columns=["reason", "overrides"], rows=overrides),
        Table(key="days_to_device_by_month", title="Days from request to device by month",
              definition="Median days from request to loan, by the month the loan was issued.",
              columns=["month", "median_days"],
              rows=[[label, round(medians[label], 1) if label in medians else None]
                    for label, _, _ in months]),
    ]
    return Section(key="access", title="Equal access", figures=figures, tables=tables)


def sms_section(session: Session, scope: Scope) -> Section:
    """Text messages in the period: sent, delivered, failed, not sent because the person
    opted out, and replies received; for an office, those of its recipients."""
    outbox = Message.__table__
    inbox = Reply.__table__
    where, reply_where = [], []
    if scope.location_id is not None:
        at_office = select(RECIPIENTS.c.id).where(
            RECIPIENTS.c.location_id == scope.location_id)
        where.append(outbox.c.recipient_id.in_(at_office))
        reply_where.append(inbox.c.recipient_id.in_(at_office))

    def count_when(*conditions) -> ColumnElement:
        return func.sum(case((and_(*conditions), 1), else_=0))

    sent_in_period = _between(outbox.c.sent_at, scope.start, scope.end)
    changed_in_period = _between(outbox.c.updated_at, scope.start, scope.end)
    row = session.execute(
        select(count_when(sent_in_period),
               count_when(sent_in_period,
                          outbox.c.status == MessageStatus.delivered.value),
               count_when(changed_in_period, outbox.c.status == MessageStatus.failed.value),
               count_when(changed_in_period, outbox.c.status == MessageStatus.cancelled.value,
                          outbox.c.error_code == ErrorCode.opted_out.value))
        .where(or_(sent_in_period, changed_in_period), *where)).one()
    sent, delivered, failed, opted_out = (int(value or 0) for value in row)
    replies = session.scalar(select(func.count()).select_from(inbox).where(
        _between(inbox.c.received_at, scope.start, scope.end), *reply_where))
    figures = [
        figure("sms_sent", "Texts sent", sent, "count",
               "Texts a provider accepted in the period."),
        figure("sms_delivered", "Texts delivered", delivered, "count",
               "Of those, texts the network reported delivered."),
        figure("sms_failed", "Texts failed", failed, "count",
               "Texts that failed in the period (a wrong number, or retries used up)."),
        figure("sms_opted_out", "Not sent: opted out", opted_out, "count",
               "Texts not sent in the period because the person replied STOP."),
        figure("sms_replies", "Replies received", int(replies or 0), "count",
               "Texts recipients sent us in the period (STOP and START included)."),
    ]
    return Section(key="sms", title="Text messages", figures=figures)


def vouchers_section(session: Session, scope: Scope) -> Section:
    """Data vouchers: given in the period by office, network and month; people helped with
    data only; expired unused; the stock by network and how many weeks it lasts at the rate
    of the last four weeks. Counts and gigabytes, never a code."""
    where = [VOUCHERS.c.location_id == scope.location_id] if scope.location else []
    issued = VOUCHERS.c.status == VoucherStatus.issued.value
    in_period = and_(issued, VOUCHERS.c.issued_at >= scope.start,
                     VOUCHERS.c.issued_at < scope.end)
    month = func.to_char(func.timezone("UTC", VOUCHERS.c.issued_at), "YYYY-MM") \
        if _is_postgres(session) else func.strftime("%Y-%m", VOUCHERS.c.issued_at)
    given = session.execute(
        select(LOCATIONS.c.code, VOUCHERS.c.network, month.label("month"), func.count(),
               func.sum(VOUCHERS.c.data_gb))
        .select_from(VOUCHERS.join(LOCATIONS, LOCATIONS.c.id == VOUCHERS.c.location_id))
        .where(in_period, *where)
        .group_by(LOCATIONS.c.code, VOUCHERS.c.network, month)
        .order_by(LOCATIONS.c.code, VOUCHERS.c.network, month)).all()

    # People given data in the period and never lent a device (before or during it).
    data_only = session.scalar(
        select(func.count(func.distinct(VOUCHERS.c.recipient_id)))
        .where(in_period, *where, ~exists().where(
            LOANS.c.recipient_id == VOUCHERS.c.recipient_id,
            LOANS.c.issued_at < scope.end)))
    expired_in_period = session.execute(
        select(func.count(), func.sum(VOUCHERS.c.data_gb))
        .where(VOUCHERS.c.status == VoucherStatus.expired.value,
               VOUCHERS.c.expires_on >= scope.date_from,
               VOUCHERS.c.expires_on <= scope.date_to, *where)).one()

    rate_start = scope.now - timedelta(days=VOUCHER_RATE_DAYS)
    usable = and_(VOUCHERS.c.status == VoucherStatus.available.value,
                  VOUCHERS.c.expires_on >= scope.today)
    stock = session.execute(
        select(VOUCHERS.c.network,
               func.sum(case((usable, 1), else_=0)),
               func.sum(case((usable, VOUCHERS.c.data_gb), else_=0)),
               func.sum(case((and_(issued, VOUCHERS.c.issued_at >= rate_start), 1), else_=0)))
        .where(*where).group_by(VOUCHERS.c.network).order_by(VOUCHERS.c.network)).all()

    def weeks_left(available: int, recent: int) -> float | None:
        return round(available / (recent / (VOUCHER_RATE_DAYS / 7)), 1) if recent else None

    stock_rows = [[network, int(available or 0), round(float(gb or 0), 3), int(recent or 0),
                   weeks_left(int(available or 0), int(recent or 0))]
                  for network, available, gb, recent in stock]
    total_available = sum(row[1] for row in stock_rows)
    total_recent = sum(row[3] for row in stock_rows)
    figures = [
        figure("vouchers_given", "Data vouchers given", sum(r[3] for r in given), "count",
               "Vouchers issued to recipients in the period."),
        figure("voucher_gb_given", "Data given", round(float(sum(r[4] or 0 for r in given)), 1),
               "gigabytes", "Gigabytes of the vouchers issued in the period."),
        figure("people_helped_data_only", "People helped with data only", int(data_only or 0),
               "count", "Recipients given a voucher in the period who have never been lent a "
               "device (up to the period's end)."),
        figure("vouchers_expired_unused", "Vouchers expired unused",
               int(expired_in_period[0] or 0), "count",
               "Vouchers whose expiry date fell in the period and that left the stock unused "
               "(waste)."),
        figure("vouchers_available", "Vouchers in stock", total_available, "count",
               "Vouchers available today and not past their expiry date."),
        figure("voucher_weeks_left", "Weeks of voucher stock left",
               weeks_left(total_available, total_recent), "weeks",
               f"Vouchers in stock divided by the weekly rate of the last {VOUCHER_RATE_DAYS} "
               "days' issues; none to measure when none were issued."),
    ]
    tables = [
        Table(key="vouchers_given", title="Data vouchers given by location, network and month",
              definition="Vouchers issued in the period and their gigabytes, by the "
              "voucher's location, its network and the month (UTC) of issue.",
              columns=["location", "network", "month", "vouchers", "gigabytes"],
              rows=[[code, network, month_, count, round(float(gb or 0), 3)]
                    for code, network, month_, count, gb in given]),
        Table(key="voucher_stock", title="Voucher stock by network",
              definition=f"Vouchers available today by network, their gigabytes, those issued "
              f"in the last {VOUCHER_RATE_DAYS} days, and the weeks the stock lasts at that "
              "rate.",
              columns=["network", "available", "gigabytes", f"issued_last_{VOUCHER_RATE_DAYS}"
                       "_days", "weeks_left"], rows=stock_rows),
    ]
    return Section(key="vouchers", title="Data vouchers", figures=figures, tables=tables)


# --- the report ------------------------------------------------------------------------------


def build_stock_report(session: Session, scope: Scope, stock: StockPolicy) -> StockReport:
    """Every figure of the manager's report, for one period and location."""
    period = ReportPeriod(date_from=scope.date_from, date_to=scope.date_to,
                          location=scope.location.code if scope.location else None,
                          today=scope.today, generated_at=scope.now.astimezone(scope.zone),
                          timezone=str(scope.zone))
    return StockReport(
        title="Stock and outcomes report", period=period,
        sections=[stock_section(session, scope, stock),
                  loans_section(session, scope), inclusion_section(session, scope),
                  access_section(session, scope), vouchers_section(session, scope),
                  sms_section(session, scope)])


def filters_line(report: StockReport) -> str:
    """The period and filters in one line, as every page of the PDF and the CSV name them."""
    period = report.period
    where = period.location or "all locations"
    return f"{period.date_from:%-d %b %Y} to {period.date_to:%-d %b %Y}, {where}"


def render_csv(report: StockReport) -> str:
    """The report as CSV: the figures, then each table under its own header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    period = report.period
    writer.writerow(["report", report.title])
    writer.writerow(["from", period.date_from.isoformat()])
    writer.writerow(["to", period.date_to.isoformat()])
    writer.writerow(["location", period.location or ""])
    writer.writerow([])
    writer.writerow(["section", "figure", "label", "value", "unit", "display", "definition"])
    for section in report.sections:
        for item in section.figures:
            writer.writerow([section.key, item.key, item.label,
                             "" if item.value is None else item.value, item.unit,
                             item.display, item.definition])
    for section in report.sections:
        for table in section.tables:
            writer.writerow([])
            writer.writerow(["table", table.key, table.title, table.definition])
            writer.writerow(table.columns)
            for row in table.rows:
                writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue()

