"""Recipients, and what the eligibility policy makes of them.

The policy (an `eligibility.Policy`) is handed in by the caller: the app loads it once at
start-up. Every function owns its transaction: it commits or raises, leaving nothing.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import bindparam, exists, func, or_, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from eligibility import Circumstances, Decision, FactsError, Policy, check_facts, decide
from inventory.models import Device, Location
from inventory.service import Conflict, Invalid, InventoryError, NotFound, get_location
from lending.accounts.models import Role, User
from lending.accounts.service import has_role
from lending.audit.service import audit_reason, record_list_read, record_read
from lending.db import MAX_ID, row_by_id
from lending.loans.models import EligibilityDecision, Loan, LoanStatus
from lending.recipients.models import Recipient, RecipientStatus
from lending.recipients.schemas import OverrideCreate, RecipientCreate, RecipientUpdate
from lending.waitlist.models import OPEN_STATUSES, WaitlistRequest

# An override made ahead of an issue stands this long, and for one loan.
OVERRIDE_VALID_FOR = timedelta(days=7)


class Forbidden(InventoryError):
    status_code = 403


class Ineligible(Invalid):
    """The policy refuses (or wants a manager's review of) a loan; the reasons say why."""

    def __init__(self, decision: Decision, message: str) -> None:
        super().__init__(message, "recipient_id")
        self.decision = decision
        self.errors = [{"field": "recipient_id", "code": r.code, "message": r.message}
                       for r in decision.reasons]
        self.extra = {"outcome": decision.outcome, "policy": decision.policy_version,
                      "overridable": decision.overridable,
                      "reasons": [r.model_dump() for r in decision.reasons]}


def checked_facts(facts: dict[str, Any], policy: Policy) -> dict[str, bool]:
    try:
        return check_facts(facts, policy)
    except FactsError as error:
        raise Invalid(f"facts.{error}", f"facts.{error.fact}") from error


def recipient_row(session: Session, recipient: Recipient,
                  location_code: str | None = None) -> dict[str, Any]:
    if location_code is None:
        location_code = session.scalar(
            select(Location.code).where(Location.id == recipient.location_id))
    return {"id": recipient.id, "name": recipient.name, "mobile": recipient.mobile,
            "language": recipient.language, "location": location_code,
            "reference": recipient.reference,
            "device_restriction": recipient.device_restriction,
            "sms_opt_out": recipient.sms_opt_out, "status": recipient.status,
            "facts": recipient.facts, "created_at": recipient.created_at}


def create_recipient(session: Session, data: RecipientCreate, policy: Policy) -> Recipient:
    facts = checked_facts(data.facts, policy)
    location = get_location(session, data.location)
    recipient = Recipient(
        name=data.name, mobile=data.mobile, language=data.language.value,
        location_id=location.id, reference=data.reference,
        device_restriction=data.device_restriction, sms_opt_out=data.sms_opt_out,
        facts=facts, created_at=datetime.now(UTC))
    session.add(recipient)
    session.commit()
    return recipient


def get_recipient(session: Session, recipient_id: int, field: str = "id",
                  lock: bool = False) -> Recipient:
    """The recipient, or NotFound (404) for a path id / Invalid (422) for a body field;
    `lock` holds the row for the rest of the transaction."""
    recipient = row_by_id(session, Recipient, recipient_id, lock)
    if recipient is None:
        error = NotFound if field == "id" else Invalid
        raise error(f"no recipient has the id {recipient_id}", field)
    return recipient


def _lifts_safeguard(recipient: Recipient, data: RecipientUpdate) -> str | None:
    """What, if anything, this update lifts that only a manager may: a licence condition's
    stop on devices, or a closed record's closure."""
    sent = data.model_fields_set
    if "device_restriction" in sent and recipient.device_restriction \
            and data.device_restriction is False:
        return "clearing a device restriction"
    if "status" in sent and recipient.status == RecipientStatus.closed \
            and data.status == RecipientStatus.active:
        return "reopening a closed record"
    return None


def update_recipient(session: Session, recipient_id: int, data: RecipientUpdate,
                     policy: Policy, actor: User | None = None) -> Recipient:
    """A partial update. Setting a restriction is anyone's to do; clearing one, or reopening
    a closed record, needs a manager and a written reason, which the audit log keeps."""
    recipient = get_recipient(session, recipient_id, lock=True)
    sent = data.model_fields_set
    for required in ("name", "language", "device_restriction", "sms_opt_out", "status"):
        if required in sent and getattr(data, required) is None:
            raise Invalid(f"{required} cannot be empty", required)
    lifted = _lifts_safeguard(recipient, data)
    if lifted:
        require_manager(actor, lifted, field="reason")
        if not data.reason:
            raise Invalid(f"{lifted} needs a written reason", "reason")
    if data.reason:
        audit_reason(session, data.reason)
    if "facts" in sent and data.facts is not None:
        merged = dict(recipient.facts)
        for fact, answer in data.facts.items():
            if answer is None:
                merged.pop(fact, None)
            else:
                merged[fact] = answer
        recipient.facts = checked_facts(merged, policy)
    if "location" in sent:
        if not data.location:
            raise Invalid("location cannot be empty", "location")
        recipient.location_id = get_location(session, data.location).id
    for name in ("name", "mobile", "reference", "device_restriction", "sms_opt_out"):
        if name in sent:
            setattr(recipient, name, getattr(data, name))
    for name in ("language", "status"):
        if name in sent:
            setattr(recipient, name, getattr(data, name).value)
    session.commit()
    return recipient


def _as_mobile(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_recipients(session: Session, q: str | None = None, location: str | None = None,
                      status: RecipientStatus | None = None, limit: int = 50,
                      offset: int = 0) -> dict[str, Any]:
    """By name (any part), case reference (any part) or mobile (written any way). Which
    recipients it showed is written to the audit log (ids only, never the search text)."""
    conditions = []
    if q and q.strip():
        needle = q.strip()
        pattern = f"%{needle}%"
        matches = [Recipient.name.ilike(pattern), Recipient.reference.ilike(pattern)]
        mobile = _as_mobile(needle)
        if mobile:
            matches.append(Recipient.mobile == mobile)
        conditions.append(or_(*matches))
    if location:
        conditions.append(Location.code == location.strip().upper())
    if status:
        conditions.append(Recipient.status == status.value)
    total = session.scalar(select(func.count()).select_from(Recipient).join(Location)
                           .where(*conditions)) or 0
    rows = session.execute(
        select(Recipient, Location.code).join(Location).where(*conditions)
        .order_by(Recipient.name, Recipient.id).limit(limit).offset(offset)).all()
    record_list_read(session, "recipients", (r.id for r, _ in rows))
    # A list shows what picking someone needs: never their answers to the policy.
    return {"items": [{key: value for key, value in recipient_row(session, r, code).items()
                       if key != "facts"} for r, code in rows], "total": total}


def recipient_detail(session: Session, recipient_id: int, today: date) -> dict[str, Any]:
    """Everything about one recipient: their loans, decisions and waitlist requests.

    Reading it is written to the audit log.
    """
    from lending.loans.service import loans_of
    from lending.waitlist.service import requests_of

    recipient = get_recipient(session, recipient_id)
    detail = recipient_row(session, recipient)
    detail["loans"] = loans_of(session, recipient.id, today)
    detail["decisions"] = [decision_row(d) for d in session.scalars(
        select(EligibilityDecision).where(EligibilityDecision.recipient_id == recipient.id)
        .order_by(EligibilityDecision.id.desc()).limit(100))]
    detail["requests"] = requests_of(session, recipient.id)
    record_read(session, "recipient", recipient.id)
    return detail


def decision_row(decision: EligibilityDecision) -> dict[str, Any]:
    return {"id": decision.id, "kind": decision.kind, "outcome": decision.outcome,
            "reasons": decision.reasons, "policy": decision.policy_version,
            "facts": decision.facts, "overridable": decision.overridable,
            "decided_at": decision.decided_at, "decided_by": decision.decided_by,
            "purpose": decision.purpose, "override_reason": decision.override_reason,
            "overridden_by": decision.overridden_by, "loan_id": decision.loan_id}


# --- eligibility --------------------------------------------------------------------------

# Built once: issuing runs these on every loan, and building a statement costs more than
# running it on SQLite.
_loans, _devices = Loan.__table__, Device.__table__
_LOANS_THAT_COUNT = (
    select(_devices.c.kind, _loans.c.status, _loans.c.due_on, _loans.c.lost_at)
    .join(_devices, _devices.c.id == _loans.c.device_id)
    .where(_loans.c.recipient_id == bindparam("recipient_id"),
           _loans.c.status.in_((LoanStatus.active.value, LoanStatus.lost.value))))
_LOCK_RECIPIENT = (
    select(Recipient, Location, exists().where(
        WaitlistRequest.recipient_id == Recipient.id,
        WaitlistRequest.status.in_(OPEN_STATUSES)))
    .join(Location, Location.id == Recipient.location_id)
    .where(Recipient.id == bindparam("recipient_id")).with_for_update(of=Recipient))


def circumstances_of(session: Session, recipient: Recipient, today: date, zone: ZoneInfo,
                     also_active: tuple[str, ...] = ()) -> Circumstances:
    """What the policy decides on, from the recipient's record and loans.

    `also_active` counts kinds about to be issued in the same step (a phone and its SIM).
    """
    by_kind: dict[str, int] = {}
    overdue = 0
    last_lost_at = None
    rows = session.connection().execute(_LOANS_THAT_COUNT, {"recipient_id": recipient.id})
    for kind, status, due_on, lost_at in rows:
        if status == LoanStatus.active:
            by_kind[kind] = by_kind.get(kind, 0) + 1
            overdue += due_on < today
        elif lost_at is not None and (last_lost_at is None or lost_at > last_lost_at):
            last_lost_at = lost_at
    for kind in also_active:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    return Circumstances(
        facts=recipient.facts, recipient_active=recipient.status == RecipientStatus.active,
        device_restriction=recipient.device_restriction, active_loans_by_kind=by_kind,
        overdue_loans=overdue,
        last_lost_on=last_lost_at.astimezone(zone).date() if last_lost_at else None,
        today=today)


def eligibility_of(session: Session, recipient: Recipient, kind: str, policy: Policy,
                   today: date, zone: ZoneInfo, also_active: tuple[str, ...] = ()
                   ) -> tuple[Decision, Circumstances]:
    circumstances = circumstances_of(session, recipient, today, zone, also_active)
    return decide(circumstances, kind, policy), circumstances


def check_eligibility(session: Session, recipient_id: int, kind: str, policy: Policy,
                      today: date, zone: ZoneInfo) -> dict[str, Any]:
    """The decision the policy would make now, without storing it. Logged as a read."""
    recipient = get_recipient(session, recipient_id)
    decision, _ = eligibility_of(session, recipient, kind, policy, today, zone)
    record_read(session, "recipient", recipient.id)
    return decision_body(decision)


def decision_body(decision: Decision) -> dict[str, Any]:
    return {"outcome": decision.outcome,
            "reasons": [reason.model_dump() for reason in decision.reasons],
            "policy": decision.policy_version, "overridable": decision.overridable}


def _concerns(decision: Decision) -> set[str]:
    """The codes that stand in the way: what an override has to have seen."""
    return {r.code for r in decision.reasons if r.code not in ("need_shown", "checks_passed")}


def lock_recipient(session: Session, recipient_id: int, field: str = "id"
                   ) -> tuple[Recipient, Location, bool]:
    """The recipient, their home location, and whether they have a waitlist request open;
    the recipient's row locked for the rest of the transaction (on PostgreSQL; SQLite's
    BEGIN IMMEDIATE has already serialised writers)."""
    if not 0 < recipient_id <= MAX_ID:
        get_recipient(session, recipient_id, field)  # raises, naming the id
    row = session.execute(_LOCK_RECIPIENT, {"recipient_id": recipient_id}).first()
    if row is None:
        error = NotFound if field == "id" else Invalid
        raise error(f"no recipient has the id {recipient_id}", field)
    recipient, home, waiting = row
    set_committed_value(recipient, "home", home)
    return recipient, home, waiting


def store_decision(session: Session, recipient: Recipient, kind: str, decision: Decision,
                   circumstances: Circumstances, purpose: str = "issue") -> EligibilityDecision:
    """Adds the decision to the caller's transaction."""
    record = decision_record(session, recipient, kind, decision, circumstances, purpose)
    session.add(record)
    return record


def decision_record(session: Session, recipient: Recipient, kind: str, decision: Decision,
                    circumstances: Circumstances, purpose: str = "issue"
                    ) -> EligibilityDecision:
    """The decision as a row, not yet added to the session."""
    return EligibilityDecision(
        recipient_id=recipient.id, kind=kind, outcome=decision.outcome,
        reasons=[r.model_dump() for r in decision.reasons],
        policy_version=decision.policy_version,
        facts=circumstances.model_dump(mode="json"), overridable=decision.overridable,
        decided_at=datetime.now(UTC), decided_by=session.info.get("actor", "system"),
        purpose=purpose)


def require_manager(actor: User | None, what: str, field: str = "override_reason") -> None:
    if actor is None or not has_role(actor, Role.manager):
        who = actor.email if actor else "this caller"
        raise Forbidden(f"{what} needs the manager role; {who} is "
                        f"{actor.role if actor else 'not signed in'}", field)


def override_eligibility(session: Session, recipient_id: int, data: OverrideCreate,
                         actor: User | None, policy: Policy, today: date, zone: ZoneInfo
                         ) -> EligibilityDecision:
    """A manager sets aside an ineligible or needs_review outcome, in writing, ahead of an
    issue. It lets one loan of that kind through within a week, provided nothing new stands
    in the way since (a reason the manager did not see is not overridden)."""
    require_manager(actor, "overriding eligibility")
    recipient = get_recipient(session, recipient_id)
    decision, circumstances = eligibility_of(session, recipient, data.kind, policy, today, zone)
    if decision.outcome == "eligible":
        raise Conflict(f"the recipient is already eligible for a {data.kind}: "
                       "there is nothing to override", "kind")
    if not decision.overridable:
        raise Ineligible(decision, _refusal_message(decision, data.kind))
    record = store_decision(session, recipient, data.kind, decision, circumstances,
                            purpose="override")
    record.override_reason = data.reason
    record.overridden_by = actor.email if actor else None
    session.commit()
    return record


def standing_override(session: Session, recipient: Recipient, kind: str, decision: Decision
                      ) -> EligibilityDecision | None:
    """An unused manager's override for this kind that saw every reason now standing."""
    since = datetime.now(UTC) - OVERRIDE_VALID_FOR
    for record in session.scalars(
            select(EligibilityDecision).where(
                EligibilityDecision.recipient_id == recipient.id,
                EligibilityDecision.kind == kind,
                EligibilityDecision.purpose == "override",
                EligibilityDecision.loan_id.is_(None),
                EligibilityDecision.decided_at >= since)
            .order_by(EligibilityDecision.id.desc())):
        seen = {r["code"] for r in record.reasons}
        if _concerns(decision) <= seen:
            return record
    return None


def _refusal_message(decision: Decision, kind: str) -> str:
    reasons = "; ".join(r.message for r in decision.reasons
                        if r.code not in ("need_shown", "checks_passed"))
    if not decision.overridable:
        return f"not eligible for a {kind}, and this cannot be overridden: {reasons}"
    if decision.outcome == "needs_review":
        return f"a {kind} needs a manager's review first: {reasons}"
    return f"not eligible for a {kind}: {reasons}"


refusal_message = _refusal_message
