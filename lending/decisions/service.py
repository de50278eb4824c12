"""The eligibility of a recipient: what the policy decides for them now, the decisions
stored as they were made, and the overrides managers write. Below loans and the waitlist,
which both ask it; above recipients, whose records it reads.

The policy (an `eligibility.Policy`) is handed in by the caller: the app loads it once at
start-up.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from eligibility import DATA, Circumstances, Decision, Policy, decide, decide_data
from inventory.models import Device, Location
from inventory.service import Conflict, Invalid, NotFound
from lending.accounts.models import User
from lending.accounts.service import require_manager
from lending.audit.service import record_read
from lending.db import MAX_ID
from lending.decisions.models import EligibilityDecision
from lending.decisions.schemas import OverrideCreate
from lending.loans.models import Loan, LoanStatus
from lending.recipients.models import Declaration, Recipient, RecipientStatus, Restriction
from lending.recipients.service import declaration_row, get_recipient
from lending.vouchers.models import Voucher

# An override made ahead of an issue stands this long, and for one loan.
OVERRIDE_VALID_FOR = timedelta(days=7)


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



def decision_row(decision: EligibilityDecision) -> dict[str, Any]:
    return {"id": decision.id, "kind": decision.kind, "outcome": decision.outcome,
            "reasons": decision.reasons, "policy": decision.policy_version,
            "facts": decision.facts, "overridable": decision.overridable,
            "decided_at": decision.decided_at, "decided_by": decision.decided_by,
            "purpose": decision.purpose, "override_reason": decision.override_reason,
            "overridden_by": decision.overridden_by, "loan_id": decision.loan_id}



# Built once: issuing runs these on every loan, and building a statement costs more than
# running it on SQLite.
_loans, _devices = Loan.__table__, Device.__table__
_LOANS_THAT_COUNT = (
    select(_devices.c.kind, _loans.c.status, _loans.c.due_on, _loans.c.lost_at)
    .join(_devices, _devices.c.id == _loans.c.device_id)
    .where(_loans.c.recipient_id == bindparam("recipient_id"),
           _loans.c.status.in_((LoanStatus.active.value, LoanStatus.lost.value))))


def lock_statement(*also: ColumnElement) -> Select:
    """The statement `lock_recipient` runs: the recipient and their home office, plus any
    further columns the caller wants read in the same round trip. Build it once."""
    return (select(Recipient, Location, *also)
            .join(Location, Location.id == Recipient.location_id)
            .where(Recipient.id == bindparam("recipient_id")).with_for_update(of=Recipient))


_LOCK_RECIPIENT = lock_statement()


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
    declaration_required = recipient.restriction == Restriction.declared_only
    declared = declaration_required and unused_declaration(session, recipient.id) is not None
    return Circumstances(
        facts=recipient.facts, recipient_active=recipient.status == RecipientStatus.active,
        device_restriction=recipient.device_restriction, active_loans_by_kind=by_kind,
        declaration_required=declaration_required, declared=declared,
        overdue_loans=overdue,
        last_lost_on=last_lost_at.astimezone(zone).date() if last_lost_at else None,
        today=today)


_VOUCHERS_GIVEN_SINCE = (
    select(func.count()).select_from(Voucher)
    .where(Voucher.recipient_id == bindparam("recipient_id"),
           Voucher.issued_at >= bindparam("since")))


def unused_declaration(session: Session, recipient_id: int) -> Declaration | None:
    """The newest declaration no loan has used yet: each declaration covers one loan (a
    phone and the SIM lent with it count as one)."""
    used = select(Loan.id).where(Loan.declaration_id == Declaration.id).exists()
    return session.scalar(select(Declaration).where(
        Declaration.recipient_id == recipient_id, ~used)
        .order_by(Declaration.id.desc()).limit(1))


def declarations_of(session: Session, recipient: Recipient) -> list[dict[str, Any]]:
    """A recipient's declarations, newest first, with the loan each was used for. Read
    only under declared_only, the one condition that needs them."""
    if recipient.restriction != Restriction.declared_only:
        return []
    rows = session.execute(
        select(Declaration, Loan.id).outerjoin(Loan, Loan.declaration_id == Declaration.id)
        .where(Declaration.recipient_id == recipient.id)
        .order_by(Declaration.id.desc(), Loan.id)).all()
    seen: dict[int, dict[str, Any]] = {}
    for declaration, loan_id in rows:
        seen.setdefault(declaration.id, declaration_row(declaration, loan_id))
    return list(seen.values())


def eligibility_of(session: Session, recipient: Recipient, kind: str, policy: Policy,
                   today: date, zone: ZoneInfo, also_active: tuple[str, ...] = ()
                   ) -> tuple[Decision, Circumstances]:
    """The policy's decision for a device `kind`, or for `data` (a voucher)."""
    circumstances = circumstances_of(session, recipient, today, zone, also_active)
    if kind == DATA:
        since = datetime.now(UTC) - timedelta(days=policy.data.within_days)
        given = session.scalar(_VOUCHERS_GIVEN_SINCE, {"recipient_id": recipient.id,
                                                      "since": since}) or 0
        circumstances = circumstances.model_copy(update={"data_vouchers_recently": given})
        return decide_data(circumstances, policy), circumstances
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
    return {r.code for r in decision.reasons if r.code not in ("need_shown", "checks_passed",
                                                             "declaration_recorded")}


def lock_recipient(session: Session, recipient_id: int, field: str = "id",
                   statement: Select = _LOCK_RECIPIENT) -> tuple[Any, ...]:
    """The recipient, their home location, and whatever else `statement` (made by
    `lock_statement`) reads; the recipient's row locked for the rest of the transaction (on
    PostgreSQL; SQLite's BEGIN IMMEDIATE has already serialised writers)."""
    if not 0 < recipient_id <= MAX_ID:
        get_recipient(session, recipient_id, field)  # raises, naming the id
    row = session.execute(statement, {"recipient_id": recipient_id}).first()
    if row is None:
        error = NotFound if field == "id" else Invalid
        raise error(f"no recipient has the id {recipient_id}", field)
    recipient, home, *rest = row
    set_committed_value(recipient, "home", home)
    return (recipient, home, *rest)


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
        raise Ineligible(decision, refusal_message(decision, data.kind))
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


def refusal_message(decision: Decision, kind: str) -> str:
    reasons = "; ".join(r.message for r in decision.reasons
                        if r.code not in ("need_shown", "checks_passed"))
    if not decision.overridable:
        return f"not eligible for a {kind}, and this cannot be overridden: {reasons}"
    if decision.outcome == "needs_review":
        return f"a {kind} needs a manager's review first: {reasons}"
    return f"not eligible for a {kind}: {reasons}"


def decisions_of(session: Session, recipient_id: int, limit: int = 100, offset: int = 0
                 ) -> list[dict[str, Any]]:
    """The recipient's decisions, newest first, a page at a time."""
    return [decision_row(d) for d in session.scalars(
        select(EligibilityDecision).where(EligibilityDecision.recipient_id == recipient_id)
        .order_by(EligibilityDecision.id.desc()).limit(limit).offset(offset))]
