"""The lending side of text messages: which texts are due (the sweep), sending them (the
dispatch, over `notifications`), and what providers post back (receipts, replies, STOP).

A text a change calls for (a receipt when a loan is issued, the survey or thanks when it
comes back, a waitlist offer) is written in the change's own transaction, by a flush
listener (`_queue_with_the_change`) that every session carries the means for
(`text_with_changes`). Reminders come from the sweep, which is set-based: one query per
kind selects every text that is due at a moment and not yet in the outbox, written with
INSERT ... ON CONFLICT DO NOTHING on the outbox's unique business key; reminders with one
INSERT ... SELECT each, worded by the database (`_SqlWriter`). The sweep selects the texts
a change calls for too, as a net for a change made without the listener's means, worded in
Python (`_Writer`, as the listener words them). Its selection is a function of committed
state, so nothing is texted for a change that rolled back, never twice (the key), and
never lost (the state stays until a sweep sees it). Sweeps running at once, or twice,
write each text once. Memory stays flat however many loans there are.

The outbox rows are the history: they change by plain UPDATE statements, outside the audit
log, which records the changes people make (a STOP sets the recipient's opt-out through
the ORM, so that change is audited).
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    cast,
    event,
    exists,
    func,
    inspect,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import aliased
from sqlmodel import Session

from eligibility import Policy, load_policy
from inventory.models import Device, Location
from lending.db import carry_in_sessions, is_sqlite, session_for
from lending.loans import service as loans
from lending.loans.models import Loan, LoanStatus
from lending.recipients.models import Recipient
from lending.waitlist.models import RequestStatus, WaitlistRequest
from notifications import service as outbox
from notifications.callbacks import Inbound, Receipt
from notifications.models import ErrorCode, Message, MessageStatus, Reply, ReplyKind
from notifications.providers import Provider
from notifications.service import DispatchReport
from notifications.texts import (
    AFTER_RETURN,
    DEVICE_WORDS,
    MAX_NAME,
    UCS2_MAX_LENGTH,
    Kind,
    field_text,
    first_name,
    is_gsm7,
    render,
    template_parts,
    without_accents,
)
from notifications.timing import (
    RateLimit,
    SendingWindow,
    next_allowed_time,
    parse_sending_window,
    uk_bank_holidays,
)

log = logging.getLogger("lending.messages")

# Reminders: at most one of these a loan (or a phone-and-SIM bundle) a day.
REMINDERS = (Kind.final_overdue, Kind.overdue, Kind.due_today, Kind.due_soon,
             Kind.plan_ending)
# A receipt or a thanks is sent only this long after the change that calls for it: a
# sweep that was stopped for longer does not text people about old news.
EVENT_WINDOW = timedelta(days=4)
# Texts after a return (the survey, the thanks): a returned loan does not call them off.
_AFTER_RETURN = sorted(AFTER_RETURN)
# A reminder missed on its day (the scheduler was stopped) is still sent until the next
# one is due; the final reminder until this many days after it.
FINAL_CATCH_UP_DAYS = 7
CHUNK = 2000
# On PostgreSQL, sweeps take turns under this transaction-level advisory lock.
SWEEP_LOCK = 0x1E4D09


@dataclass(frozen=True)
class MessagePolicy:
    """When each text goes, and which are sent at all (the policy file's `[messages]`)."""

    due_soon_days_before: int = 2
    overdue_days_after: int = 1
    final_overdue_days_after: int = 7
    plan_ending_days_before: int = 7
    off: frozenset[str] = frozenset()

    @classmethod
    def from_policy(cls, policy: Policy) -> "MessagePolicy":
        table = policy.messages
        return cls(due_soon_days_before=table.due_soon_days_before,
                   overdue_days_after=table.overdue_days_after,
                   final_overdue_days_after=table.final_overdue_days_after,
                   plan_ending_days_before=table.plan_ending_days_before,
                   off=table.off)


@dataclass(frozen=True)
class Timing:
    """Where the service is and when it may text (`LENDING_TIMEZONE`, `LENDING_QUIET_HOURS`)."""

    zone: ZoneInfo
    window: SendingWindow

    @classmethod
    def of(cls, settings: Any) -> "Timing":
        return cls(settings.zone, parse_sending_window(settings.quiet_hours))


@lru_cache(maxsize=8)
def _holidays(nation: str):
    return uk_bank_holidays(nation if nation in ("ENG", "WLS", "SCT", "NIR") else "ENG")


@dataclass
class SweepReport:
    queued: dict[str, int] = field(default_factory=dict)  # by kind
    opted_out: int = 0  # written cancelled: the recipient asked for no texts
    cancelled: int = 0  # queued texts whose reason went away

    @property
    def total(self) -> int:
        return sum(self.queued.values())


# --- the sweep ----------------------------------------------------------------------------

def _key(prefix: str, row_id, kind: str, day=None):
    """The business key as SQL, equal to the one written from Python."""
    expression = literal(f"{prefix}:") + cast(row_id, String) + literal(f":{kind}")
    if day is not None:
        expression = expression + literal(":") + cast(day, String)
    return expression


def _python_key(prefix: str, row_id: int, kind: str, day: date | None = None) -> str:
    return f"{prefix}:{row_id}:{kind}" + (f":{day.isoformat()}" if day is not None else "")


_DEVICE_HOME = aliased(Location)


def _loan_rows(kind: str, conditions: list, day_column, bundle_rule: bool):
    """The loans due a text of `kind`: their id, who to text and what to say."""
    partner = aliased(Loan)
    query = (
        select(Loan.id, Loan.recipient_id, Recipient.name, Recipient.mobile,
               Recipient.language, Recipient.sms_opt_out, Device.kind.label("device"),
               _DEVICE_HOME.name.label("place"), _DEVICE_HOME.nation,
               day_column.label("day"), Loan.returned_at)
        .join(Recipient, Recipient.id == Loan.recipient_id)
        .join(Device, Device.id == Loan.device_id)
        .join(_DEVICE_HOME, _DEVICE_HOME.id == Device.location_id)
        .where(*conditions, Recipient.mobile.is_not(None), Recipient.mobile != ""))
    if bundle_rule:
        # A SIM issued with a phone is reminded with the phone, while the phone is out:
        # the same number is not texted twice about one bundle.
        query = query.where(~exists().where(
            partner.id == Loan.with_loan_id, partner.status == LoanStatus.active.value))
    return query


def _not_in_outbox_by_key(kind: str, day_column):
    return ~exists().where(Message.loan_id == Loan.id,
                           Message.key == _key("loan", Loan.id, kind, day_column))


def _not_in_outbox_by_kind(kind: str):
    return ~exists().where(Message.loan_id == Loan.id, Message.kind == kind)


def _no_reminder_today(day_start: datetime):
    """No reminder written today for this loan, or the phone loan it came with."""
    return ~exists().where(
        Message.loan_id.in_([Loan.id, func.coalesce(Loan.with_loan_id, Loan.id)]),
        Message.kind.in_([k.value for k in REMINDERS]),
        Message.created_at >= day_start)


def _status_is(status: LoanStatus):
    """The loan's status as a test no index serves: where a few recent loans are wanted,
    SQLite would otherwise walk the status index over every active (or returned) loan
    rather than start from the few the issued_at or returned_at index finds."""
    return Loan.status.concat("") == status.value


def _any(session: Session, query) -> bool:
    return session.scalar(query.limit(1)) is not None


def _selections(session: Session, policy: MessagePolicy, today: date, now: datetime,
                day_start: datetime) -> Iterator[tuple[str, Any, list[date] | None]]:
    """(kind, query, days) for each loan text, reminders first from the most pressing, so
    that a loan due several on one day gets the most pressing one. `days` are the dates a
    reminder of the kind can be about (written set-based, `_SqlWriter`); None for the texts
    a change calls for (few: written through Python, `_Writer`)."""
    active = Loan.status == LoanStatus.active.value
    days = timedelta

    def due_between(low: int, high: int) -> list:
        return [active, Loan.due_on >= today + days(low), Loan.due_on <= today + days(high)]

    final = policy.final_overdue_days_after
    overdue = policy.overdue_days_after
    ranges = {
        Kind.final_overdue: (-(final + FINAL_CATCH_UP_DAYS - 1), -final),
        Kind.overdue: (-(final - 1), -overdue),
        Kind.due_today: (0, 0),
        Kind.due_soon: (1, policy.due_soon_days_before),
    }
    for kind, (low, high) in ranges.items():
        if kind in policy.off or low > high:
            continue
        if not _any(session, select(Loan.id).where(*due_between(low, high))):
            continue  # no loan due then (the index says so at once): nothing to build
        conditions = due_between(low, high) + [
            _not_in_outbox_by_key(kind, Loan.due_on), _no_reminder_today(day_start)]
        yield (kind, _loan_rows(kind, conditions, Loan.due_on, bundle_rule=True),
               [today + days(offset) for offset in range(low, high + 1)])
    if Kind.plan_ending not in policy.off and _any(session, select(Device.id).where(
            Device.plan_ends_on >= today + days(1),
            Device.plan_ends_on <= today + days(policy.plan_ending_days_before))):
        # From the few devices whose plan ends soon (their index), not from every loan.
        ending = (select(Device.id).where(
            Device.plan_ends_on >= today + days(1),
            Device.plan_ends_on <= today + days(policy.plan_ending_days_before)))
        conditions = [active, Loan.device_id.in_(ending),
                      Device.plan_ends_on < Loan.due_on,
                      _not_in_outbox_by_key(Kind.plan_ending, Device.plan_ends_on),
                      _no_reminder_today(day_start)]
        yield (Kind.plan_ending, _loan_rows(Kind.plan_ending, conditions, Device.plan_ends_on,
                                            bundle_rule=False),
               [today + days(offset) for offset in range(1, policy.plan_ending_days_before + 1)])
    if Kind.loan_receipt not in policy.off:
        # From the loans issued lately (their index), not from every active loan.
        recent = select(Loan.id).where(Loan.issued_at >= now - EVENT_WINDOW)
        conditions = [_status_is(LoanStatus.active), Loan.id.in_(recent),
                      Loan.with_loan_id.is_(None), _not_in_outbox_by_kind(Kind.loan_receipt)]
        yield Kind.loan_receipt, _loan_rows(Kind.loan_receipt, conditions, Loan.due_on,
                                            bundle_rule=False), None
    # After a return, one text: the survey (which thanks them) or, when the survey is
    # switched off, the thanks alone; never both for one loan.
    returned = select(Loan.id).where(Loan.returned_at >= now - EVENT_WINDOW,
                                     Loan.returned_at <= now)
    if Kind.survey not in policy.off:
        conditions = [_status_is(LoanStatus.returned), Loan.id.in_(returned),
                      Loan.with_loan_id.is_(None), _not_in_outbox_by_kind(Kind.survey),
                      _not_in_outbox_by_kind(Kind.thanks)]
        yield (Kind.survey, _loan_rows(Kind.survey, conditions, Loan.due_on, bundle_rule=False),
               None)
    elif Kind.thanks not in policy.off:
        conditions = [_status_is(LoanStatus.returned), Loan.id.in_(returned),
                      Loan.with_loan_id.is_(None), _not_in_outbox_by_kind(Kind.thanks),
                      _not_in_outbox_by_kind(Kind.survey)]
        yield (Kind.thanks, _loan_rows(Kind.thanks, conditions, Loan.due_on, bundle_rule=False),
               None)


def _offer_rows():
    return (
        select(WaitlistRequest.id, WaitlistRequest.recipient_id, Recipient.name,
               Recipient.mobile, Recipient.language, Recipient.sms_opt_out,
               WaitlistRequest.kind.label("device"), Location.name.label("place"),
               Location.nation, WaitlistRequest.offer_expires_at)
        .join(Recipient, Recipient.id == WaitlistRequest.recipient_id)
        .join(Location, Location.id == WaitlistRequest.location_id)
        .where(WaitlistRequest.status == RequestStatus.offered.value,
               Recipient.mobile.is_not(None), Recipient.mobile != "",
               ~exists().where(Message.request_id == WaitlistRequest.id,
                               Message.kind == Kind.waitlist_offer.value)))


def _chunks(session: Session, query) -> Iterator[list]:
    """The query's rows, streamed in chunks of CHUNK (a server-side cursor on PostgreSQL):
    one chunk in memory at a time, and one pass over the loans, however many there are."""
    result = session.connection().execute(
        query.execution_options(stream_results=True, max_row_buffer=CHUNK))
    try:
        while rows := result.fetchmany(CHUNK):
            yield rows
    finally:
        result.close()


@lru_cache(maxsize=8192)
def _wording(kind: str, language: str, first_name: str, device: str, day: date,
             place: str) -> str:
    """A text depends only on these, and most of a day's texts share them but for the
    first name: worded once each."""
    return render(kind, language, name=first_name, device=device, on=day, place=place)


class _Writer:
    """Renders due texts and writes them, a chunk per statement."""

    def __init__(self, session: Session, timing: Timing, now: datetime,
                 report: SweepReport) -> None:
        self.session, self.timing, self.now, self.report = session, timing, now, report
        self.not_before: dict[str, datetime] = {}
        table = Message.__table__
        self.statement = outbox._insert(session)(table).on_conflict_do_nothing(
            index_elements=["key"]).returning(table.c.status)

    def allowed(self, nation: str) -> datetime:
        if nation not in self.not_before:
            self.not_before[nation] = next_allowed_time(
                self.now, self.timing.zone, self.timing.window, _holidays(nation))
        return self.not_before[nation]

    def write(self, kind: str, rows: list, key_of: Callable[[Any], str],
              day_of: Callable[[Any], date], loan: bool) -> None:
        values = []
        for row in rows:
            opted_out = bool(row.sms_opt_out)
            language = row.language if row.language in ("en", "cy") else "en"
            values.append(dict(
                key=key_of(row), to=row.mobile, language=language, kind=kind,
                body=_wording(kind, language, first_name(row.name), row.device,
                              day_of(row), row.place),
                status=(MessageStatus.cancelled if opted_out else MessageStatus.queued).value,
                error_code=ErrorCode.opted_out.value if opted_out else None, attempts=0,
                next_attempt_at=self.allowed(row.nation), reference=outbox.new_reference(),
                recipient_id=row.recipient_id, loan_id=row.id if loan else None,
                request_id=None if loan else row.id, created_at=self.now,
                updated_at=self.now))
        if not values:
            return
        statuses = self.session.connection().execute(self.statement, values).scalars().all()
        for status in statuses:
            if status == MessageStatus.queued.value:
                self.report.queued[kind] = self.report.queued.get(kind, 0) + 1
            else:
                self.report.opted_out += 1


_SAFE_NAME = "-A-Za-z0-9'."  # a first name made only of these reads the same in GSM-7


class _SqlWriter:
    """Writes the reminders of one kind with one INSERT ... SELECT: the selection, the
    business key, the reference, the time each may go (by office's nation) and the body are
    all computed by the database, so no Python runs per loan. The body is composed from the
    template's parts (`notifications.texts.template_parts`), each field's text worked out in
    Python once per value (device kind, date, office) and picked by CASE; `fit`'s rule (a
    UCS-2 text over two segments travels as GSM-7 without accents) is a CASE on its length.
    The first name is cut from the name in SQL; a name with anything but plain letters
    (curly quotes, accents, odd spaces, over MAX_NAME) gets an empty body that is worded
    through Python at once, in the same transaction: the same words either way."""

    def __init__(self, session: Session, writer: "_Writer") -> None:
        self.session, self.writer = session, writer
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.places = dict(session.execute(select(Location.id, Location.name)).all())
        table = Message.__table__
        self.insert = outbox._insert(session)(table)
        # One small integer a row written, so that reading them back costs next to nothing:
        # 1 queued, 0 written cancelled (opted out), minus its id when it is yet to be worded.
        self.returning = case((table.c.body == "", -table.c.id),
                              (table.c.status == MessageStatus.queued.value, 1), else_=0)

    # -- the fields, as SQL --

    def _first_name(self):
        if self.sqlite:
            # Cut from the name as stored: a name with a leading space (the schemas strip
            # names, so only an old row) fails `_name_is_plain` and is worded in Python.
            return func.substr(Recipient.name, 1, self._first_space() - 1, type_=String)
        return func.split_part(func.trim(Recipient.name, type_=String), " ", 1, type_=String)

    def _first_space(self):
        """Where the first name ends, as SQLite's 1-based position of the first space."""
        return func.instr(Recipient.name.concat(" "), " ")

    def _name_is_plain(self, name):
        if self.sqlite:
            # The whole name is tested, not the first name cut out again: each row is
            # cheaper, and a name odd only after its first word is worded in Python, to
            # the same words.
            return and_(Recipient.name.op("NOT GLOB", is_comparison=True)(
                            literal(f"*[^{_SAFE_NAME} ]*")),
                        self._first_space().between(2, MAX_NAME + 1))
        return name.op("~", is_comparison=True)(literal(f"^[{_SAFE_NAME}]{{0,{MAX_NAME}}}$"))

    def _field(self, name: str, language: str, days: list[date]):
        """(shown, plain, not GSM-7, plain not GSM-7, extra UCS-2 length) of a field other
        than the name: its text, its text without accents, 1 where each is not GSM-7 (else
        0), and its characters outside the basic plane; each as SQL, or 0 when always 0."""
        if name == "device":
            column, values = Device.kind, {kind: field_text("device", kind, language)
                                           for kind in DEVICE_WORDS}
            default = field_text("device", "", language)
        elif name == "date":
            column, values = self.day, {
                day: field_text("date", day, language) for day in days}
            default = ""
        elif name == "place":
            # Most offices' names are used as they are: only the others are listed.
            column = _DEVICE_HOME.id
            values = {place_id: field_text("place", place, language)
                      for place_id, place in self.places.items()}
            return self._picked(column, values, None, _DEVICE_HOME.name, self.places)
        else:
            raise ValueError(f"the sweep cannot fill the field {name!r}")
        return self._picked(column, values, default)

    def _picked(self, column, values: dict, default, raw_column=None, raw: dict | None = None):
        def case_of(texts: dict, fallback):
            if raw_column is not None and raw is not None:
                changed = {key: text for key, text in texts.items() if text != raw[key]}
                if not changed:
                    return raw_column
                return case(changed, value=column, else_=raw_column)
            if not texts:
                return literal(fallback or "")
            distinct = set(texts.values()) | ({fallback} if fallback is not None else set())
            if len(distinct) == 1:
                return literal(distinct.pop())
            return case(texts, value=column, else_=literal(fallback) if fallback is not None
                        else literal(""))

        def count_of(flags: dict[Any, int]):
            if not any(flags.values()):
                return 0
            return case({key: flag for key, flag in flags.items() if flag}, value=column,
                        else_=0)

        shown = case_of(values, default)
        plain = case_of({key: without_accents(text) for key, text in values.items()},
                        without_accents(default) if default is not None else None)
        non_gsm = count_of({key: int(not is_gsm7(text)) for key, text in values.items()})
        plain_non_gsm = count_of({key: int(not is_gsm7(without_accents(text)))
                                  for key, text in values.items()})
        extra = count_of({key: sum(ord(char) > 0xFFFF for char in text)
                          for key, text in values.items()})
        return shown, plain, non_gsm, plain_non_gsm, extra

    def _body(self, kind: str, language: str, name, days: list[date]):
        shown, plain, non_gsm, plain_non_gsm, extra = [], [], [], [], []
        literal_gsm = plain_gsm = True
        for part, value in template_parts(kind, language):
            if part == "text":
                shown.append(literal(value))
                plain.append(literal(without_accents(value)))
                literal_gsm &= is_gsm7(value)
                plain_gsm &= is_gsm7(without_accents(value))
            elif value == "name":
                shown.append(name)
                plain.append(name)
            else:
                field_shown, field_plain, flag, plain_flag, more = self._field(
                    value, language, days)
                shown.append(field_shown)
                plain.append(field_plain)
                non_gsm.append(flag)
                plain_non_gsm.append(plain_flag)
                extra.append(more)
        body = _joined(shown)
        non_gsm = [flag for flag in non_gsm if not isinstance(flag, int)]
        if literal_gsm and not non_gsm:
            return body
        plain_non_gsm = [flag for flag in plain_non_gsm if not isinstance(flag, int)]
        if not plain_gsm:
            return body
        length = func.length(body)
        for more in extra:
            if not isinstance(more, int):
                length = length + more
        whens = []
        if literal_gsm:
            whens.append((_summed(non_gsm) == 0, body))
        whens.append((length <= UCS2_MAX_LENGTH, body))
        if plain_non_gsm:
            whens.append((_summed(plain_non_gsm) == 0, _joined(plain)))
            return case(*whens, else_=body)
        return case(*whens, else_=_joined(plain))

    def write(self, kind: str, query, days: list[date]) -> None:
        now, table = self.writer.now, Message.__table__
        self.day = query.selected_columns["day"].element
        first = self._first_name()
        language = case((Recipient.language == "cy", literal("cy")), else_=literal("en"))
        body = case((~self._name_is_plain(first), literal("")),
                    (Recipient.language == "cy", self._body(kind, "cy", first, days)),
                    else_=self._body(kind, "en", first, days))
        nations = {nation: self.writer.allowed(nation)
                   for nation in ("ENG", "WLS", "SCT", "NIR")}
        when = table.c.next_attempt_at.type
        not_before = case({nation: literal(moment, when) for nation, moment in nations.items()},
                          value=_DEVICE_HOME.nation, else_=literal(nations["ENG"], when))
        reference = (func.lower(func.hex(func.randomblob(16))) if self.sqlite else
                     func.replace(cast(func.gen_random_uuid(), String), "-", ""))
        opted_out = Recipient.sms_opt_out
        columns = {
            "key": _key("loan", Loan.id, kind, self.day),
            "to": Recipient.mobile, "language": language, "kind": literal(kind),
            "body": body,
            "status": case((opted_out, literal(MessageStatus.cancelled.value)),
                           else_=literal(MessageStatus.queued.value)),
            "error_code": case((opted_out, literal(ErrorCode.opted_out.value)),
                               else_=null()),
            "attempts": literal(0), "next_attempt_at": not_before, "reference": reference,
            "recipient_id": Loan.recipient_id, "loan_id": Loan.id,
            "request_id": null(), "created_at": literal(now, table.c.created_at.type),
            "updated_at": literal(now, table.c.updated_at.type),
        }
        source = query.with_only_columns(
            *[expression.label(name) for name, expression in columns.items()])
        statement = self.insert.from_select(list(columns), source).on_conflict_do_nothing(
            index_elements=["key"]).returning(self.returning)
        queued = opted_out = 0
        result = self.session.connection().execute(statement)
        # A chunk at a time (memory stays flat), plain integers straight from the driver:
        # nothing to convert, and the result's own rows would cost more than the insert.
        while chunk := result.cursor.fetchmany(CHUNK):
            written = [value for value, in chunk]
            queued += written.count(1)
            opted_out += written.count(0)
            unworded = [-value for value in written if value < 0]
            if unworded:
                statuses = self._word(kind, unworded)
                queued += statuses.count(MessageStatus.queued.value)
                opted_out += len(statuses) - statuses.count(MessageStatus.queued.value)
        result.close()
        if queued:
            self.writer.report.queued[kind] = self.writer.report.queued.get(kind, 0) + queued
        self.writer.report.opted_out += opted_out

    def _word(self, kind: str, ids: list[int]) -> list[str]:
        """The texts whose first name SQL could not take as it is, worded through Python;
        their statuses."""
        day = Device.plan_ends_on if kind == Kind.plan_ending else Loan.due_on
        rows = self.session.execute(
            select(Message.id, Message.language, Recipient.name, Device.kind,
                   _DEVICE_HOME.name, day, Message.status)
            .join(Loan, Loan.id == Message.loan_id)
            .join(Recipient, Recipient.id == Loan.recipient_id)
            .join(Device, Device.id == Loan.device_id)
            .join(_DEVICE_HOME, _DEVICE_HOME.id == Device.location_id)
            .where(Message.id.in_(ids))).all()
        table = Message.__table__
        self.session.connection().execute(
            update(table).where(table.c.id == bindparam("row_id"))
            .values(body=bindparam("new_body")),
            [{"row_id": row_id, "new_body": render(kind, language, name=name, device=device,
                                                   on=on, place=place)}
             for row_id, language, name, device, place, on, _ in rows])
        return [row.status for row in rows]


def _joined(parts: list):
    expression = parts[0]
    for part in parts[1:]:
        expression = expression.concat(part)
    return expression


def _summed(flags: list):
    total = flags[0]
    for flag in flags[1:]:
        total = total + flag
    return total


def _write_event_texts(writer: _Writer, kind: str, rows: list) -> None:
    """Writes the texts a change calls for (a receipt, the survey or thanks, an offer),
    one per loan or request, under the key that keeps each once."""
    zone = writer.timing.zone
    if kind == Kind.waitlist_offer:
        writer.write(kind, rows, key_of=lambda row: _python_key("request", row.id, kind),
                     day_of=lambda row: row.offer_expires_at.astimezone(zone).date(),
                     loan=False)
    else:
        writer.write(kind, rows, key_of=lambda row: _python_key("loan", row.id, kind),
                     day_of=(lambda row: row.returned_at.astimezone(zone).date())
                     if kind in AFTER_RETURN else (lambda row: row.day),
                     loan=True)


def _cancel_superseded(session: Session, now: datetime) -> int:
    """Queued texts whose reason went away: a loan returned or lost (or renewed, for a
    reminder of the old date), an offer taken or lapsed, a recipient who opted out."""
    queued = Message.status == MessageStatus.queued.value
    dated = [Kind.due_soon.value, Kind.due_today.value, Kind.overdue.value,
             Kind.final_overdue.value]
    loan_gone = exists().where(
        Loan.id == Message.loan_id,
        or_(Loan.status != LoanStatus.active.value,
            and_(Message.kind.in_(dated),
                 Message.key != _key("loan", Loan.id, "", None) + Message.kind
                 + literal(":") + cast(Loan.due_on, String))))
    offer_gone = exists().where(WaitlistRequest.id == Message.request_id,
                                WaitlistRequest.status != RequestStatus.offered.value)
    cancelled = 0
    for condition, reason in (
            (and_(Message.loan_id.is_not(None), Message.kind.not_in(_AFTER_RETURN), loan_gone),
             ErrorCode.superseded),
            (and_(Message.request_id.is_not(None), offer_gone), ErrorCode.superseded),
            (exists().where(Recipient.id == Message.recipient_id, Recipient.sms_opt_out),
             ErrorCode.opted_out)):
        result = session.execute(
            update(Message).where(queued, condition)
            .values(status=MessageStatus.cancelled.value, error_code=reason.value,
                    updated_at=now).execution_options(synchronize_session=False))
        cancelled += result.rowcount or 0
    return cancelled


def sweep(engine, timing: Timing, policy: MessagePolicy | None = None,
          now: datetime | None = None) -> SweepReport:
    """Queues every text due at `now` (default: now) that is not in the outbox yet, and
    cancels queued texts whose reason went away. One transaction; safe to run twice, or
    from several schedulers at once."""
    policy = policy or MessagePolicy()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    local = now.astimezone(timing.zone)
    today = local.date()
    day_start = datetime.combine(today, time(0), tzinfo=timing.zone).astimezone(UTC)
    report = SweepReport()
    with session_for(engine, actor="sms") as session:
        if not is_sqlite(engine):
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK})
        report.cancelled = _cancel_superseded(session, now)
        writer = _Writer(session, timing, now, report)
        composer = _SqlWriter(session, writer)
        for kind, query, days in _selections(session, policy, today, now, day_start):
            if days is not None:
                composer.write(kind, query, days)
                continue
            for rows in _chunks(session, query):
                _write_event_texts(writer, kind, rows)
        if Kind.waitlist_offer not in policy.off:
            for rows in _chunks(session, _offer_rows()):
                _write_event_texts(writer, Kind.waitlist_offer, rows)
        session.commit()
    return report


