"""Stocktakes: count an office's shelf by scanning, and know what is missing.

Each function that changes data owns its transaction. Several people may scan into one
stocktake at once: a scan is one `INSERT ... ON CONFLICT DO NOTHING` against the unique
(stocktake, device) pair, so a device is counted once however often its scan arrives. A scan
holds the stocktake row shared (FOR SHARE on PostgreSQL) and closing holds it exclusively,
so no scan slips in while a count closes; on SQLite, `BEGIN IMMEDIATE` already serialises
writers.
"""

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from inventory.models import Device, DeviceStatus, Location
from inventory.service import (
    Conflict,
    Invalid,
    NotFound,
    get_device,
    get_location,
    list_locations,
    move_device,
)
from lending.accounts.models import User
from lending.accounts.service import require_manager
from lending.audit.service import history_of
from lending.db import MAX_ID, get_row
from lending.loans.models import Loan, LoanStatus
from lending.stocktakes.models import (
    SHELF_STATUSES,
    ItemOutcome,
    Resolution,
    Stocktake,
    StocktakeItem,
    StocktakeStatus,
)
from lending.stocktakes.schemas import ResolveMissing, StocktakeStart

OPEN_ELSEWHERE = "a stocktake is already open for {code} (#{id}, started by {by}): carry on " \
                 "with it, or close it first"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _actor(session: Session) -> str:
    return session.info.get("actor", "system")


# --- starting -----------------------------------------------------------------------------

def open_stocktake_of(session: Session, location_id: int) -> Stocktake | None:
    """The office's open stocktake, if one is open (the partial unique index allows one)."""
    return session.scalar(select(Stocktake).where(
        Stocktake.location_id == location_id, Stocktake.status == StocktakeStatus.open.value))


def start_stocktake(session: Session, data: StocktakeStart,
                    now: datetime | None = None) -> Stocktake:
    """A new count for an office; refused (409) while one is open there, which is resumed
    instead."""
    location = get_location(session, data.location)
    current = open_stocktake_of(session, location.id)
    if current is not None:
        raise Conflict(OPEN_ELSEWHERE.format(code=location.code, id=current.id,
                                             by=current.started_by), "location")
    stocktake = Stocktake(location_id=location.id, started_at=_now(now),
                          started_by=_actor(session))
    session.add(stocktake)
    try:
        session.commit()
    except IntegrityError as error:
        # Two people started one at the same moment: the index kept one.
        session.rollback()
        current = open_stocktake_of(session, location.id)
        raise Conflict(OPEN_ELSEWHERE.format(code=location.code, id=current.id if current
                                             else "?", by=current.started_by if current
                                             else "someone"), "location") from error
    return stocktake


def get_stocktake(session: Session, stocktake_id: int, lock: bool = False) -> Stocktake:
    return get_row(session, Stocktake, stocktake_id, "stocktake", lock=lock)


def _refuse_closed(stocktake: Stocktake) -> None:
    if stocktake.status != StocktakeStatus.open:
        raise Conflict(f"stocktake {stocktake.id} was closed at "
                       f"{stocktake.closed_at:%Y-%m-%d %H:%M} UTC by {stocktake.closed_by}: "
                       "start a new one to count again", "status")


# --- scanning -----------------------------------------------------------------------------

def _line(device: Device) -> dict[str, Any]:
    return {"asset_tag": device.asset_tag, "kind": device.kind, "make": device.make,
            "model": device.model, "status": device.status}


def _active_due_dates(session: Session, device_ids: list[int]) -> dict[int, tuple[int, date]]:
    """device id -> (loan id, due date) of its active loan."""
    due: dict[int, tuple[int, date]] = {}
    for start in range(0, len(device_ids), 500):
        for device_id, loan_id, due_on in session.execute(
                select(Loan.device_id, Loan.id, Loan.due_on).where(
                    Loan.status == LoanStatus.active.value,
                    Loan.device_id.in_(device_ids[start:start + 500]))):
            due[device_id] = (loan_id, due_on)
    return due


