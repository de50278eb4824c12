"""The outbox's operations: queue a text, send what is due exactly once, record receipts
and replies.

`queue_message`, `cancel_messages` and `record_reply` join the caller's transaction and
never commit: a text is written in the same transaction as the change that causes it (a
loan issued, a STOP received), and is sent only once that has committed. `dispatch` and
`record_receipt` own their transactions.

The outbox is its own history: its rows change by plain UPDATE statements, which the
application's audit log (for changes people make) does not copy.

How a text is sent exactly once, though neither provider takes an idempotency key:
1. its row is unique by business key, so queueing it twice writes one row;
2. a dispatcher claims a small batch of due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
   SQLite's write lock elsewhere), marks them `sending` with a lease, commits, and only
   then calls the provider, outside any transaction, starting no send too late to finish
   within the lease;
3. it records the answers only where its claim still stands (the claim token);
4. a row still `sending` when its lease ends (a dispatcher killed mid-send or before it
   recorded, a timeout, a 5xx) is looked up at the provider before any resend, and resent
   only if the provider never accepted it.
"""

import time
import uuid
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from notifications.callbacks import Inbound, Receipt, classify_reply
from notifications.models import NUMBER_PROBLEMS, ErrorCode, Message, MessageStatus, Reply
from notifications.providers import (
    FAILED,
    RETRY,
    SENT,
    Outcome,
    Outgoing,
    Provider,
    new_reference,
)
from notifications.texts import fit
from notifications.timing import (
    DEFAULT_RATE_LIMIT,
    MAX_ATTEMPTS,
    RateLimit,
    SendingWindow,
    next_allowed_time,
    retry_delay,
)

# How long a dispatcher may take over one text (a send times out well within it).
LEASE = timedelta(minutes=2)
MAX_BODY = 918  # Notify's limit; Twilio's is larger


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _insert(session: Session):
    """INSERT with ON CONFLICT DO NOTHING, in the session's own dialect."""
    return postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def queue_message(session: Session, *, key: str, to: str, language: str, kind: str,
                  body: str, not_before: datetime | None = None,
                  recipient_id: int | None = None, loan_id: int | None = None,
                  request_id: int | None = None, cancelled: str | None = None,
                  now: datetime | None = None) -> bool:
    """Adds a text to the outbox in the caller's transaction; True if it was new. A text
    whose `key` is already there (the same loan, kind and date, say) is silently ignored,
    even when two transactions race. `not_before` defers it (to the next allowed time);
    `cancelled` (an `ErrorCode`, e.g. "opted_out") records it as not to be sent."""
    now = now or _utcnow()
    body = fit(body)
    if len(body) > MAX_BODY:
        raise ValueError(f"a text is at most {MAX_BODY} characters; this one is {len(body)}")
    values = dict(
        key=key, to=to, language=language, kind=kind, body=body,
        status=MessageStatus.cancelled.value if cancelled else MessageStatus.queued.value,
        error_code=cancelled, attempts=0, next_attempt_at=not_before or now,
        reference=new_reference(), recipient_id=recipient_id, loan_id=loan_id,
        request_id=request_id, created_at=now, updated_at=now)
    statement = _insert(session)(Message).values(**values).on_conflict_do_nothing(
        index_elements=["key"]).returning(Message.id)
    return session.execute(statement).first() is not None


def cancel_messages(session: Session, reason: str, *, to: str | None = None,
                    recipient_id: int | None = None, loan_id: int | None = None,
                    request_id: int | None = None, kinds: list[str] | None = None,
                    now: datetime | None = None) -> int:
    """Cancels the queued texts that match every filter given, in the caller's transaction
    (a returned loan's reminders, an opted-out number's texts); how many. A text already
    being sent is left alone: it cannot be called back."""
    filters = [Message.status == MessageStatus.queued.value]
    for column, value in ((Message.to, to), (Message.recipient_id, recipient_id),
                          (Message.loan_id, loan_id), (Message.request_id, request_id)):
        if value is not None:
            filters.append(column == value)
    if len(filters) == 1:
        raise ValueError("cancel_messages needs at least one of to, recipient_id, loan_id, "
                         "request_id")
    if kinds:
        filters.append(Message.kind.in_(kinds))
    result = session.execute(
        update(Message).where(*filters).values(
            status=MessageStatus.cancelled.value, error_code=reason,
            updated_at=now or _utcnow()).execution_options(synchronize_session=False))
    return result.rowcount