# --- changes that call for texts, at once -------------------------------------------------

@dataclass(frozen=True)
class _Texting:
    """How a change texts in its own transaction: the service's timing and its policy
    file, read when first needed unless the caller has read it already."""

    timing: Timing
    policy_file: str | None
    policy: Policy | None = None

    def messages(self) -> MessagePolicy:
        return MessagePolicy.from_policy(self.policy or _policy_file(self.policy_file))


@lru_cache(maxsize=4)
def _policy_file(path: str | None) -> Policy:
    return load_policy(path or None)


def text_with_changes(engine, settings: Any, policy: Policy | None = None) -> None:
    """Lets every session of `engine` queue the texts a change calls for in the change's
    own transaction (`_queue_with_the_change`): called where the app and the command line
    make their engines. `policy`: the policy file, when the caller has read it already."""
    carry_in_sessions(engine, texting=_Texting(Timing.of(settings),
                                               settings.policy_file or None, policy))


def _status_changed(obj) -> bool:
    """Whether this flush changes the object's status."""
    return bool(inspect(obj).attrs.status.history.deleted)


def _changed_to(obj, status: str) -> bool:
    return obj.status == status and _status_changed(obj)


@event.listens_for(OrmSession, "after_flush")
def _queue_with_the_change(session: OrmSession, _context) -> None:
    """A loan issued (its receipt), a loan returned (the survey, or the thanks), a device
    offered from the waiting list (the offer): the text is written in the same
    transaction as the change, worded and timed as the sweep would, at the change's own
    moment. The sweep still selects them, as a net for a session that does not carry
    `texting` (the unique key keeps each text once). A change older than EVENT_WINDOW (a
    demo's history) is not news: no text."""
    texting = session.info.get("texting")
    if texting is None:
        return
    issued, returned, offered = [], [], []
    for obj in session.new:
        if isinstance(obj, Loan) and obj.status == LoanStatus.active.value \
                and obj.with_loan_id is None:
            issued.append((obj.issued_at, obj.id))
        elif isinstance(obj, WaitlistRequest) and obj.status == RequestStatus.offered.value:
            offered.append((obj.offered_at, obj.id))
    for obj in session.dirty:
        if isinstance(obj, Loan) and obj.with_loan_id is None \
                and _changed_to(obj, LoanStatus.returned.value):
            returned.append((obj.returned_at, obj.id))
        elif isinstance(obj, WaitlistRequest) and _changed_to(obj, RequestStatus.offered.value):
            offered.append((obj.offered_at, obj.id))
    if not (issued or returned or offered):
        return
    policy = texting.messages()
    after_return = next((kind for kind in (Kind.survey, Kind.thanks) if kind not in policy.off),
                        None)
    news = datetime.now(UTC) - EVENT_WINDOW
    for kind, changes in ((Kind.loan_receipt, issued), (after_return, returned),
                          (Kind.waitlist_offer, offered)):
        if kind is None or kind in policy.off:
            continue
        for moment in {moment for moment, _ in changes if moment and moment >= news}:
            ids = [row_id for at, row_id in changes if at == moment]
            writer = _Writer(session, texting.timing, moment.astimezone(UTC), SweepReport())
            query = (_offer_rows().where(WaitlistRequest.id.in_(ids))
                     if kind == Kind.waitlist_offer else
                     _loan_rows(kind, [Loan.id.in_(ids)], Loan.due_on, bundle_rule=False))
            _write_event_texts(writer, kind, session.execute(query).all())


