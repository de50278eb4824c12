"""Loans: issue, renew, return, lose and find. Each function owns its transaction.

The eligibility policy and the service's time zone are handed in by the caller (the app
loads the policy once at start-up); `now` may be given, for tests and the scheduler.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from eligibility import Policy
from inventory import service as inventory
from inventory.models import PLAN_KINDS, Device, DeviceKind, DeviceStatus, Location
from inventory.schemas import StatusChange
from inventory.service import Conflict, Invalid, NotFound, move_device, normalise_tag
from lending.accounts.models import User
from lending.accounts.service import require_manager
from lending.audit.service import record_list_read, record_read
from lending.db import MAX_ID, get_row
from lending.decisions.models import EligibilityDecision
from lending.decisions.service import (
    Ineligible,
    decision_record,
    eligibility_of,
    lock_recipient,
    lock_statement,
    refusal_message,
    standing_override,
    unused_declaration,
)
from lending.loans.calendar import is_open, next_open_day
from lending.loans.models import Loan, LoanStatus
from lending.loans.schemas import FoundDevice, LoanCreate, LoseLoan, RenewLoan, ReturnLoan
from lending.recipients.models import Declaration, Recipient, Restriction
from lending.recipients.service import declaration_row
from lending.waitlist import service as waitlist
from lending.waitlist.models import OPEN_STATUSES, RequestStatus, WaitlistRequest

# Kinds a SIM may go out with in one step.
SIM_CARRIERS = (DeviceKind.phone.value, DeviceKind.hotspot.value)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


# Issuing locks the recipient and asks, in the same round trip, whether they wait for a
# device: only then are their waitlist requests read.
_LOCK_RECIPIENT_FOR_ISSUE = lock_statement(exists().where(
    WaitlistRequest.recipient_id == Recipient.id, WaitlistRequest.status.in_(OPEN_STATUSES)))


# --- reading ------------------------------------------------------------------------------

_LOAN_COLUMNS = (
    Loan.id, Device.asset_tag, Device.kind, Device.make, Device.model,
    Loan.recipient_id, Recipient.name.label("recipient_name"), Loan.status,
    Loan.issued_at, Loan.issued_by, Loan.due_on, Loan.renewals, Loan.accessories,
    Loan.with_loan_id, Loan.returned_at, Loan.returned_condition, Loan.missing_accessories,
    Loan.return_notes, Loan.lost_at, Loan.stolen, Loan.police_reference, Loan.lost_notes,
    Loan.found_at, Loan.agreement_accepted_at, Location.code.label("location"),
    Loan.purposes, Loan.helped_with, Loan.wants_skills_help, Loan.declaration_id,
    Loan.survey_answer, Loan.more_time_requested_at,
)


def _loan_query():
    return (select(*_LOAN_COLUMNS)
            .join(Device, Device.id == Loan.device_id)
            .join(Recipient, Recipient.id == Loan.recipient_id)
            .join(Location, Location.id == Recipient.location_id))


def _shown_status(status: str, due_on: date, today: date) -> str:
    """Overdue is derived, never stored: an active loan past its due date."""
    return "overdue" if status == LoanStatus.active and due_on < today else status


def _loan_dict(row: Any, today: date) -> dict[str, Any]:
    data = dict(row._mapping)
    data["status"] = _shown_status(data["status"], data["due_on"], today)
    data["overdue"] = data["status"] == "overdue"
    return data


def loan_row(session: Session, loan_id: int, today: date) -> dict[str, Any]:
    row = session.execute(_loan_query().where(Loan.id == loan_id)).one()
    return _loan_dict(row, today)


def loan_view(session: Session, loan: Loan, today: date) -> dict[str, Any]:
    """The same fields as `loan_row`, from the objects the session already holds (a query
    only for what it does not): what an operation answers with, without reading again."""
    device, recipient = loan.device, loan.recipient
    location = recipient.home
    values = {column.key: getattr(loan, column.key) for column in _LOAN_COLUMNS
              if column.key in Loan.model_fields}
    values.update(asset_tag=device.asset_tag, kind=device.kind, make=device.make,
                  model=device.model, recipient_name=recipient.name, location=location.code)
    values["status"] = _shown_status(loan.status, loan.due_on, today)
    return {column.key: values[column.key] for column in _LOAN_COLUMNS} | {
        "overdue": values["status"] == "overdue"}


def get_loan(session: Session, loan_id: int, lock: bool = False) -> Loan:
    return get_row(session, Loan, loan_id, "loan", lock=lock)


# How a list of loans may be ordered: `-` first for the other way round. Each ends on the
# loan's id, so that a page never shows a row twice nor misses one.
LOAN_ORDERS = {
    "id": (Loan.id,), "-id": (Loan.id.desc(),),
    "due": (Loan.due_on, Loan.id), "-due": (Loan.due_on.desc(), Loan.id.desc()),
    "recipient": (Recipient.name, Loan.id), "-recipient": (Recipient.name.desc(), Loan.id.desc()),
}


def list_loans(session: Session, today: date, status: str | None = None,
               recipient_id: int | None = None, asset_tag: str | None = None,
               limit: int = 50, offset: int = 0, location: str | None = None,
               kind: str | None = None, min_days_late: int | None = None,
               max_days_late: int | None = None, order: str = "-id",
               contact: bool = False) -> dict[str, Any]:
    """`status` is active (and not yet due), overdue (active and due before today),
    returned or lost: four states that do not overlap, as each loan shows its own.
    `location` is the recipient's office; `min_days_late` and `max_days_late` bound how many
    days past its due date an active loan is (either implies overdue). `order` is one of
    LOAN_ORDERS; `contact` adds each recipient's mobile (`recipient_mobile`), for chasing."""
    conditions = []
    if status == "overdue":
        conditions += [Loan.status == LoanStatus.active.value, Loan.due_on < today]
    elif status == "active":
        conditions += [Loan.status == LoanStatus.active.value, Loan.due_on >= today]
    elif status == "more_time":
        conditions += [Loan.status == LoanStatus.active.value,
                       Loan.more_time_requested_at.is_not(None)]
    elif status:
        conditions.append(Loan.status == LoanStatus(status).value)
    if recipient_id is not None:
        conditions.append(Loan.recipient_id == recipient_id)
    if asset_tag:
        conditions.append(Device.asset_tag == normalise_tag(asset_tag))
    if location:
        conditions.append(Location.code == location.strip().upper())
    if kind:
        conditions.append(Device.kind == DeviceKind(kind).value)
    if min_days_late is not None or max_days_late is not None:
        conditions += [Loan.status == LoanStatus.active.value,
                       Loan.due_on <= today - timedelta(days=max(min_days_late or 1, 1))]
        if max_days_late is not None:
            conditions.append(Loan.due_on >= today - timedelta(days=max_days_late))
    count = select(func.count()).select_from(Loan)
    if asset_tag or kind:
        count = count.join(Device, Device.id == Loan.device_id)
    if location:
        count = count.join(Recipient, Recipient.id == Loan.recipient_id).join(
            Location, Location.id == Recipient.location_id)
    total = session.scalar(count.where(*conditions)) or 0
    query = _loan_query()
    if contact:
        query = query.add_columns(Recipient.mobile.label("recipient_mobile"))
    rows = session.execute(query.where(*conditions).order_by(*LOAN_ORDERS[order])
                           .limit(limit).offset(offset)).all()
    # Each row names its recipient: a read of personal data.
    record_list_read(session, "loans", (row.recipient_id for row in rows))
    return {"items": [_loan_dict(row, today) for row in rows], "total": total,
            "limit": limit, "offset": offset}