@dataclass
class DispatchReport:
    sent: int = 0  # accepted by the provider on this pass
    found: int = 0  # already accepted before: found by looking it up, not resent
    retrying: int = 0  # to be tried again (or looked up) later
    failed: int = 0
    sent_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    id: int
    token: str
    outgoing: Outgoing
    attempts: int
    provider_id: str | None
    # A row found already `sending`: its fate is unknown until looked up.
    unresolved: bool
    since: datetime  # no try of this text can be older
    claimed_at: datetime


def _claim_batch(engine: Engine, now: datetime, size: int) -> list[_Claim]:
    """Marks up to `size` due rows `sending` under a fresh token and commits, so that no
    other dispatcher takes them until the lease ends."""
    token = uuid.uuid4().hex
    with Session(engine) as session:
        rows = session.execute(
            select(Message.id, Message.reference, Message.to, Message.body, Message.attempts,
                   Message.provider_id, Message.status, Message.created_at)
            .where(Message.status.in_([MessageStatus.queued.value,
                                       MessageStatus.sending.value]),
                   Message.next_attempt_at <= now)
            .order_by(Message.next_attempt_at, Message.id)
            .limit(size)
            .with_for_update(skip_locked=True)).all()
        claims = [_Claim(row.id, token, Outgoing(row.reference, row.to, row.body),
                         row.attempts, row.provider_id,
                         unresolved=row.status == MessageStatus.sending.value,
                         since=row.created_at, claimed_at=now) for row in rows]
        if claims:
            session.execute(
                update(Message).where(Message.id.in_([claim.id for claim in claims]))
                .values(status=MessageStatus.sending.value, claim_token=token,
                        next_attempt_at=now + LEASE, updated_at=now)
                .execution_options(synchronize_session=False))
        session.commit()
    return claims


def _record_batch(engine: Engine, results: list[tuple[_Claim, dict]]) -> set[int]:
    """Writes what became of each claimed text, where the claim still stands; the ids
    written. One transaction for the batch: a crash before it commits leaves the texts
    `sending`, to be looked up, never resent blindly."""
    if not results:
        return set()
    outbox = Message.__table__
    with Session(engine) as session:
        # Lock the rows whose claim still stands; no one else can change them now.
        standing = set(session.scalars(
            select(Message.id)
            .where(Message.id.in_([claim.id for claim, _ in results]),
                   Message.claim_token == results[0][0].token,
                   Message.status == MessageStatus.sending.value)
            .with_for_update()))
        # One statement for each shape of change, run for many rows at once.
        by_shape: dict[tuple[str, ...], list[dict]] = {}
        for claim, values in results:
            if claim.id in standing:
                shape = tuple(sorted(values))
                by_shape.setdefault(shape, []).append(
                    {"row_id": claim.id, **{f"new_{key}": values[key] for key in shape}})
        for shape, rows in by_shape.items():
            session.connection().execute(
                update(outbox).where(outbox.c.id == bindparam("row_id"))
                .values(claim_token=None, **{key: bindparam(f"new_{key}") for key in shape}),
                rows)
        session.commit()
    return standing


def _outcome_values(outcome: Outcome, provider: str, now: datetime,
                    attempts: int) -> tuple[str, dict]:
    """What to write for an outcome, and how to count it."""
    values: dict = dict(updated_at=now, attempts=attempts, provider=provider)
    if outcome.error:
        values["last_error"] = outcome.error[:400]
    if outcome.result == SENT:
        status = (MessageStatus.delivered if outcome.provider_status == "delivered"
                  else MessageStatus.sent)
        return "sent", values | dict(status=status.value, provider_id=outcome.provider_id,
                                     provider_status=outcome.provider_status, sent_at=now)
    if outcome.result == FAILED or (outcome.result == RETRY and attempts >= MAX_ATTEMPTS):
        return "failed", values | dict(
            status=MessageStatus.failed.value,
            error_code=outcome.error_code or ErrorCode.retries_exhausted.value)
    values["next_attempt_at"] = now + retry_delay(attempts, outcome.retry_after)
    if outcome.result == RETRY:
        values["status"] = MessageStatus.queued.value
    # Otherwise (unknown) it stays `sending` until then, and is looked up first.
    return "retrying", values


def _released(claim: _Claim, due: datetime) -> dict:
    """A claimed text not tried after all goes back as it was, due at `due`."""
    status = MessageStatus.sending if claim.unresolved else MessageStatus.queued
    return dict(status=status.value, next_attempt_at=due)


BATCH = 25
# A send starts only while this much of the lease is left, so that it ends (or times out)
# before another dispatcher may take the text over.
LEASE_MARGIN = timedelta(seconds=30)


