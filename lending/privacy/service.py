"""Retention and subject access: what the service holds about a person, over time.

A recipient whose last loan closed more than LENDING_RETENTION_MONTHS ago (or who never
borrowed and whose record is that old) is pseudonymised: their name, mobile, reference and
answers, the free text written about them, and the numbers and wording of the texts we
sent them and they sent us, are removed from the tables, and their audit-log key is
destroyed, so the log's sealed copies read "(erased)". Office, loan dates, kinds, decision
outcomes and reason codes stay, so the reports still count them.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select, update
from sqlmodel import Session

from lending.audit.models import AuditEntry
from lending.audit.service import keyring_of, readable_entries, record_event
from lending.db import is_sqlite, session_for
from lending.decisions.models import EligibilityDecision
from lending.decisions.service import decisions_of
from lending.loans.models import Loan, LoanStatus
from lending.loans.service import loans_of
from lending.recipients.models import Recipient, RecipientStatus
from lending.recipients.service import get_recipient, recipient_row
from lending.vouchers.service import vouchers_given_to
from lending.waitlist.models import OPEN_STATUSES, WaitlistRequest
from lending.waitlist.service import requests_of
from notifications import service as outbox
from notifications.models import ErrorCode, Message, MessageStatus, Reply

ERASED_NAME = "(erased)"
# What pseudonymisation removes, table by table (the audit entry names these, never values).
REMOVED = {
    "recipient": ["name", "mobile", "reference", "facts"],
    "eligibility_decision": ["facts", "override_reason"],
    "loan": ["return_notes", "lost_notes", "police_reference"],
    "waitlist_request": ["notes", "moved_up_reason"],
    "outbox": ["to", "body", "last_error"],
    "inbox": ["from_number", "body"],
}
# What the export shows of each text sent and received.
MESSAGE_FIELDS = ("id", "created_at", "sent_at", "kind", "status", "error_code", "to",
                  "language", "body", "loan_id", "request_id")
REPLY_FIELDS = ("id", "received_at", "from_number", "body", "kind", "read_at")


def shift_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months later (earlier when negative); the
    month's last day when that month is shorter."""
    month_index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(month_index, 12)
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month + 1, day=28)


def _retention_ends(session: Session, recipient: Recipient, months: int) -> datetime | None:
    """When the recipient's retention period ends, or None while they still borrow or wait
    (an active loan, an open waitlist request)."""
    if session.scalar(select(func.count()).select_from(Loan).where(
            Loan.recipient_id == recipient.id, Loan.status == LoanStatus.active.value)):
        return None
    if session.scalar(select(func.count()).select_from(WaitlistRequest).where(
            WaitlistRequest.recipient_id == recipient.id,
            WaitlistRequest.status.in_(OPEN_STATUSES))):
        return None
    closings = session.execute(select(Loan.returned_at, Loan.lost_at, Loan.found_at).where(
        Loan.recipient_id == recipient.id)).all()
    moments = [moment for row in closings for moment in row if moment is not None]
    last = max(moments) if moments else recipient.created_at
    return shift_months(last, months)


def _pseudonymise(session: Session, recipient: Recipient, now: datetime, why: str) -> None:
    """Removes the personal values in place, with bulk updates the row-change listener does
    not see (its entries would copy the removed values into the log), then destroys the key
    and writes one entry naming what was removed."""
    quiet = {"synchronize_session": False}
    rid, mobile = recipient.id, recipient.mobile
    session.execute(update(Recipient).where(Recipient.id == rid).values(
        name=ERASED_NAME, mobile=None, reference=None, facts={}, erased_at=now,
        status=RecipientStatus.closed.value).execution_options(**quiet))
    session.execute(update(EligibilityDecision).where(EligibilityDecision.recipient_id == rid)
                    .values(facts={}, override_reason=None).execution_options(**quiet))
    session.execute(update(Loan).where(Loan.recipient_id == rid).values(
        return_notes="", lost_notes="", police_reference=None).execution_options(**quiet))
    session.execute(update(WaitlistRequest).where(WaitlistRequest.recipient_id == rid)
                    .values(notes="", moved_up_reason=None).execution_options(**quiet))
    # The texts: ours to them and theirs to us (a reply from their number that arrived
    # before the number was theirs on record is theirs too). A text still queued cannot go
    # without its number: it is cancelled.
    session.execute(update(Message).where(
        Message.recipient_id == rid, Message.status == MessageStatus.queued.value).values(
        status=MessageStatus.cancelled.value, error_code=ErrorCode.superseded.value,
        updated_at=now).execution_options(**quiet))
    session.execute(update(Message).where(Message.recipient_id == rid).values(
        to="", body="", last_error=None).execution_options(**quiet))
    theirs = Reply.recipient_id == rid
    if mobile:
        theirs = or_(theirs, (Reply.recipient_id.is_(None)) & (Reply.from_number == mobile))
    session.execute(update(Reply).where(theirs).values(
        recipient_id=rid, from_number="", body="").execution_options(**quiet))
    keyring_of(session).destroy(session.connection(), rid)
    record_event(session, "recipient", rid, "pseudonymise",
                 {"removed": REMOVED, "why": why})


