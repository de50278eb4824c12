"""Retention and subject access: what the service holds about a person, over time.

A recipient whose last loan closed more than LENDING_RETENTION_MONTHS ago (or who never
borrowed and whose record is that old) is pseudonymised: their name, mobile, reference and
answers, the free text written about them, and the numbers and wording of the texts we
sent them and they sent us, are removed from the tables, and their audit-log key is
destroyed, so the log's sealed copies read "(erased)". Office, loan dates, kinds, decision
outcomes and reason codes stay, so the reports still count them.
"""

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from lending.audit.models import AuditEntry
from lending.audit.service import keyring_of, readable_entries, record_event
from lending.decisions.models import EligibilityDecision
from lending.decisions.service import decisions_of
from lending.loans.models import Loan, LoanStatus
from lending.loans.service import loans_of
from lending.recipients.models import Recipient, RecipientStatus
from lending.recipients.service import get_recipient, recipient_row
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


def _audit_of(session: Session, recipient_id: int) -> list[dict[str, Any]]:
    """Every entry about the recipient or about their loans, decisions and requests."""
    owned = [("loan", Loan), ("eligibility_decision", EligibilityDecision),
             ("waitlist_request", WaitlistRequest)]
    conditions = [(AuditEntry.entity == "recipient")
                  & (AuditEntry.entity_id == str(recipient_id))]
    for entity, model in owned:
        ids = [str(i) for i in session.scalars(select(model.id).where(
            model.recipient_id == recipient_id))]
        if ids:
            conditions.append((AuditEntry.entity == entity) & AuditEntry.entity_id.in_(ids))
    entries = session.scalars(select(AuditEntry).where(or_(*conditions))
                              .order_by(AuditEntry.id)).all()
    return readable_entries(session, entries)


def export_recipient(session: Session, recipient_id: int, today: date) -> dict[str, Any]:
    """Everything held about one person (UK GDPR art. 15): the record and answers, their
    decisions with reasons, loans, waitlist requests and the audit entries about them.
    the texts we sent them (with their wording) and the texts they sent us. The export is
    itself written to the audit log."""
    recipient = get_recipient(session, recipient_id)
    record = recipient_row(session, recipient)
    record["erased_at"] = recipient.erased_at
    loans = loans_of(session, recipient_id, today)
    messages, _ = outbox.list_messages(session, recipient_id=recipient_id, limit=10_000)
    replies, _ = outbox.list_replies(session, recipient_id=recipient_id, limit=10_000)
    export = {
        "exported_at": datetime.now(UTC),
        "recipient": record,
        "decisions": decisions_of(session, recipient_id, limit=10_000),
        "loans": loans,
        "waitlist_requests": requests_of(session, recipient_id),
        "messages": [{name: getattr(row, name) for name in MESSAGE_FIELDS} for row in messages],
        "replies": [{name: getattr(row, name) for name in REPLY_FIELDS} for row in replies],
        "audit_entries": _audit_of(session, recipient_id),
    }
    session.commit()
    record_event(session, "recipient", recipient_id, "export",
                 {"what": "subject access export"})
    session.commit()
    return export


def export_as_json(export: dict[str, Any]) -> str:
    return json.dumps(export, default=_plain, indent=2, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def export_pdf(export: dict[str, Any], organisation: str) -> bytes:
    from lending.privacy.pdf import subject_access_pdf
    return subject_access_pdf(export, organisation)