def agreement_of(session: Session, loan_id: int, organisation: str, zone: ZoneInfo,
                 today: date, easy_read: bool | None = None, language: str | None = None,
                 resources_file: str = "") -> bytes:
    """The signed loan agreement, with the starter sheet, as a PDF: in the recipient's
    language and, if they asked for it (or `easy_read` says so), easy read. It names the
    recipient, so reading it is logged."""
    from lending.loans.agreement import agreement_pdf, load_resources

    loan = get_loan(session, loan_id)
    row = loan_row(session, loan_id, today)
    serial = session.scalar(select(Device.serial_number).where(Device.id == loan.device_id))
    recipient = session.get(Recipient, loan.recipient_id)
    declaration = session.get(Declaration, loan.declaration_id) if loan.declaration_id else None
    pdf = agreement_pdf(
        row, organisation, serial, loan.issued_at.astimezone(zone).date(),
        language=language or recipient.language,
        easy_read=recipient.easy_read if easy_read is None else easy_read,
        declaration=declaration_row(declaration) if declaration else None,
        resources=load_resources(resources_file))
    record_read(session, "recipient", loan.recipient_id, {"what": "agreement",
                                                          "loan_id": loan.id})
    return pdf


def loans_of(session: Session, recipient_id: int, today: date, limit: int = 200,
             offset: int = 0) -> list[dict[str, Any]]:
    """The recipient's loans, newest first, a page at a time."""
    rows = session.execute(_loan_query().where(Loan.recipient_id == recipient_id)
                           .order_by(Loan.id.desc()).limit(limit).offset(offset)).all()
    return [_loan_dict(row, today) for row in rows]