def _assess(session: Session, stocktake: Stocktake, device: Device) -> tuple[str, str, str]:
    """(outcome, tone, what to do) for a device scanned in this stocktake's office."""
    tag = device.asset_tag
    if device.location_id == stocktake.location_id and device.status in SHELF_STATUSES:
        return "expected", "green", f"{tag} counted: {device.make} {device.model}."
    if device.status == DeviceStatus.on_loan:
        loan = _active_due_dates(session, [device.id]).get(device.id)
        due = f" (loan #{loan[0]}, due back {loan[1]:%-d %b %Y})" if loan else ""
        return ("on_loan", "amber", f"{tag} is on loan{due}, yet it is here: take it back "
                "from its page, then scan it again.")
    if device.location_id != stocktake.location_id:
        home = session.get(Location, device.location_id)
        return ("elsewhere", "amber", f"{tag} belongs to {home.code} ({home.name}): counted "
                f"as unexpected; put it aside to go back there.")
    return ("not_in_stock", "amber", f"{tag} is recorded as {device.status.replace('_', ' ')}"
            ": counted as unexpected; if it has turned up, mark it found from its page.")


def _insert_ignoring_repeats(session: Session):
    dialect = session.get_bind().dialect.name
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def scanned_count(session: Session, stocktake_id: int) -> int:
    return session.scalar(select(func.count()).select_from(StocktakeItem).where(
        StocktakeItem.stocktake_id == stocktake_id,
        StocktakeItem.scanned_at.is_not(None))) or 0


def record_scan(session: Session, stocktake_id: int, tag: str,
                now: datetime | None = None) -> dict[str, Any]:
    """Counts the device whose tag (or label URL) was scanned, once however often the scan
    arrives, and says at once what it means: expected (green), or on loan, belonging
    elsewhere, or not in stock (amber). An unknown or mistyped tag is refused (404),
    naming a wrong check letter as such."""
    if not 0 < stocktake_id <= MAX_ID:
        raise NotFound(f"no stocktake has the id {stocktake_id}", "id")
    stocktake = session.scalar(select(Stocktake).where(Stocktake.id == stocktake_id)
                               .with_for_update(read=True))
    if stocktake is None:
        raise NotFound(f"no stocktake has the id {stocktake_id}", "id")
    _refuse_closed(stocktake)
    try:
        device = get_device(session, tag)
    except NotFound as error:
        raise NotFound(error.message, "tag") from error
    outcome, tone, message = _assess(session, stocktake, device)
    values = {"stocktake_id": stocktake.id, "device_id": device.id, "scanned_at": _now(now),
              "scanned_by": _actor(session), "device_status": device.status,
              "home_location_id": device.location_id}
    insert = _insert_ignoring_repeats(session)
    new_id = session.execute(
        insert(StocktakeItem).values(**values)
        .on_conflict_do_nothing(index_elements=["stocktake_id", "device_id"])
        .returning(StocktakeItem.id)).scalar()
    if new_id is not None:
        session.info.setdefault("audit_bulk", []).append(
            ("stocktake_item", new_id, "create", values))
    else:
        message = f"Already counted. {message}"
    counted = scanned_count(session, stocktake.id)
    session.commit()
    return {"expected": outcome == "expected", "outcome": outcome,
            "already_counted": new_id is None, "tone": tone, "message": message,
            "asset_tag": device.asset_tag, "device": _line(device), "counted": counted}


def recent_scans(session: Session, stocktake_id: int, limit: int = 10) -> list[dict[str, Any]]:
    rows = session.execute(
        select(StocktakeItem.scanned_at, StocktakeItem.scanned_by, Device)
        .join(Device, Device.id == StocktakeItem.device_id)
        .where(StocktakeItem.stocktake_id == stocktake_id, StocktakeItem.scanned_at.is_not(None))
        .order_by(StocktakeItem.id.desc()).limit(limit)).all()
    return [{"scanned_at": at, "scanned_by": by, **_line(device)} for at, by, device in rows]


# --- closing ------------------------------------------------------------------------------