# --- changes that call texts off, at once -------------------------------------------------

@event.listens_for(OrmSession, "after_flush")
def _cancel_with_the_change(session: OrmSession, _context) -> None:
    """A loan returned or lost, or an offer taken or lapsed, cancels its queued texts in
    the same transaction, so that no dispatcher can send them after it commits. (The sweep
    cancels them too: this only closes the gap until it runs.)"""
    loans, requests = [], []
    for obj in session.dirty:
        if isinstance(obj, Loan) and obj.status != LoanStatus.active.value \
                and _status_changed(obj):
            loans.append(obj.id)
        elif isinstance(obj, WaitlistRequest) and obj.status != RequestStatus.offered.value \
                and _status_changed(obj):
            requests.append(obj.id)
    if not loans and not requests:
        return
    now = datetime.now(UTC)
    queued = Message.status == MessageStatus.queued.value
    connection = session.connection()
    conditions = []
    if loans:
        conditions.append(and_(Message.loan_id.in_(loans), Message.kind.not_in(_AFTER_RETURN)))
    if requests:
        conditions.append(Message.request_id.in_(requests))
    connection.execute(update(Message).where(queued, or_(*conditions)).values(
        status=MessageStatus.cancelled.value, error_code=ErrorCode.superseded.value,
        updated_at=now))