def current_loan(session: Session, device: Device, today: date) -> dict[str, Any] | None:
    """The device's active loan, if it has one (the partial unique index allows one)."""
    row = session.execute(_loan_query().where(Loan.device_id == device.id,
                                              Loan.status == LoanStatus.active.value)).first()
    return _loan_dict(row, today) if row else None


def reminder_number(session: Session, recipient: Recipient) -> str | None:
    """The number reminders go to: the recipient's own mobile, or else the number of a SIM
    on loan to them. None when they have opted out of SMS (they replied STOP), or when
    there is no number to send to."""
    if recipient.sms_opt_out:
        return None
    if recipient.mobile:
        return recipient.mobile
    return session.scalar(
        select(Device.msisdn).join(Loan, Loan.device_id == Device.id)
        .where(Loan.recipient_id == recipient.id, Loan.status == LoanStatus.active.value,
               Device.kind == DeviceKind.sim.value, Device.msisdn.is_not(None))
        .order_by(Loan.id.desc()).limit(1))


# --- due dates ----------------------------------------------------------------------------

def policy_due_on(policy: Policy, kind: str, location: Location, start: date) -> date:
    """The policy's loan period from `start`, moved to the office's next open day."""
    return next_open_day(location, start + timedelta(days=policy.loan_period_days(kind)))


def _checked_due_on(wanted: date | None, latest: date, location: Location, today: date,
                    after: date | None = None) -> date:
    if wanted is None:
        return latest
    if wanted < today:
        raise Invalid("Due date must be today or in the future", "due_on")
    if after is not None and wanted <= after:
        raise Invalid(f"Due date must be after {after:%-d %B %Y}, the date it is due now",
                      "due_on")
    if wanted > latest:
        raise Invalid(f"the policy allows a due date up to {latest.isoformat()}", "due_on")
    if not is_open(location, wanted):
        raise Invalid(f"{location.code} is closed on {wanted:%A} {wanted.isoformat()}; "
                      f"the next open day is {next_open_day(location, wanted).isoformat()}",
                      "due_on")
    return wanted


def check_plan_lasts(device: Device, due_on: date, today: date) -> None:
    """A SIM or hotspot is lent only while its data plan lasts: connectivity that ends
    before the loan does is no loan at all. Names `due_on`, with the plan's last day."""
    ends = device.plan_ends_on
    if device.kind not in PLAN_KINDS or ends is None or ends >= due_on:
        return
    if ends < today:
        raise Invalid(f"the data plan of {device.asset_tag} ended on {ends.isoformat()}: "
                      "renew the plan first", "due_on")
    raise Invalid(f"the data plan of {device.asset_tag} ends on {ends.isoformat()}, before "
                  f"the due date {due_on.isoformat()}: lend it until {ends.isoformat()}, or "
                  "renew the plan first", "due_on")


# --- issuing ------------------------------------------------------------------------------

# Built once: these run on every issue and return.
_LOCK_DEVICES = (
    select(Device, WaitlistRequest.recipient_id, WaitlistRequest.offer_expires_at)
    .outerjoin(WaitlistRequest, and_(
        WaitlistRequest.offered_device_id == Device.id,
        WaitlistRequest.status == RequestStatus.offered.value))
    .where(Device.asset_tag.in_(bindparam("tags", expanding=True))).order_by(Device.id)
    .with_for_update(of=Device))
_LOCK_LOAN = (
    select(Loan, Device, Recipient, Location)
    .join(Device, Device.id == Loan.device_id)
    .join(Recipient, Recipient.id == Loan.recipient_id)
    .join(Location, Location.id == Recipient.location_id)
    .where(Loan.id == bindparam("loan_id")).with_for_update(of=(Loan, Device)))