def close_stocktake(session: Session, stocktake_id: int,
                    now: datetime | None = None) -> Stocktake:
    """Ends the count and keeps its result: found (scanned and expected), missing
    (expected, not scanned), unexpected (scanned, not expected) and, apart, the office's
    devices out on loan with their due dates."""
    stocktake = get_stocktake(session, stocktake_id, lock=True)
    _refuse_closed(stocktake)
    items = {item.device_id: item for item in session.scalars(
        select(StocktakeItem).where(StocktakeItem.stocktake_id == stocktake.id))}
    at_home = {device.id: device for device in session.scalars(
        select(Device).where(Device.location_id == stocktake.location_id,
                             Device.status.in_((*SHELF_STATUSES, DeviceStatus.on_loan.value))))}
    scanned = {device.id: device for device in session.scalars(
        select(Device).where(Device.id.in_(list(items))))} if items else {}
    on_loan_ids = [d.id for d in (*at_home.values(), *scanned.values())
                   if d.status == DeviceStatus.on_loan]
    loans = _active_due_dates(session, on_loan_ids)
    counts = dict.fromkeys(ItemOutcome, 0)

    def settle(item: StocktakeItem, device: Device, outcome: ItemOutcome) -> None:
        item.outcome = outcome.value
        item.device_status = device.status
        item.home_location_id = device.location_id
        item.due_on = loans[device.id][1] if device.id in loans else None
        counts[outcome] += 1

    for device_id, item in items.items():
        device = scanned[device_id]
        expected = (device.location_id == stocktake.location_id
                    and device.status in SHELF_STATUSES)
        settle(item, device, ItemOutcome.found if expected else ItemOutcome.unexpected)
    for device in at_home.values():
        if device.id in items:
            continue
        item = StocktakeItem(stocktake_id=stocktake.id, device_id=device.id)
        session.add(item)
        settle(item, device, ItemOutcome.on_loan if device.status == DeviceStatus.on_loan
               else ItemOutcome.missing)
    stocktake.status = StocktakeStatus.closed.value
    stocktake.closed_at = _now(now)
    stocktake.closed_by = _actor(session)
    stocktake.found = counts[ItemOutcome.found]
    stocktake.missing = counts[ItemOutcome.missing]
    stocktake.unexpected = counts[ItemOutcome.unexpected]
    stocktake.on_loan = counts[ItemOutcome.on_loan]
    stocktake.expected = stocktake.found + stocktake.missing
    session.commit()
    return stocktake


# --- after closing ------------------------------------------------------------------------

def resolve_missing(session: Session, stocktake_id: int, asset_tag: str,
                    data: ResolveMissing, actor: User | None,
                    now: datetime | None = None) -> StocktakeItem:
    """A manager settles a device the count missed, in one step: lost (the same lifecycle
    move as any loss of a device in stock) or moved to the office where it is now."""
    require_manager(actor, "marking a missing device lost or moved", "action")
    stocktake = get_stocktake(session, stocktake_id)
    if stocktake.status != StocktakeStatus.closed:
        raise Conflict(f"stocktake {stocktake.id} is still open: close it first", "status")
    device = get_device(session, asset_tag)
    device = session.scalar(select(Device).where(Device.id == device.id).with_for_update())
    item = session.scalar(select(StocktakeItem).where(
        StocktakeItem.stocktake_id == stocktake.id, StocktakeItem.device_id == device.id)
        .with_for_update())
    if item is None or item.outcome != ItemOutcome.missing:
        raise NotFound(f"{device.asset_tag} was not missing in stocktake {stocktake.id}",
                       "asset_tag")
    if item.resolution:
        raise Conflict(f"{device.asset_tag} was already marked {item.resolution} by "
                       f"{item.resolved_by}", "action")
    if device.status == DeviceStatus.on_loan:
        raise Conflict(f"{device.asset_tag} has been lent since the count: a loss is "
                       "reported on its loan", "action")
    if data.action == Resolution.lost:
        move_device(device, DeviceStatus.lost)
    else:
        if not data.location:
            raise Invalid("choose the office the device is at now", "location")
        office = get_location(session, data.location, "location")
        if office.id == stocktake.location_id:
            raise Invalid(f"{office.code} is the office that was counted: choose the office "
                          "where the device is now", "location")
        device.location_id = office.id
        item.moved_to_location_id = office.id
    if data.notes:
        device.notes = data.notes
    item.resolution = data.action
    item.resolved_by = actor.email
    item.resolved_at = _now(now)
    session.commit()
    return item


# --- reading ------------------------------------------------------------------------------

def _counted_column():
    return (select(func.count()).select_from(StocktakeItem)
            .where(StocktakeItem.stocktake_id == Stocktake.id,
                   StocktakeItem.scanned_at.is_not(None))
            .correlate(Stocktake).scalar_subquery().label("counted"))


def _row(stocktake: Stocktake, location: Location, counted: int) -> dict[str, Any]:
    counts = None
    if stocktake.status == StocktakeStatus.closed:
        counts = {"expected": stocktake.expected, "found": stocktake.found,
                  "missing": stocktake.missing, "unexpected": stocktake.unexpected,
                  "on_loan": stocktake.on_loan}
    return {"id": stocktake.id, "location": location.code, "location_name": location.name,
            "status": stocktake.status, "started_at": stocktake.started_at,
            "started_by": stocktake.started_by, "closed_at": stocktake.closed_at,
            "closed_by": stocktake.closed_by, "counted": counted, "counts": counts}