# --- sending ------------------------------------------------------------------------------

def dispatch(engine, provider: Provider, timing: Timing, now: datetime | None = None,
             limit: int = 500, rate_limit: RateLimit | None = None) -> DispatchReport:
    """Sends what is queued and due, inside the sending window. Bank holidays are kept by
    the sweep, which queues each text for its office's next allowed time."""
    return outbox.dispatch(engine, provider, now=now, limit=limit, rate_limit=rate_limit,
                           window=timing.window, zone=timing.zone)


@dataclass
class PassReport:
    sweep: SweepReport
    dispatch: DispatchReport


def run_once(engine, provider: Provider, timing: Timing, policy: MessagePolicy | None = None,
             now: datetime | None = None, limit: int = 5000) -> PassReport:
    """One pass: queue what is due, then send what is queued and due."""
    swept = sweep(engine, timing, policy, now)
    return PassReport(swept, dispatch(engine, provider, timing, now, limit=limit))


# --- what providers post back -------------------------------------------------------------

def record_receipt(engine, receipt: Receipt) -> bool:
    with session_for(engine, actor="sms") as session:
        return outbox.record_receipt(session, receipt)


def receive_reply(engine, inbound: Inbound, policy: Policy | None = None,
                  timing: Timing | None = None) -> str | None:
    """Keeps a received text; a STOP sets the opt-out of every recipient with that mobile
    and cancels their queued texts, a START clears it. The kind, or None for a repeat.

    With the policy and the timing (the provider routes give them), a reply also acts on
    a loan: MORE (MWY) asks for more time on the open loan the latest texts were about
    (`ask_for_more_time`), and a number from 1 to 5 answers the survey after a return
    (`answer_survey`). The reply is committed first, so that it is kept whatever happens
    to the loan."""
    now = datetime.now(UTC)
    with session_for(engine, actor="sms") as session:
        recipients = list(session.scalars(
            select(Recipient).where(Recipient.mobile == inbound.from_number)
            .order_by(Recipient.id).with_for_update()))
        reply = outbox.record_reply(session, inbound,
                                    recipients[0].id if recipients else None)
        if reply is None:
            session.rollback()
            return None
        kind = reply.kind
        if kind in (ReplyKind.stop, ReplyKind.start):
            for recipient in recipients:
                recipient.sms_opt_out = kind == ReplyKind.stop
            if kind == ReplyKind.stop:
                outbox.cancel_messages(session, ErrorCode.opted_out.value,
                                       to=inbound.from_number)
                for recipient in recipients:
                    outbox.cancel_messages(session, ErrorCode.opted_out.value,
                                           recipient_id=recipient.id)
        survey_loan = None
        if kind == ReplyKind.other and policy is not None and timing is not None:
            survey_loan = _survey_loan(session, inbound.from_number, inbound.body, now)
            if survey_loan is not None and loans.survey_score(inbound.body) is not None:
                # An answer: stored against the loan, so no one need read it.
                kind = ReplyKind.survey.value
                session.execute(update(Reply).where(Reply.id == reply.id)
                                .values(kind=kind).execution_options(
                                    synchronize_session=False))
        session.commit()
        if kind == ReplyKind.more and policy is not None and timing is not None:
            ask_for_more_time(session, inbound.from_number, policy, timing, now)
        elif survey_loan is not None:
            answer_survey(session, survey_loan, inbound.body, policy, timing, now)
        return kind