def _lock_devices(session: Session, tags: list[tuple[str, str]]
                  ) -> tuple[dict[str, Device], dict[int, tuple[int, datetime]]]:
    """The devices for (field, tag) pairs, locked in a fixed order so that two issues never
    wait on each other in a circle; and, per device id, the waitlist offer holding it
    (recipient id, until when), if any."""
    by_tag = {normalise_tag(tag): field for field, tag in tags}
    rows = session.execute(_LOCK_DEVICES, {"tags": list(by_tag)}).all()
    devices = {device.asset_tag: device for device, *_ in rows}
    holds = {device.id: (holder, until) for device, holder, until in rows if holder}
    for tag, field in by_tag.items():
        if tag not in devices:
            raise Invalid(f"no device has the tag {tag}", field)
    return {field: devices[tag] for tag, field in by_tag.items()}, holds


def _refuse_unavailable(device: Device, field: str, recipient: Recipient,
                        hold: tuple[int, datetime] | None) -> None:
    if device.status != DeviceStatus.available:
        hint = {DeviceStatus.awaiting_wipe.value: ": record its wipe first",
                DeviceStatus.on_loan.value: ": it is already lent"}.get(device.status, "")
        raise Conflict(f"device {device.asset_tag} is {device.status}, not available{hint}",
                       field)
    if hold is not None and hold[0] != recipient.id:
        raise Conflict(f"device {device.asset_tag} is held for a waitlist offer until "
                       f"{hold[1]:%Y-%m-%d %H:%M} UTC", field)


def issue_loan(session: Session, data: LoanCreate, policy: Policy, zone: ZoneInfo,
               actor: User | None = None, now: datetime | None = None) -> list[Loan]:
    """Lends an available device (and, with a phone, its SIM) to an eligible recipient.

    Returns the loans made, the main device's first. Every decision is stored with its
    policy version, facts and reasons, also when it refuses (then nothing else is
    written). A manager may override an overridable refusal with a written reason, here
    (`override_reason`) or ahead of time; the device-restriction stop cannot be overridden.
    Everything is written in one flush at the commit.
    """
    now = _now(now)
    today = _today(now, zone)
    if not data.agreement_accepted:
        raise Invalid("the recipient must accept the loan agreement before a loan is issued",
                      "agreement_accepted")
    if data.override_reason:
        require_manager(actor, "overriding eligibility")
    if data.sim_tag and normalise_tag(data.sim_tag) == normalise_tag(data.asset_tag):
        raise Invalid("the SIM must be a different device from the phone", "sim_tag")
    # Serialise issues to one recipient, so that two desks cannot both pass the loan limits.
    recipient, home, waiting = lock_recipient(session, data.recipient_id, "recipient_id",
                                              _LOCK_RECIPIENT_FOR_ISSUE)
    wanted = [("asset_tag", data.asset_tag)] + ([("sim_tag", data.sim_tag)]
                                                if data.sim_tag else [])
    devices, holds = _lock_devices(session, wanted)
    main = devices["asset_tag"]
    sim = devices.get("sim_tag")
    if sim is not None:
        if main.kind not in SIM_CARRIERS:
            raise Invalid(f"a SIM goes out in one step only with a phone or hotspot; "
                          f"{main.asset_tag} is a {main.kind}", "sim_tag")
        if sim.kind != DeviceKind.sim:
            raise Invalid(f"{sim.asset_tag} is a {sim.kind}, not a SIM", "sim_tag")
    for field, device in devices.items():
        _refuse_unavailable(device, field, recipient, holds.get(device.id))
    due_dates = {device.id: _checked_due_on(
        data.due_on, policy_due_on(policy, device.kind, home, today), home, today)
        for device in devices.values()}
    for device in devices.values():
        check_plan_lasts(device, due_dates[device.id], today)

    plan = [(main, ())] + ([(sim, (main.kind,))] if sim else [])
    approved = []
    for device, also_active in plan:
        decision, circumstances = eligibility_of(session, recipient, device.kind, policy,
                                                 today, zone, also_active)
        record = decision_record(session, recipient, device.kind, decision, circumstances)
        approved.append((device, record, None))
        if decision.outcome == "eligible":
            continue
        refusal = Ineligible(decision, refusal_message(decision, device.kind))
        if not decision.overridable:
            _keep_decisions_and_refuse(session, approved, refusal)
        if data.override_reason:
            record.override_reason = data.override_reason
            record.overridden_by = actor.email if actor else None
            continue
        ahead = standing_override(session, recipient, device.kind, decision)
        if ahead is None:
            _keep_decisions_and_refuse(session, approved, refusal)
        record.override_reason = ahead.override_reason
        record.overridden_by = ahead.overridden_by
        approved[-1] = (device, record, ahead)

    # Read before anything is added, so that the reads do not flush half a loan.
    requests = waitlist.open_requests(session, recipient.id, [d.kind for d, *_ in approved]
                                      ) if waiting else []
    declaration = (unused_declaration(session, recipient.id)
                   if recipient.restriction == Restriction.declared_only else None)
    loans: list[Loan] = []
    for device, record, ahead in approved:
        loan = Loan(device=device, recipient=recipient, issued_at=now,
                    issued_by=session.info.get("actor", "system"), due_on=due_dates[device.id],
                    accessories=list(data.accessories) if device is main else [],
                    agreement_accepted_at=now, with_loan=loans[0] if loans else None,
                    purposes=[purpose.value for purpose in data.purposes],
                    wants_skills_help=data.wants_skills_help,
                    declaration_id=declaration.id if declaration else None)
        move_device(device, DeviceStatus.on_loan)
        session.add(loan)
        record.loan = loan
        session.add(record)
        if ahead is not None:
            ahead.loan = loan
        waitlist.fulfil(session, [r for r in requests if r.kind == device.kind], loan,
                        device, now)
        loans.append(loan)
    _commit_issue(session, main)
    return loans