def pseudonymise_due(session: Session, months: int, now: datetime | None = None
                     ) -> list[int]:
    """One pass of the retention rules: every recipient past the retention period is
    pseudonymised, each in a transaction of its own. Safe to run from several schedulers
    at once: a recipient is locked and checked again before anything is removed."""
    now = now or datetime.now(UTC)
    cutoff = shift_months(now, -months)
    candidates = list(session.scalars(
        select(Recipient.id).where(Recipient.erased_at.is_(None), Recipient.created_at < cutoff)
        .order_by(Recipient.id)))
    session.commit()
    erased = []
    for recipient_id in candidates:
        recipient = get_recipient(session, recipient_id, lock=True)
        ends = _retention_ends(session, recipient, months)
        if recipient.erased_at is None and ends is not None and ends <= now:
            _pseudonymise(session, recipient, now,
                          f"retention period of {months} months ended {ends.date()}")
            erased.append(recipient_id)
        session.commit()
    return erased


# Rows read at a time: an export of any size holds one page of each list in memory.
PAGE = 500


def _paged(fetch: Callable[[int, int], list]) -> Iterator[Any]:
    """Every item `fetch(limit, offset)` pages through, a page at a time."""
    offset = 0
    while True:
        page = fetch(PAGE, offset)
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def _audit_of(session: Session, recipient_id: int) -> Iterator[dict[str, Any]]:
    """Every entry about the recipient or about their loans, decisions and requests,
    oldest first, opened a page at a time."""
    owned = [("loan", Loan), ("eligibility_decision", EligibilityDecision),
             ("waitlist_request", WaitlistRequest)]
    conditions = [(AuditEntry.entity == "recipient")
                  & (AuditEntry.entity_id == str(recipient_id))]
    for entity, model in owned:
        ids = select(cast(model.id, String)).where(model.recipient_id == recipient_id)
        conditions.append((AuditEntry.entity == entity) & AuditEntry.entity_id.in_(ids))
    last = 0
    while True:
        page = session.scalars(select(AuditEntry).where(or_(*conditions), AuditEntry.id > last)
                               .order_by(AuditEntry.id).limit(PAGE)).all()
        yield from readable_entries(session, page)
        if len(page) < PAGE:
            return
        last = page[-1].id


def _sections(session: Session, recipient_id: int, today: date
              ) -> list[tuple[str, Callable[[], Iterator[Any]]]]:
    """The export's lists, each read lazily a page at a time when called, none capped."""
    def messages(limit: int, offset: int) -> list[dict[str, Any]]:
        rows, _ = outbox.list_messages(session, recipient_id=recipient_id, limit=limit,
                                       offset=offset)
        return [{name: getattr(row, name) for name in MESSAGE_FIELDS} for row in rows]

    def replies(limit: int, offset: int) -> list[dict[str, Any]]:
        rows, _ = outbox.list_replies(session, recipient_id=recipient_id, limit=limit,
                                      offset=offset)
        return [{name: getattr(row, name) for name in REPLY_FIELDS} for row in rows]

    return [
        ("decisions", lambda: _paged(lambda limit, offset: decisions_of(
            session, recipient_id, limit=limit, offset=offset))),
        ("loans", lambda: _paged(lambda limit, offset: loans_of(
            session, recipient_id, today, limit=limit, offset=offset))),
        ("waitlist_requests", lambda: _paged(lambda limit, offset: requests_of(
            session, recipient_id, limit=limit, offset=offset))),
        ("vouchers", lambda: _paged(lambda limit, offset: vouchers_given_to(
            session, recipient_id, limit=limit, offset=offset))),
        ("messages", lambda: _paged(messages)),
        ("replies", lambda: _paged(replies)),
        ("audit_entries", lambda: _audit_of(session, recipient_id)),
    ]