# --- answers by text: the survey after a return, and asking for more time ---------------------

# A number from 1 to 5 answers a survey sent this long ago at most.
SURVEY_WINDOW = timedelta(days=14)
_SENT = (MessageStatus.sent.value, MessageStatus.delivered.value)


def _queue_about_loan(session: Session, loan_id: int, kind: str, timing: Timing,
                      now: datetime, key: str, day: date | None = None) -> bool:
    """One text of `kind` about one loan, in the caller's transaction, worded and timed as
    the sweep words and times its texts (the office's next allowed time; written
    cancelled for a recipient who opted out). `day` is the date it gives, by default the
    loan's due date. False when there is no number to text, or the key is there already."""
    row = session.execute(_loan_rows(kind, [Loan.id == loan_id], Loan.due_on,
                                     bundle_rule=False)).first()
    if row is None:
        return False
    language = row.language if row.language in ("en", "cy") else "en"
    return outbox.queue_message(
        session, key=key, to=row.mobile, language=language, kind=kind,
        body=render(kind, language, name=row.name, device=row.device, on=day or row.day,
                    place=row.place),
        not_before=next_allowed_time(now, timing.zone, timing.window, _holidays(row.nation)),
        recipient_id=row.recipient_id, loan_id=row.id,
        cancelled=ErrorCode.opted_out.value if row.sms_opt_out else None, now=now)