def _keep_decisions_and_refuse(session: Session, approved: list, refusal: Ineligible) -> None:
    """A refusal is itself a decision worth keeping: store it, write nothing else."""
    session.add_all([record for _, record, _ in approved])
    session.commit()
    raise refusal


def _commit_issue(session: Session, device: Device) -> None:
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"device {device.asset_tag} was lent by someone else a moment ago",
                       "asset_tag") from error


# --- after issuing ------------------------------------------------------------------------

def _active(loan: Loan) -> None:
    if loan.status != LoanStatus.active:
        raise Conflict(f"loan {loan.id} is {loan.status}, not active", "status")


def _renewed_due_on(session: Session, loan: Loan, wanted: date | None, policy: Policy,
                    today: date) -> date:
    """The due date a renewal of `loan` would give (`wanted`, or the policy's full period),
    or the reason the policy refuses it: the renewal limit, the office's calendar, the
    data plan's end."""
    _active(loan)
    device = session.get(Device, loan.device_id)
    allowed = policy.max_renewals(device.kind)
    if loan.renewals >= allowed:
        raise Conflict(f"loan {loan.id} has been renewed {loan.renewals} time(s): the policy "
                       f"allows {allowed} for a {device.kind}; the device is due back on "
                       f"{loan.due_on.isoformat()}", "renewals")
    home = session.scalar(select(Location).join(Recipient, Recipient.location_id == Location.id)
                          .where(Recipient.id == loan.recipient_id))
    latest = policy_due_on(policy, device.kind, home, max(loan.due_on, today))
    due_on = _checked_due_on(wanted, latest, home, today, after=loan.due_on)
    check_plan_lasts(device, due_on, today)
    return due_on


def _renew(session: Session, loan_id: int, wanted: date | None, policy: Policy,
           zone: ZoneInfo, now: datetime | None) -> Loan:
    loan = get_loan(session, loan_id, lock=True)
    loan.due_on = _renewed_due_on(session, loan, wanted, policy, _today(_now(now), zone))
    loan.renewals += 1
    # A renewal answers any request for more time.
    loan.more_time_requested_at = None
    return loan


def renew_loan(session: Session, loan_id: int, data: RenewLoan, policy: Policy,
               zone: ZoneInfo, now: datetime | None = None) -> Loan:
    """A new due date, within the policy's renewal limit for the kind."""
    loan = _renew(session, loan_id, data.due_on, policy, zone, now)
    session.commit()
    return loan


# --- after the return: the survey; before it: asking for more time -------------------------

SURVEY_SCALE = range(1, 6)


def survey_score(text: str) -> int | None:
    """A reply's answer to "how much did it help, 1 to 5": the one digit it holds, with any
    spaces or punctuation around it; None for anything else."""
    core = "".join(char for char in text if char.isalnum())
    return int(core) if core.isdigit() and int(core) in SURVEY_SCALE else None