def stocktake_row(session: Session, stocktake: Stocktake) -> dict[str, Any]:
    location = session.get(Location, stocktake.location_id)
    return _row(stocktake, location, scanned_count(session, stocktake.id))


def list_stocktakes(session: Session, location: str | None = None, status: str | None = None,
                    limit: int = 50, offset: int = 0) -> dict[str, Any]:
    conditions = []
    if location:
        conditions.append(Stocktake.location_id == get_location(session, location).id)
    if status:
        conditions.append(Stocktake.status == StocktakeStatus(status).value)
    total = session.scalar(select(func.count()).select_from(Stocktake).where(*conditions))
    rows = session.execute(
        select(Stocktake, Location, _counted_column())
        .join(Location, Location.id == Stocktake.location_id).where(*conditions)
        .order_by(Stocktake.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [_row(*row) for row in rows], "total": total or 0, "limit": limit,
            "offset": offset}


def _last_event(session: Session, device_id: int, before: datetime | None
                ) -> dict[str, Any] | None:
    """The device's last audited event up to the close: where to start looking."""
    for entry in history_of(session, "device", device_id, limit=20):
        if before is None or entry["at"] <= before:
            return {"at": entry["at"], "actor": entry["actor"], "action": entry["action"],
                    "changes": entry["changes"] or {}}
    return None


def stocktake_result(session: Session, stocktake: Stocktake, today: date) -> dict[str, Any]:
    """The stocktake with its result; while it is open, only what has been counted."""
    body = stocktake_row(session, stocktake)
    codes = {location.id: location.code for location in list_locations(session)}
    rows = session.execute(
        select(StocktakeItem, Device).join(Device, Device.id == StocktakeItem.device_id)
        .where(StocktakeItem.stocktake_id == stocktake.id, StocktakeItem.outcome.is_not(None))
        .order_by(Device.asset_tag)).all()
    found, missing, unexpected, on_loan = [], [], [], []
    for item, device in rows:
        line = _line(device)
        if item.outcome == ItemOutcome.found:
            found.append(line)
        elif item.outcome == ItemOutcome.missing:
            missing.append(line | {
                "last_event": _last_event(session, device.id, stocktake.closed_at),
                "resolution": item.resolution, "resolved_by": item.resolved_by,
                "resolved_at": item.resolved_at,
                "moved_to": codes.get(item.moved_to_location_id)})
        elif item.outcome == ItemOutcome.unexpected:
            reason = ("on_loan" if item.device_status == DeviceStatus.on_loan
                      else "elsewhere" if item.home_location_id != stocktake.location_id
                      else "not_in_stock")
            unexpected.append(line | {"location": codes.get(item.home_location_id, ""),
                                      "reason": reason, "due_on": item.due_on})
        else:
            on_loan.append(line | {"due_on": item.due_on,
                                   "overdue": bool(item.due_on and item.due_on < today)})
    return body | {"found": len(found), "found_items": found, "missing": missing,
                   "unexpected": unexpected, "on_loan": on_loan}


def last_stocktakes(session: Session, location_id: int | None = None,
                    zone: ZoneInfo | None = None) -> list[dict[str, Any]]:
    """Per office (one, or every one by code), its last closed stocktake: the date, the
    stocktake's id and its result counts; `None` for an office never counted. For the
    stock report."""
    latest = (select(Stocktake.id)
              .where(Stocktake.location_id == Location.id,
                     Stocktake.status == StocktakeStatus.closed.value)
              .order_by(Stocktake.closed_at.desc(), Stocktake.id.desc()).limit(1)
              .correlate(Location).scalar_subquery())
    query = (select(Location, Stocktake).outerjoin(Stocktake, Stocktake.id == latest)
             .order_by(Location.code))
    if location_id is not None:
        query = query.where(Location.id == location_id)
    result = []
    for location, stocktake in session.execute(query).all():
        entry: dict[str, Any] = {"location_id": location.id, "location": location.code,
                                 "location_name": location.name, "stocktake_id": None,
                                 "closed_at": None, "closed_on": None, "counts": None}
        if stocktake is not None:
            entry.update(stocktake_id=stocktake.id, closed_at=stocktake.closed_at,
                         closed_on=stocktake.closed_at.astimezone(zone or UTC).date(),
                         counts={"expected": stocktake.expected, "found": stocktake.found,
                                 "missing": stocktake.missing,
                                 "unexpected": stocktake.unexpected,
                                 "on_loan": stocktake.on_loan})
        result.append(entry)
    return result