def _survey_loan(session: Session, number: str, body: str, now: datetime) -> int | None:
    """The loan a reply from `number` answers, if it answers a survey: the loan of the
    latest survey texted to that number in the last SURVEY_WINDOW. A reply that is not a
    number from 1 to 5 counts only when the survey (or its one clarification) is the
    latest text that number was sent: otherwise it is about something else."""
    sent_to = [Message.to == number, Message.status.in_(_SENT)]
    if loans.survey_score(body) is None:
        latest = session.execute(select(Message.kind, Message.loan_id).where(*sent_to)
                                 .order_by(Message.id.desc()).limit(1)).first()
        if latest is None or latest.kind not in (Kind.survey, Kind.survey_again) \
                or latest.loan_id is None:
            return None
    return session.scalar(
        select(Message.loan_id).where(*sent_to, Message.kind == Kind.survey.value,
                                      Message.sent_at >= now - SURVEY_WINDOW)
        .order_by(Message.id.desc()).limit(1))


def answer_survey(session: Session, loan_id: int, body: str, policy: Policy,
                  timing: Timing, now: datetime | None = None) -> bool:
    """A reply to the survey: a number from 1 to 5 is stored against the loan
    (`record_survey_answer`); anything else gets one polite clarification, the first
    time only. Whether a clarification was queued."""
    now = now or datetime.now(UTC)
    off = MessagePolicy.from_policy(policy).off

    def clarify(session: Session, loan: Loan) -> None:
        if Kind.survey_again not in off:
            _queue_about_loan(session, loan.id, Kind.survey_again, timing, now,
                              key=_python_key("loan", loan.id, Kind.survey_again),
                              day=loan.returned_at.astimezone(timing.zone).date())

    return loans.record_survey_answer(session, loan_id, body, now, clarify=clarify)