@dataclass
class SubjectAccess:
    """An export under way: the record, and its lists, each read (a page at a time, in
    the export's snapshot) whenever it is called."""

    exported_at: datetime
    recipient: dict[str, Any]
    sections: list[tuple[str, Callable[[], Iterator[Any]]]]

    def parts(self) -> dict[str, Any]:
        """The export's parts as the PDF reads them: each list an iterator."""
        return {"exported_at": self.exported_at, "recipient": self.recipient,
                **{name: items() for name, items in self.sections}}


def start_export(session: Session, recipient_id: int, today: date) -> SubjectAccess:
    """Everything held about one person (UK GDPR art. 15): the record and answers, their
    decisions with reasons, loans, waitlist requests, the data vouchers given to them
    (with their codes), the texts we sent them (with their
    wording), the texts they sent us, and the audit entries about them; no list is
    capped, and each is read a page at a time as it is written out, so memory does not
    grow with the record. The export is written to the audit log first, in its own
    transaction; the rest is read in one snapshot (REPEATABLE READ on PostgreSQL, one
    read transaction on SQLite), so the parts agree with each other. NotFound (404) for an
    unknown recipient."""
    recipient = get_recipient(session, recipient_id)
    session.rollback()
    record_event(session, "recipient", recipient_id, "export",
                 {"what": "subject access export"})
    session.commit()
    if not is_sqlite(session.get_bind()):
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    recipient = get_recipient(session, recipient_id)
    record = recipient_row(session, recipient)
    record["erased_at"] = recipient.erased_at
    return SubjectAccess(datetime.now(UTC), record, _sections(session, recipient_id, today))


def export_recipient(session: Session, recipient_id: int, today: date) -> dict[str, Any]:
    """The whole export as one dict (for the PDF, and callers that want it whole)."""
    export = start_export(session, recipient_id, today)
    whole = {"exported_at": export.exported_at, "recipient": export.recipient}
    for name, items in export.sections:
        whole[name] = list(items())
    session.commit()
    return whole


def export_json_chunks(export: SubjectAccess) -> Iterator[str]:
    """The export as JSON text, written as it is read: a page of each list at a time."""
    def dumps(value: Any) -> str:
        return json.dumps(value, default=_plain, ensure_ascii=False)

    yield "{\n" + f'  "exported_at": {dumps(export.exported_at)},\n'
    yield f'  "recipient": {dumps(export.recipient)}'
    for name, items in export.sections:
        yield f',\n  "{name}": ['
        first = True
        for item in items():
            yield ("\n    " if first else ",\n    ") + dumps(item)
            first = False
        yield "]" if first else "\n  ]"
    yield "\n}\n"


def export_as_json(export: dict[str, Any]) -> str:
    return json.dumps(export, default=_plain, indent=2, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def stream_export(engine: Any, recipient_id: int, today: date, actor: str | None,
                  actor_id: int | None) -> Iterator[str]:
    """The export as JSON text for a response to stream: started (audited, 404 for an
    unknown recipient) before this returns; read and written a page at a time as the
    response goes; its session closed when the last chunk has gone or the client left."""
    stack = ExitStack()
    session = stack.enter_context(session_for(engine, actor=actor, actor_id=actor_id))
    try:
        export = start_export(session, recipient_id, today)
    except BaseException:
        stack.close()
        raise

    def chunks() -> Iterator[str]:
        # In pieces of about 64 KB: each piece is one hop to a worker thread and one send.
        with stack:
            pending: list[str] = []
            size = 0
            for piece in export_json_chunks(export):
                pending.append(piece)
                size += len(piece)
                if size >= 65536:
                    yield "".join(pending)
                    pending, size = [], 0
            yield "".join(pending)
    return chunks()


def export_pdf(export: "dict[str, Any] | SubjectAccess", organisation: str) -> bytes:
    """The export as a readable PDF (built whole: a PDF's pages are laid out together)."""
    from lending.privacy.pdf import subject_access_pdf
    parts = export.parts() if isinstance(export, SubjectAccess) else export
    return subject_access_pdf(parts, organisation)