def dispatch(engine: Engine, provider: Provider, *, now: datetime | None = None,
             limit: int = 500, rate_limit: RateLimit | None = None,
             window: SendingWindow | None = None, zone: ZoneInfo | None = None,
             closed_days: Container[date] = ()) -> DispatchReport:
    """Sends up to `limit` due texts exactly once each (see the module's notes) and
    reports what happened. `now` fixes the moment (for replays and tests); otherwise the
    clock is read as it goes. With a `window` (and its `zone` and `closed_days`: bank
    holidays), nothing is sent outside it. A 429 ends the pass: the provider is busy.
    `rate_limit` (default: Notify's 3,000 a minute, shared by the process) is never
    exceeded."""
    read_clock = (lambda: now) if now is not None else _utcnow
    rate_limit = rate_limit or DEFAULT_RATE_LIMIT
    report = DispatchReport()
    if window is not None:
        moment = read_clock()
        if next_allowed_time(moment, zone or UTC, window, closed_days) > moment:
            return report
    handled, throttled = 0, False
    while handled < limit and not throttled:
        claims = _claim_batch(engine, read_clock(), min(BATCH, limit - handled))
        if not claims:
            break
        handled += len(claims)
        # Measured on this process's own clock, whatever `now` says.
        stop_at = time.monotonic() + (LEASE - LEASE_MARGIN).total_seconds()
        results: list[tuple[_Claim, dict]] = []
        counts: dict[int, str] = {}
        resume_at = None  # after a 429, when the provider will take texts again
        for claim in claims:
            if resume_at is not None or time.monotonic() > stop_at:
                results.append((claim, _released(claim, resume_at or claim.claimed_at)))
                continue
            attempts = claim.attempts
            outcome = None
            if claim.unresolved:
                outcome = provider.look_up(claim.outgoing, claim.provider_id, claim.since)
                if outcome is None and attempts >= MAX_ATTEMPTS:
                    outcome = Outcome(FAILED)
                if outcome is not None and outcome.result == SENT:
                    counts[claim.id] = "found"
            if outcome is None:
                rate_limit.acquire()
                try:
                    outcome = provider.send(claim.outgoing)
                finally:
                    rate_limit.release()
                attempts += 1
                throttled = outcome.throttled
            count, values = _outcome_values(outcome, provider.name, read_clock(), attempts)
            counts.setdefault(claim.id, count)
            results.append((claim, values))
            if throttled:
                resume_at = values.get("next_attempt_at", read_clock())
        for claim_id in _record_batch(engine, results) & counts.keys():
            setattr(report, counts[claim_id], getattr(report, counts[claim_id]) + 1)
            if counts[claim_id] in ("sent", "found"):
                report.sent_ids.append(claim_id)
    return report


# Receipts: each provider's statuses as ours. A `retry` status means the network gave up
# but a later try may succeed (Notify's temporary and technical failures).
NOTIFY_RECEIPTS = {
    "created": MessageStatus.sent, "sending": MessageStatus.sent,
    "pending": MessageStatus.sent, "sent": MessageStatus.sent,
    "delivered": MessageStatus.delivered, "permanent-failure": MessageStatus.failed,
    "temporary-failure": RETRY, "technical-failure": RETRY,
}
TWILIO_RECEIPTS = {
    "accepted": MessageStatus.sent, "scheduled": MessageStatus.sent,
    "queued": MessageStatus.sent, "sending": MessageStatus.sent, "sent": MessageStatus.sent,
    "delivered": MessageStatus.delivered, "read": MessageStatus.delivered,
    "failed": MessageStatus.failed, "undelivered": MessageStatus.failed,
    "canceled": MessageStatus.failed,
}
# Twilio delivery errors that say the number is wrong, or that it asked for no texts.
TWILIO_NUMBER_ERRORS = {"30005": ErrorCode.invalid_number, "30006": ErrorCode.invalid_number,
                        "21211": ErrorCode.invalid_number, "21610": ErrorCode.unsubscribed}
TWILIO_TRANSIENT_ERRORS = {"30001", "30003", "30008"}