def _loan_asked_about(session: Session, number: str) -> int | None:
    """The open loan a MORE from `number` asks about: the loan of the latest text sent to
    that number about a loan still out; else the earliest due of the open loans of the
    recipients with that number. None when the latest text offered a device from the
    waiting list (more time to collect it is for staff), or no loan is out."""
    latest = session.execute(select(Message.kind, Message.loan_id)
                             .where(Message.to == number, Message.status.in_(_SENT))
                             .order_by(Message.id.desc()).limit(1)).first()
    if latest is not None and latest.kind == Kind.waitlist_offer:
        return None
    active = Loan.status == LoanStatus.active.value
    texted = session.scalar(
        select(Message.loan_id).join(Loan, Loan.id == Message.loan_id)
        .where(Message.to == number, Message.status.in_(_SENT), active)
        .order_by(Message.id.desc()).limit(1))
    if texted is not None:
        return texted
    return session.scalar(
        select(Loan.id).join(Recipient, Recipient.id == Loan.recipient_id)
        .where(Recipient.mobile == number, active, Loan.with_loan_id.is_(None))
        .order_by(Loan.due_on, Loan.id).limit(1))


def ask_for_more_time(session: Session, number: str, policy: Policy, timing: Timing,
                      now: datetime | None = None) -> int | None:
    """A MORE (MWY) from `number`: the loan it asks about is marked for staff, who renew it
    in one click (`grant_more_time`). If the policy would refuse a renewal already (the
    renewal limit, the data plan's end), the loan is not marked and the recipient gets,
    once for each due date, a kind text saying to contact the office, which says nothing
    of why. The loan's id, or None when no loan is out."""
    now = now or datetime.now(UTC)
    loan_id = _loan_asked_about(session, number)
    if loan_id is None:
        session.rollback()
        return None
    refusal = loans.renewal_refusal(session, loan_id, policy, timing.zone, now)
    if refusal is None:
        loans.request_more_time(session, loan_id, now)
        return loan_id
    log.info("loan %d: more time asked for by text; the policy would refuse: %s",
             loan_id, refusal)
    if Kind.more_time_refused not in MessagePolicy.from_policy(policy).off:
        due_on = session.scalar(select(Loan.due_on).where(Loan.id == loan_id))
        _queue_about_loan(session, loan_id, Kind.more_time_refused, timing, now,
                          key=_python_key("loan", loan_id, Kind.more_time_refused, due_on))
    session.commit()
    return loan_id