def record_survey_answer(session: Session, loan_id: int, text: str,
                         now: datetime | None = None,
                         clarify: Callable[[Session, Loan], None] | None = None) -> bool:
    """Stores a reply to the survey sent after a return. Returns whether a clarification
    is due: True once only, for the first reply out of range; never after an answer.
    `clarify`, when given, is called before the commit when one is due (to queue it in
    the same transaction)."""
    loan = get_loan(session, loan_id, lock=True)
    if loan.survey_answer is not None:
        session.rollback()
        return False
    score = survey_score(text)
    if score is not None:
        loan.survey_answer = score
        loan.survey_answered_at = _now(now)
        session.commit()
        return False
    if loan.survey_clarified:
        session.rollback()
        return False
    loan.survey_clarified = True
    if clarify is not None:
        clarify(session, loan)
    session.commit()
    return True


def request_more_time(session: Session, loan_id: int, now: datetime | None = None) -> Loan:
    """The recipient asked for more time (a MORE reply): staff see it on the desk and the
    loan until it is dealt with. Only an active loan can be given more time."""
    loan = get_loan(session, loan_id, lock=True)
    _active(loan)
    if loan.more_time_requested_at is None:
        loan.more_time_requested_at = _now(now)
    session.commit()
    return loan


def renewal_refusal(session: Session, loan_id: int, policy: Policy, zone: ZoneInfo,
                    now: datetime | None = None) -> str | None:
    """Why the policy would refuse to renew the loan for its full period now (the renewal
    limit, the data plan's end, a loan no longer active), for staff; None if it would
    renew. Reads only: what a request for more time is answered with at once."""
    loan = get_loan(session, loan_id)
    try:
        _renewed_due_on(session, loan, None, policy, _today(_now(now), zone))
    except (Conflict, Invalid) as refusal:
        return str(refusal)
    return None


def renew_on_request(session: Session, loan_id: int, policy: Policy, zone: ZoneInfo,
                     now: datetime | None = None,
                     then: Callable[[Session, Loan], None] | None = None) -> Loan:
    """One click: renews within the policy (as `renew_loan`, for the policy's full period)
    and closes the request; `then`, when given, is called before the commit (to queue the
    text with the new date in the same transaction). A refusal leaves the request
    standing and raises as `renew_loan` does."""
    try:
        if get_loan(session, loan_id, lock=True).more_time_requested_at is None:
            # Answered already (renewed from another desk, or a second click).
            raise Conflict(f"loan {loan_id} has no request for more time standing",
                           "more_time_requested_at")
        loan = _renew(session, loan_id, None, policy, zone, now)
        if then is not None:
            then(session, loan)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return loan


def _lock_loan_and_device(session: Session, loan_id: int) -> tuple[Loan, Device]:
    """The loan and its device, both locked, with the recipient and home location loaded
    for the answer: one query."""
    if not 0 < loan_id <= MAX_ID:
        raise NotFound(f"no loan has the id {loan_id}", "id")
    row = session.execute(_LOCK_LOAN, {"loan_id": loan_id}).first()
    if row is None:
        raise NotFound(f"no loan has the id {loan_id}", "id")
    loan, device, recipient, location = row
    # Held by the loan, so that the answer is made from them without a query.
    set_committed_value(loan, "device", device)
    set_committed_value(loan, "recipient", recipient)
    set_committed_value(recipient, "home", location)
    return loan, device


def return_loan(session: Session, loan_id: int, data: ReturnLoan,
                now: datetime | None = None) -> Loan:
    """The device comes back: it waits for a wipe, or goes to repair if graded D."""
    loan, device = _lock_loan_and_device(session, loan_id)
    _active(loan)
    handed_over = {item.casefold(): item for item in loan.accessories}
    for item in data.missing_accessories:
        if item.casefold() not in handed_over:
            given = ", ".join(loan.accessories) or "none"
            raise Invalid(f"{item!r} was not handed over with this loan (handed over: "
                          f"{given})", "missing_accessories")
    move_device(device, DeviceStatus.in_repair if data.condition == "D"
                else DeviceStatus.awaiting_wipe)
    device.condition = data.condition
    loan.status = LoanStatus.returned.value
    loan.returned_at = _now(now)
    loan.returned_condition = data.condition
    loan.missing_accessories = [handed_over[item.casefold()] for item in data.missing_accessories]
    loan.return_notes = data.notes
    if data.helped_with is not None:
        loan.helped_with = data.helped_with
    session.commit()
    return loan