def record_receipt(session: Session, receipt: Receipt, now: datetime | None = None) -> bool:
    """Records a delivery receipt; True if it changed a text. Idempotent by provider id and
    status: providers repeat receipts, and a repeat (or one for an earlier try of a text
    since resent) changes nothing. Owns its transaction."""
    now = now or _utcnow()
    table = NOTIFY_RECEIPTS if receipt.provider == "notify" else TWILIO_RECEIPTS
    verdict = table.get(receipt.status)
    if receipt.provider == "twilio" and verdict == MessageStatus.failed:
        if receipt.error_code in TWILIO_TRANSIENT_ERRORS:
            verdict = RETRY
    row = session.scalars(
        select(Message).where(Message.provider_id == receipt.provider_id,
                              Message.provider == receipt.provider).with_for_update()).first()
    if (row is None or verdict is None or row.status != MessageStatus.sent.value
            or row.provider_status == receipt.status):
        session.rollback()
        return False
    values: dict = dict(provider_status=receipt.status[:24], updated_at=now)
    detail = f"{receipt.provider} receipt: {receipt.status}" + (
        f" {receipt.error_code}" if receipt.error_code else "")
    if verdict == MessageStatus.delivered:
        values["status"] = verdict.value
    elif verdict == MessageStatus.failed or (verdict == RETRY and row.attempts >= MAX_ATTEMPTS):
        error_code = (
            TWILIO_NUMBER_ERRORS.get(receipt.error_code or "", ErrorCode.not_delivered)
            if receipt.provider == "twilio" else
            (ErrorCode.invalid_number if receipt.status == "permanent-failure"
             else ErrorCode.not_delivered))
        values.update(status=MessageStatus.failed.value, error_code=error_code.value,
                      last_error=detail)
    elif verdict == RETRY:
        # Sent again later as a new text at the provider; receipts for this try no longer
        # match it, so a repeat of this one cannot requeue it twice.
        values.update(status=MessageStatus.queued.value, provider_id=None, last_error=detail,
                      next_attempt_at=now + retry_delay(row.attempts))
    session.execute(update(Message).where(Message.id == row.id).values(**values)
                    .execution_options(synchronize_session=False))
    session.commit()
    return True


def record_reply(session: Session, inbound: Inbound,
                 recipient_id: int | None = None) -> Reply | None:
    """Keeps a received text in the caller's transaction, classified (STOP, START, MORE or
    other); None if it was kept already (providers repeat callbacks, even at once). The
    caller acts on the kind: a STOP sets the recipient's opt-out and cancels their texts."""
    statement = _insert(session)(Reply).values(
        provider=inbound.provider, provider_id=inbound.provider_id,
        from_number=inbound.from_number, body=inbound.body[:1600],
        kind=classify_reply(inbound.body).value, recipient_id=recipient_id,
        received_at=inbound.received_at,
    ).on_conflict_do_nothing(index_elements=["provider_id"]).returning(Reply.id)
    reply_id = session.execute(statement).scalar()
    return session.get(Reply, reply_id) if reply_id is not None else None


def list_replies(session: Session, *, unread: bool = False, recipient_id: int | None = None,
                 from_number: str | None = None, limit: int = 50,
                 offset: int = 0) -> tuple[list[Reply], int]:
    """Received texts, newest first, filtered; and how many match."""
    filters = []
    if unread:
        filters.append(Reply.read_at.is_(None))
    if recipient_id is not None:
        filters.append(Reply.recipient_id == recipient_id)
    if from_number is not None:
        filters.append(Reply.from_number == from_number)
    total = session.scalar(select(func.count()).select_from(Reply).where(*filters))
    rows = session.scalars(select(Reply).where(*filters)
                           .order_by(Reply.received_at.desc(), Reply.id.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), total or 0


def mark_replies_read(session: Session, reply_ids: list[int],
                      now: datetime | None = None) -> int:
    """Marks replies read (staff have seen them); how many were unread. Owns its
    transaction."""
    result = session.execute(
        update(Reply).where(Reply.id.in_(reply_ids), Reply.read_at.is_(None))
        .values(read_at=now or _utcnow()).execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount


def numbers_to_fix(session: Session) -> list[Message]:
    """For each number a provider refused (invalid, or unsubscribed at the provider), its
    latest refused text, newest first: what staff should look at."""
    latest = (select(func.max(Message.id))
              .where(Message.status == MessageStatus.failed.value,
                     Message.error_code.in_(sorted(NUMBER_PROBLEMS)))
              .group_by(Message.to))
    return list(session.scalars(select(Message).where(Message.id.in_(latest))
                                .order_by(Message.id.desc())))


def list_messages(session: Session, *, recipient_id: int | None = None,
                  loan_id: int | None = None, status: str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[Message], int]:
    """The outbox, newest first, filtered; and how many match."""
    filters = []
    if recipient_id is not None:
        filters.append(Message.recipient_id == recipient_id)
    if loan_id is not None:
        filters.append(Message.loan_id == loan_id)
    if status is not None:
        filters.append(Message.status == status)
    total = session.scalar(select(func.count()).select_from(Message).where(*filters))
    rows = session.scalars(select(Message).where(*filters).order_by(Message.id.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), total or 0