def grant_more_time(session: Session, loan_id: int, policy: Policy, timing: Timing,
                    now: datetime | None = None) -> Loan:
    """Staff's one click on a request for more time: the loan is renewed within the policy
    (`renew_on_request`) and the new due date texted, in one transaction. A refusal
    raises as a renewal does, leaves the request standing and texts nothing."""
    now = now or datetime.now(UTC)
    off = MessagePolicy.from_policy(policy).off

    def text_the_new_date(session: Session, loan: Loan) -> None:
        if Kind.more_time not in off:
            _queue_about_loan(session, loan.id, Kind.more_time, timing, now,
                              key=_python_key("loan", loan.id, Kind.more_time, loan.due_on),
                              day=loan.due_on)

    return loans.renew_on_request(session, loan_id, policy, timing.zone, now,
                                  then=text_the_new_date)


# --- reading ------------------------------------------------------------------------------

def opted_out(session: Session, limit: int = 200) -> list[Recipient]:
    return list(session.scalars(select(Recipient).where(Recipient.sms_opt_out,
                                                        Recipient.erased_at.is_(None))
                                .order_by(Recipient.name, Recipient.id).limit(limit)))


# What staff see of a text on a page: what it was and what became of it. Never the body:
# the screen may be read by someone else, and the wording is the same for everyone.
_SHOWN = ("id", "kind", "status", "error_code", "recipient_id", "loan_id", "request_id",
          "created_at", "sent_at")


def _shown(message: Message) -> dict[str, Any]:
    return {name: getattr(message, name) for name in _SHOWN}


def messages_of(session: Session, *, recipient_id: int | None = None,
                loan_id: int | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest texts to one recipient or about one loan, newest first, without their
    bodies. One query."""
    query = select(Message).order_by(Message.id.desc()).limit(limit)
    if recipient_id is not None:
        query = query.where(Message.recipient_id == recipient_id)
    if loan_id is not None:
        query = query.where(Message.loan_id == loan_id)
    return [_shown(row) for row in session.scalars(query)]


def replies_of(session: Session, recipient_id: int, limit: int = 20) -> list[Reply]:
    """What one recipient texted us, newest first. One query."""
    return list(session.scalars(select(Reply).where(Reply.recipient_id == recipient_id)
                                .order_by(Reply.received_at.desc(), Reply.id.desc())
                                .limit(limit)))


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Recipient.id, Recipient.name)
                           .where(Recipient.id.in_(sorted(ids)))).all()
    return {recipient_id: name for recipient_id, name in rows}


def messages_overview(session: Session, limit: int = 200) -> dict[str, Any]:
    """The managers' page: numbers a provider refused (to fix), recipients who opted out,
    and replies nobody has read yet, each with the recipient's name where known."""
    # A pseudonymised recipient's texts keep no number: nothing to fix there.
    to_fix = [row for row in outbox.numbers_to_fix(session) if row.to][:limit]
    # A STOP or START has acted already (the opt-out), and a survey answer is stored
    # against its loan; the rest wait for someone to read.
    waiting = (Reply.read_at.is_(None),
               Reply.kind.not_in([ReplyKind.stop.value, ReplyKind.start.value,
                                  ReplyKind.survey.value]))
    unread = session.scalar(select(func.count()).select_from(Reply).where(*waiting)) or 0
    replies = list(session.scalars(select(Reply).where(*waiting)
                                   .order_by(Reply.received_at.desc(), Reply.id.desc())
                                   .limit(limit)))
    names = _names(session, {row.recipient_id for row in [*to_fix, *replies]
                             if row.recipient_id is not None})
    return {
        "to_fix": [{**_shown(row), "to": row.to, "last_error": row.last_error,
                    "recipient_name": names.get(row.recipient_id)} for row in to_fix],
        "opted_out": opted_out(session, limit),
        "replies": [{"id": row.id, "from_number": row.from_number, "body": row.body,
                     "kind": row.kind, "recipient_id": row.recipient_id,
                     "recipient_name": names.get(row.recipient_id),
                     "received_at": row.received_at} for row in replies],
        "unread": unread,
    }


def mark_replies_read(session: Session, reply_ids: list[int]) -> int:
    """Staff have read these replies; how many were unread."""
    return outbox.mark_replies_read(session, reply_ids)


CALLBACK_PATHS = {
    "receipt_notify": "/api/v1/notifications/callbacks/notify",
    "receipt_twilio": "/api/v1/notifications/callbacks/twilio",
    "inbound_notify": "/api/v1/notifications/inbound/notify",
    "inbound_twilio": "/api/v1/notifications/inbound/twilio",
}


def provider_from(settings: Any) -> Provider:
    """The provider `LENDING_SMS_PROVIDER` names, configured from the settings."""
    from notifications.providers import make_provider
    return make_provider(
        settings.sms_provider, notify_api_key=settings.notify_api_key,
        notify_template_id=settings.notify_template_id,
        notify_base_url=settings.notify_base_url,
        twilio_account_sid=settings.twilio_account_sid,
        twilio_auth_token=settings.twilio_auth_token, twilio_from=settings.twilio_from,
        twilio_base_url=settings.twilio_base_url,
        twilio_status_url=settings.base_url + CALLBACK_PATHS["receipt_twilio"])
