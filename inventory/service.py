"""Operations on stock. Each function owns its transaction: it commits or leaves nothing.

The caller hands in a `Session`; whoever is acting is in `session.info["actor"]`, which the
application's audit log reads. Bulk writes that bypass the ORM announce what they created in
`session.info["audit_bulk"]` so that they are audited in the same transaction.
"""

import csv
import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from itertools import groupby, repeat
from operator import itemgetter, mul
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from inventory.bulk import cycle_collection_paused, insert_rows
from inventory.models import (
    PLAN_KINDS,
    TRANSITIONS,
    Device,
    DeviceStatus,
    Location,
    PlanChange,
    TagSequence,
    Wipe,
)
from inventory.schemas import (
    WEEKDAYS,
    DeviceCreate,
    DeviceFilter,
    DeviceUpdate,
    LocationCreate,
    PlanRenewal,
    StatusChange,
    WipeCreate,
    plain_message,
    split_field,
)


class InventoryError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(InventoryError):
    status_code = 404


class Invalid(InventoryError):
    status_code = 422


class Conflict(InventoryError):
    status_code = 409


class ImportRejected(Invalid):
    """Every problem in an import file, each with its line number and field."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        first = problems[0]
        super().__init__(
            f"{len(problems)} problem(s) in the file; nothing was imported. First: line "
            f"{first['line']}, {first['field']}: {first['message']}"
        )
        self.problems = problems


# --- asset tags -------------------------------------------------------------------------

# Letters that cannot be mistaken for digits (no I, O, S); 23 is prime, so weighted sums
# modulo 23 catch every single wrong digit and every swap of two neighbouring digits.
CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def check_letter(number: str) -> str:
    # Each digit weighted by its position plus two (an import makes thousands of tags).
    total = sum(map(mul, map(int, number), range(2, len(number) + 2)))
    return CHECK_LETTERS[total % len(CHECK_LETTERS)]


def format_tag(number: int) -> str:
    digits = f"{number:05d}"
    return f"{digits}-{check_letter(digits)}"


def format_tags(numbers: range) -> list[str]:
    """`format_tag` of each of these consecutive numbers (an import makes thousands): the
    check letter's sum over all but the last digit is worked out once for every ten."""
    tags: list[str] = []
    for tens in range(numbers.start // 10, (numbers.stop + 9) // 10):
        head = f"{tens * 10:05d}"[:-1]
        base = sum(map(mul, map(int, head), range(2, len(head) + 2)))
        weight = len(head) + 2
        letters = [CHECK_LETTERS[(base + last * weight) % len(CHECK_LETTERS)]
                   for last in range(10)]
        first, stop = max(numbers.start - tens * 10, 0), min(numbers.stop - tens * 10, 10)
        tags.extend(f"{head}{last}-{letters[last]}" for last in range(first, stop))
    return tags


def normalise_tag(raw: str) -> str:
    """What a person typed or a scanner sent, as the stored tag: upper case, with the
    dash before the check letter even when it was left out."""
    tag = raw.strip().upper().replace(" ", "")
    if "/D/" in tag:  # a scanned label URL
        tag = tag.rsplit("/D/", 1)[1]
    if len(tag) >= 6 and tag[:-1].isdigit() and tag[-1].isalpha():
        tag = f"{tag[:-1]}-{tag[-1]}"
    return tag


def tag_is_mistyped(tag: str) -> bool:
    """True when a tag has our numbered shape but the wrong check letter."""
    digits, _, letter = tag.partition("-")
    if not (digits.isdigit() and len(digits) >= 5 and len(letter) == 1):
        return False
    return check_letter(digits) != letter


def _reserve_tag_numbers(session: Session, count: int) -> range:
    """Take `count` consecutive numbers; the UPDATE locks the row until commit."""
    row = session.execute(
        update(TagSequence)
        .where(TagSequence.id == 1)
        .values(next_number=TagSequence.next_number + count)
        .returning(TagSequence.next_number)
    ).first()
    if row is None:
        session.execute(insert(TagSequence).values(id=1, next_number=1 + count))
        return range(1, 1 + count)
    end = row[0]
    return range(end - count, end)


def _taken_tags(session: Session, candidates: list[str]) -> set[str]:
    """Which of these numbered tags, made from consecutive numbers, a device already has
    (someone gave it by hand). Tags whose numbers have as many digits sort as the numbers
    do, so one range scan of the tag index per width finds them all, where sending the
    thousands of candidates of an import to be matched one by one would cost more than the
    import's own inserts."""
    wanted = set(candidates)
    taken: set[str] = set()
    for _, same_width in groupby(candidates, key=len):
        tags = list(same_width)
        taken.update(tag for tag in session.scalars(select(Device.asset_tag).where(
            Device.asset_tag.between(tags[0], tags[-1]))) if tag in wanted)
    return taken


def _new_tags(session: Session, count: int) -> list[str]:
    """Fresh tags, skipping any number someone already used as a hand-given tag."""
    tags: list[str] = []
    while len(tags) < count:
        candidates = format_tags(_reserve_tag_numbers(session, count - len(tags)))
        taken = _taken_tags(session, candidates)
        tags.extend(tag for tag in candidates if tag not in taken)
    return tags


# --- locations --------------------------------------------------------------------------


def location_row(location: Location) -> dict[str, Any]:
    return {
        "code": location.code,
        "name": location.name,
        "address": location.address,
        "nation": location.nation,
        "opening_days": [WEEKDAYS[int(day) - 1] for day in location.opening_days],
    }


def create_location(session: Session, data: LocationCreate) -> Location:
    if session.scalar(select(Location.id).where(Location.code == data.code)):
        raise Conflict(f"a location with code {data.code} already exists", "code")
    location = Location(
        code=data.code,
        name=data.name,
        address=data.address,
        nation=data.nation,
        opening_days="".join(str(WEEKDAYS.index(day) + 1) for day in data.opening_days),
    )
    session.add(location)
    _commit(session)
    return location


def list_locations(session: Session) -> Sequence[Location]:
    return session.scalars(select(Location).order_by(Location.code)).all()


def get_location(session: Session, code: str, field: str = "location") -> Location:
    location = session.scalar(select(Location).where(Location.code == code.strip().upper()))
    if location is None:
        raise Invalid(f"no location has the code {code!r}", field)
    return location


# --- devices ----------------------------------------------------------------------------

_DEVICE_COLUMNS = (
    Device.id,
    Device.asset_tag,
    Device.kind,
    Device.make,
    Device.model,
    Device.status,
    Location.code.label("location"),
    Device.serial_number,
    Device.imei,
    Device.imei2,
    Device.iccid,
    Device.msisdn,
    Device.network,
    Device.plan_allowance_gb,
    Device.plan_starts_on,
    Device.plan_ends_on,
    Device.purchased_on,
    Device.purchase_cost_pence,
    Device.condition,
    Device.notes,
    Device.labelled_at,
    Device.source,
    Device.source_name,
)


# Built once: composing a 21-column select on every request costs more than running it.
_DEVICE_PAGE = select(*_DEVICE_COLUMNS).join(Location)
_DEVICE_KEYS = tuple(column.key for column in _DEVICE_COLUMNS)


def _device_dict(row: Any) -> dict[str, Any]:
    data = dict(zip(_DEVICE_KEYS, row, strict=True))
    pence = data.pop("purchase_cost_pence")
    data["purchase_cost"] = None if pence is None else Decimal(pence) / 100
    del data["id"]
    return data


def device_row(session: Session, device: Device) -> dict[str, Any]:
    row = session.execute(_DEVICE_PAGE.where(Device.id == device.id)).one()
    return _device_dict(row)


def get_device(session: Session, asset_tag: str) -> Device:
    tag = normalise_tag(asset_tag)
    device = session.scalar(select(Device).where(Device.asset_tag == tag))
    if device is None:
        if tag_is_mistyped(tag):
            raise NotFound(
                f"{tag} is not a valid tag: its check letter does not match, "
                "so it was probably mistyped", "asset_tag")
        raise NotFound(f"no device has the tag {tag}", "asset_tag")
    return device


@cache
def _device_list_statements(status: bool, kind: bool, location: bool, search: bool
                            ) -> tuple[Select, Select]:
    """The count and the page for one combination of filters, built once with bound
    parameters: SQLAlchemy then reuses the statement's cache key and compiled SQL, where a
    statement composed per request costs more to build and key than the page costs to read."""
    conditions = []
    if status:
        conditions.append(Device.status == bindparam("status"))
    if kind:
        conditions.append(Device.kind == bindparam("kind"))
    if location:
        conditions.append(Location.code == bindparam("location"))
    if search:
        pattern = bindparam("pattern")
        conditions.append(
            or_(
                Device.asset_tag == bindparam("tag"),
                Device.asset_tag.ilike(pattern),
                Device.serial_number.ilike(pattern),
                Device.imei.ilike(pattern),
                Device.iccid.ilike(pattern),
                Device.model.ilike(pattern),
            )
        )
    total = select(func.count()).select_from(Device)
    if location:
        total = total.join(Location)
    page = (_DEVICE_PAGE.where(*conditions).order_by(Device.id)
            .limit(bindparam("limit")).offset(bindparam("offset")))
    return total.where(*conditions), page


def list_devices(session: Session, query: DeviceFilter) -> dict[str, Any]:
    """One page of devices and the total that match: two queries, whatever the page size."""
    parameters: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
    if query.status:
        parameters["status"] = query.status.value
    if query.kind:
        parameters["kind"] = query.kind.value
    if query.location:
        parameters["location"] = query.location.strip().upper()
    if query.q:
        needle = query.q.strip()
        parameters["pattern"] = f"%{needle}%"
        parameters["tag"] = normalise_tag(needle)
    total_query, page_query = _device_list_statements(
        bool(query.status), bool(query.kind), bool(query.location), bool(query.q))
    # Core execution on the session's connection: plain rows need none of the ORM's loading.
    connection = session.connection()
    total = connection.execute(total_query, parameters).scalar() or 0
    rows = connection.execute(page_query, parameters).all()
    return {"items": [_device_dict(row) for row in rows], "total": total,
            "limit": query.limit, "offset": query.offset}


def count_by_status(session: Session) -> dict[str, int]:
    """How many devices are in each status, every status named (zero included): one query."""
    counts = dict(session.execute(
        select(Device.status, func.count()).group_by(Device.status)).all())
    return {status.value: counts.get(status.value, 0) for status in DeviceStatus}


def _check_unique_identifiers(session: Session, values: dict[str, Any], device_id: int | None):
    for group, columns in _IDENTIFIER_GROUPS.items():
        for field in (column.key for column in columns):
            value = values.get(field)
            if value and group != "asset_tag":
                _refuse_clash(session, field, value, columns, device_id)


def _refuse_clash(session: Session, field: str, value: str, columns, device_id: int | None):
    clash = session.scalar(
        select(Device.asset_tag).where(or_(*(column == value for column in columns)),
                                       Device.id != (device_id or 0))
    )
    if clash:
        raise Conflict(f"{field} {value} already belongs to device {clash}", field)


IMPORT_COLUMNS = tuple(DeviceCreate.model_fields)
# What a new device's row takes from its fields (its tag may be made for it).
_IMPORTED_FIELDS = frozenset(IMPORT_COLUMNS) - {"asset_tag"}


@cache
def _stored_names(fields: frozenset[str]) -> tuple[tuple[str, ...], Callable[[Any], Any]]:
    """The fields a device's row takes as they are, and a getter of their values."""
    names = tuple(sorted(fields - {"location"}))
    if len(names) > 1:
        return names, itemgetter(*names)
    # itemgetter of one name gives the value, not a tuple; of none, it cannot be made.
    return names, (lambda given: tuple(given[name] for name in names))


def _device_values(data: DeviceCreate | DeviceUpdate, fields: frozenset[str]
                   ) -> dict[str, Any]:
    """The named fields as a device's row stores them: the cost in pence, kinds by value.
    Read from the model's own dict (an import turns thousands of models into rows)."""
    names, get = _stored_names(fields)
    values = dict(zip(names, get(data.__dict__), strict=True))
    if "purchase_cost" in values:
        cost = values.pop("purchase_cost")
        values["purchase_cost_pence"] = None if cost is None else int(cost * 100)
    for name in ("kind", "source"):
        if (value := values.get(name)) is not None:
            values[name] = value._value_  # the member's value, without the property's cost
    return values


def create_device(session: Session, data: DeviceCreate) -> Device:
    location = get_location(session, data.location)
    values = _device_values(data, _IMPORTED_FIELDS)
    if data.asset_tag:
        tag = normalise_tag(data.asset_tag)
        if tag_is_mistyped(tag):
            raise Invalid(f"{tag} has the shape of a numbered tag but a wrong check letter",
                          "asset_tag")
        if session.scalar(select(Device.id).where(Device.asset_tag == tag)):
            raise Conflict(f"the tag {tag} is already in use", "asset_tag")
    else:
        tag = _new_tags(session, 1)[0]
    _check_unique_identifiers(session, values, None)
    device = Device(asset_tag=tag, location_id=location.id, **values)
    session.add(device)
    _commit(session)
    return device


def update_device(session: Session, asset_tag: str, data: DeviceUpdate) -> Device:
    device = get_device(session, asset_tag)
    sent = data.model_fields_set
    values = _device_values(data, frozenset(sent))
    for required in ("make", "model", "condition", "source"):
        if required in values and values[required] is None:
            raise Invalid(f"{required} cannot be empty", required)
    _check_unique_identifiers(session, values, device.id)
    if "location" in sent and data.location:
        device.location_id = get_location(session, data.location).id
    for name, value in values.items():
        setattr(device, name, value)
    _commit(session)
    return device


def change_status(session: Session, asset_tag: str, change: StatusChange) -> Device:
    """A person moving a device by hand (to repair, retired, found): never to available,
    which only a recorded wipe allows."""
    device = get_device(session, asset_tag)
    if device.status == DeviceStatus.on_loan:
        raise Conflict(f"device {device.asset_tag} is on loan; only its loan moves it "
                       "(a return, a loss or a find)", "status")
    if change.status == DeviceStatus.available:
        raise Conflict("a device becomes available only when its wipe is recorded", "status")
    if change.status == DeviceStatus.on_loan:
        raise Conflict("a device goes on loan only by issuing a loan", "status")
    move_device(device, change.status)
    if change.notes:
        device.notes = change.notes
    _commit(session)
    return device


def move_device(device: Device, target: DeviceStatus) -> None:
    """Change a device's status within a caller's transaction, if the lifecycle allows it."""
    current = DeviceStatus(device.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is final)"
        raise Conflict(
            f"device {device.asset_tag} is {current.value}; it cannot become {target.value}. "
            f"Allowed from {current.value}: {allowed}", "status")
    device.status = target.value


def record_wipe(session: Session, asset_tag: str, wipe: WipeCreate, performed_by: str) -> Device:
    device = get_device(session, asset_tag)
    if device.status != DeviceStatus.awaiting_wipe:
        raise Conflict(
            f"device {device.asset_tag} is {device.status}, not awaiting_wipe: "
            "only a returned or found device is wiped", "status")
    if device.kind in ("phone", "tablet") and wipe.account_lock_removed is False:
        raise Invalid("a phone or tablet goes back into stock only once its Google or "
                      "Apple account lock is removed", "account_lock_removed")
    move_device(device, DeviceStatus.available)
    session.add(Wipe(device_id=device.id, method=wipe.method.value,
                     account_lock_removed=wipe.account_lock_removed, performed_by=performed_by,
                     performed_at=datetime.now(UTC), notes=wipe.notes))
    _commit(session)
    return device


def renew_plan(session: Session, asset_tag: str, renewal: PlanRenewal, recorded_by: str,
               now: datetime | None = None) -> PlanChange:
    """A SIM's or hotspot's plan renewed or topped up: the device takes the new end date
    (and allowance, when given), and the change is kept with its cost."""
    device = get_device(session, asset_tag)
    if device.kind not in PLAN_KINDS:
        raise Invalid(f"device {device.asset_tag} is a {device.kind}: only SIMs and hotspots "
                      "have a data plan here", "asset_tag")
    starts_on = renewal.starts_on or device.plan_starts_on
    if starts_on and renewal.ends_on < starts_on:
        raise Invalid(f"the plan started on {starts_on.isoformat()}; it cannot end before",
                      "ends_on")
    change = PlanChange(
        device_id=device.id, starts_on=renewal.starts_on, ends_on=renewal.ends_on,
        allowance_gb=renewal.allowance_gb,
        cost_pence=None if renewal.cost is None else int(renewal.cost * 100),
        recorded_by=recorded_by, recorded_at=now or datetime.now(UTC), notes=renewal.notes)
    device.plan_ends_on = renewal.ends_on
    if renewal.starts_on:
        device.plan_starts_on = renewal.starts_on
    if renewal.allowance_gb is not None:
        device.plan_allowance_gb = renewal.allowance_gb
    session.add(change)
    _commit(session)
    return change


def plan_change_row(change: PlanChange) -> dict[str, Any]:
    return {"starts_on": change.starts_on, "ends_on": change.ends_on,
            "allowance_gb": change.allowance_gb,
            "cost": None if change.cost_pence is None else Decimal(change.cost_pence) / 100,
            "recorded_by": change.recorded_by, "recorded_at": change.recorded_at,
            "notes": change.notes}


def list_plan_changes(session: Session, device: Device) -> Sequence[PlanChange]:
    return session.scalars(
        select(PlanChange).where(PlanChange.device_id == device.id)
        .order_by(PlanChange.recorded_at.desc(), PlanChange.id.desc())).all()


def list_wipes(session: Session, device: Device) -> Sequence[Wipe]:
    return session.scalars(
        select(Wipe).where(Wipe.device_id == device.id).order_by(Wipe.performed_at.desc())
    ).all()


def mark_labelled(session: Session, devices: Sequence[Device]) -> None:
    now = datetime.now(UTC)
    for device in devices:
        device.labelled_at = now
    _commit(session)


def find_devices(session: Session, asset_tags: Sequence[str]) -> list[Device]:
    """The devices for these tags, in the order given; every unknown tag named at once."""
    tags = [normalise_tag(tag) for tag in asset_tags]
    found = {d.asset_tag: d for d in session.scalars(select(Device).where(
        Device.asset_tag.in_(tags)))}
    unknown = [tag for tag in tags if tag not in found]
    if unknown:
        raise Invalid(f"unknown tag(s): {', '.join(unknown)}", "tags")
    return [found[tag] for tag in tags]


def unlabelled_devices(session: Session) -> list[Device]:
    return list(session.scalars(
        select(Device).where(Device.labelled_at.is_(None),
                             Device.status != DeviceStatus.retired.value).order_by(Device.id)))


# --- CSV import -------------------------------------------------------------------------

REQUIRED_COLUMNS = ("kind", "make", "model", "location")
# A whole file is validated in one call: pydantic then loops in Rust, not Python.
_IMPORT_BATCH = TypeAdapter(list[DeviceCreate])


def _validated_rows(
    cells: list[dict[str, str]], first_line: dict[int, int]
) -> tuple[list[tuple[int, DeviceCreate]], list[dict[str, Any]]]:
    """Each row as a `DeviceCreate` with its line, and every problem by line and field. The
    batch is validated at once; when some rows fail, the rest are validated again as a
    batch, so that a file with problems is still reported in full."""
    indices = list(range(len(cells)))
    problems: list[dict[str, Any]] = []
    try:
        devices = _IMPORT_BATCH.validate_python(cells)
    except ValidationError as error:
        failed = set()
        for detail in error.errors():
            index, *place = detail["loc"]
            failed.add(index)
            named, _ = split_field(detail["msg"])
            field = ".".join(str(part) for part in place) or named or "row"
            problems.append({"line": first_line[index], "field": field,
                             "message": plain_message(field, detail)})
        indices = [index for index in indices if index not in failed]
        devices = _IMPORT_BATCH.validate_python([cells[index] for index in indices])
    return list(zip(map(first_line.__getitem__, indices), devices, strict=True)), problems


def _unknown_location(line: int, code: str) -> dict[str, Any]:
    return {"line": line, "field": "location", "message": f"no location has the code {code!r}"}


_TEMPLATE_EXAMPLE = {"kind": "laptop", "make": "Lenovo", "model": "ThinkPad E14",
                     "location": "LDN", "serial_number": "PF-0000001", "condition": "A"}


def import_template() -> str:
    """The header row `import_devices` reads, with one example row to overwrite."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(IMPORT_COLUMNS)
    writer.writerow([_TEMPLATE_EXAMPLE.get(name, "") for name in IMPORT_COLUMNS])
    return buffer.getvalue()




@cycle_collection_paused()
def import_devices(
    session: Session, text: str, progress: Callable[[int, int], None] | None = None
) -> list[str]:
    """Import every row of a CSV file or none: each problem is reported with its line."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRejected([{"line": line, "field": "file",
                               "message": "the file holds a NUL character: it is not text"}])
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        # "Serial Number", "serial-number" and "serial_number" are the same column.
        header = [re.sub(r"[\s\-]+", "_", name.strip().lower())
                  for name in next(reader, [])]
        rows_read = list(filter(None, reader))
    except csv.Error as error:
        # A file the csv module cannot read (a field over its 128 KiB limit, say).
        raise ImportRejected([{"line": reader.line_num or 1, "field": "file",
                               "message": f"the file cannot be read as CSV: {error}"}]
                             ) from error
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if unknown or missing:
        problem = (f"unknown column(s) {', '.join(unknown)}" if unknown
                   else f"missing column(s) {', '.join(missing)}")
        raise ImportRejected([{
            "line": 1, "field": "header",
            "message": f"{problem}; expected columns: {', '.join(IMPORT_COLUMNS)} "
                       f"(required: {', '.join(REQUIRED_COLUMNS)})"}])

    problems: list[dict[str, Any]] = []
    cells: list[dict[str, str]] = []
    line_of: dict[int, int] = {}
    # Lines are numbered as the rows a spreadsheet shows: blank rows are skipped, uncounted.
    if max(map(len, rows_read), default=0) <= len(header):
        # Every row fits (the usual case): the rows become dicts in C, a short row leaving
        # some cells unset.
        cells = list(map(dict, map(zip, repeat(header), rows_read)))
        line_of = dict(zip(range(len(cells)), range(2, len(cells) + 2), strict=True))
    else:
        for index, values in enumerate(rows_read):
            line = index + 2
            if len(values) > len(header):
                problems.append({"line": line, "field": "row",
                                 "message": "this row has more values than the header has "
                                            "columns"})
                continue
            line_of[len(cells)] = line
            cells.append(dict(zip(header, values, strict=False)))
    total = len(line_of) + len(problems)
    if not total:
        problems.append({"line": 1, "field": "file", "message": "the file has no rows"})
    rows, invalid = _validated_rows(cells, line_of)
    problems.extend(invalid)
    locations = {loc.code: loc.id for loc in list_locations(session)}
    # A file names few offices, each on many rows: each spelling is looked up once.
    location_ids = {code: locations.get(code.upper()) for code in
                    {device.location for _, device in rows}}
    located = []
    for line, device in rows:
        if location_ids[device.location] is None:
            problems.append(_unknown_location(line, device.location))
        else:
            located.append((line, device))
    rows = located
    if invalid:
        # A row with other problems is checked for its office too, so that every problem
        # in it is reported at once.
        failed = {problem["line"] for problem in invalid} - {
            problem["line"] for problem in invalid if problem["field"] == "location"}
        problems.extend(
            _unknown_location(line, code) for index, line in line_of.items()
            if line in failed and (code := (cells[index].get("location") or "").strip())
            and code.upper() not in locations)
    if progress:
        progress(len(rows), total)
    problems.extend(_duplicate_problems(session, rows))
    if problems:
        raise ImportRejected(sorted(problems, key=lambda p: p["line"]))

    fresh_tags = iter(_new_tags(session, [d.asset_tag for _, d in rows].count(None)))
    available = DeviceStatus.available.value
    records = []
    for _, device in rows:
        values = _device_values(device, _IMPORTED_FIELDS)
        tag = device.asset_tag
        values["asset_tag"] = normalise_tag(tag) if tag else next(fresh_tags)
        values["location_id"] = location_ids[device.location]
        values["status"] = available
        values["labelled_at"] = None
        records.append(values)
    # A plain executemany (pipelined by psycopg) is far quicker than INSERT ... RETURNING
    # for thousands of rows; the new ids are read back for the audit log. Ids only grow, so
    # every new row's id is above the highest one visible before the insert: one range scan
    # finds them (on PostgreSQL it may also find rows that others committed meanwhile, which
    # the lookup by our tags leaves out).
    newest_before = session.scalar(select(func.max(Device.id))) or 0
    columns = list(records[0])
    insert_rows(session.connection(), Device.__table__, columns, map(itemgetter(*columns),
                                                                     records))
    tags = [record["asset_tag"] for record in records]
    ids = dict(session.connection().execute(
        select(Device.asset_tag, Device.id).where(Device.id > newest_before)).all())
    announced = session.info.setdefault("audit_bulk", [])
    announced.extend(zip(repeat("device"), map(ids.__getitem__, tags), repeat("create"),
                         records))
    _commit(session)
    if progress:
        progress(total, total)
    return tags