def record_loss(session: Session, loan_id: int, data: LoseLoan,
                now: datetime | None = None) -> Loan:
    loan = get_loan(session, loan_id, lock=True)
    _active(loan)
    device = session.scalar(select(Device).where(Device.id == loan.device_id)
                            .with_for_update())
    move_device(device, DeviceStatus.lost)
    loan.status = LoanStatus.lost.value
    loan.lost_at = _now(now)
    loan.stolen = data.stolen
    loan.police_reference = data.police_reference or None
    loan.lost_notes = data.notes
    session.commit()
    return loan


def record_found(session: Session, loan_id: int, data: FoundDevice,
                 now: datetime | None = None) -> Loan:
    """A lost device turns up: it waits for a wipe. The loan stays lost, with the date."""
    loan = get_loan(session, loan_id, lock=True)
    if loan.status != LoanStatus.lost or loan.found_at is not None:
        state = "already found" if loan.found_at else loan.status
        raise Conflict(f"loan {loan.id} is {state}: only a lost device can be found", "status")
    device = session.scalar(select(Device).where(Device.id == loan.device_id)
                            .with_for_update())
    move_device(device, DeviceStatus.awaiting_wipe)
    loan.found_at = _now(now)
    if data.notes:
        loan.lost_notes = (loan.lost_notes + "\n" if loan.lost_notes else "") + data.notes
    session.commit()
    return loan


def decisions_for_loan(session: Session, loan_id: int) -> list[EligibilityDecision]:
    return list(session.scalars(select(EligibilityDecision).where(and_(
        EligibilityDecision.loan_id == loan_id, EligibilityDecision.purpose == "issue"))))


# --- hand moves and the consistency check -------------------------------------------------

def move_by_hand(session: Session, asset_tag: str, change: StatusChange) -> Device:
    """A person moving a device by hand (to repair, retired, found). A device on loan moves
    only through its loan (a return, a loss or a find): anything else is a 409 naming the
    loan. A lost device reported as found is recorded on its loan too."""
    device = inventory.get_device(session, asset_tag)
    if device.status == DeviceStatus.on_loan:
        loan_id = session.scalar(select(Loan.id).where(
            Loan.device_id == device.id, Loan.status == LoanStatus.active.value))
        act_on = (f"record its return or loss on loan {loan_id} (/loans/{loan_id}/return, "
                  f"/loans/{loan_id}/lost)" if loan_id else "run `lending check`")
        raise Conflict(f"device {device.asset_tag} is on loan; only its loan moves it: "
                       f"{act_on}", "status")
    if device.status == DeviceStatus.lost and change.status == DeviceStatus.awaiting_wipe:
        lost_loan = session.scalar(
            select(Loan.id).where(Loan.device_id == device.id,
                                  Loan.status == LoanStatus.lost.value,
                                  Loan.found_at.is_(None))
            .order_by(Loan.id.desc()).limit(1))
        if lost_loan is not None:
            record_found(session, lost_loan, FoundDevice(notes=change.notes or ""))
            return inventory.get_device(session, asset_tag)
    return inventory.change_status(session, asset_tag, change)


def status_disagreements(session: Session) -> list[dict[str, Any]]:
    """Every device whose status disagrees with its loans: on loan without an active loan,
    or with an active loan while not on loan."""
    active = (select(Loan.device_id, Loan.id.label("loan_id"))
              .where(Loan.status == LoanStatus.active.value).subquery())
    rows = session.execute(
        select(Device.asset_tag, Device.status, active.c.loan_id)
        .outerjoin(active, active.c.device_id == Device.id)
        .where(((Device.status == DeviceStatus.on_loan.value) & active.c.loan_id.is_(None))
               | ((Device.status != DeviceStatus.on_loan.value)
                  & active.c.loan_id.is_not(None)))
        .order_by(Device.asset_tag)).all()
    return [{"asset_tag": tag, "status": status, "active_loan": loan_id,
             "problem": ("on loan, but no loan of it is active" if loan_id is None else
                         f"{status}, but loan {loan_id} of it is active")}
            for tag, status, loan_id in rows]