# An IMEI may stand in either IMEI column, so both are checked as one set.
_IDENTIFIER_GROUPS = {
    "asset_tag": (Device.asset_tag,),
    "serial_number": (Device.serial_number,),
    "imei": (Device.imei, Device.imei2),
    "iccid": (Device.iccid,),
}


def _duplicate_problems(session: Session, rows: list[tuple[int, DeviceCreate]]):
    """Identifiers repeated within the file, or already held by a device in stock."""
    problems = []
    for columns in _IDENTIFIER_GROUPS.values():
        fields = [column.key for column in columns]
        seen: dict[str, tuple[int, str]] = {}
        given = [(line, field, value) for line, device in rows for field in fields
                 if (value := device.__dict__[field])]
        for line, field, value in given:
            if field == "asset_tag":
                value = normalise_tag(value)
            if value in seen:
                problems.append({"line": line, "field": field,
                                 "message": f"{value} repeats line {seen[value][0]}"})
            else:
                seen[value] = (line, field)
        values = list(seen)
        for start in range(0, len(values), 2000):
            chunk = values[start:start + 2000]
            for column in columns:
                for existing, tag in session.execute(
                        select(column, Device.asset_tag).where(
                            column.in_(bindparam("values", expanding=True))),
                        {"values": chunk}):
                    line, field = seen[existing]
                    problems.append({"line": line, "field": field,
                                     "message": f"{existing} already belongs to device {tag}"})
    return problems


def _commit(session: Session) -> None:
    """Commit, turning a unique-constraint race into a clean conflict."""
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"that would duplicate an existing record ({_constraint(error)})") from error


def _constraint(error: IntegrityError) -> str:
    text = str(error.orig).splitlines()[0]
    return text[:200]
