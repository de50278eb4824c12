"""Recipients: the least a loan needs to know about a person. Every function owns its
transaction: it commits or raises, leaving nothing. What the policy makes of a recipient
lives in `lending.decisions`, above this."""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import func, or_, select
from sqlmodel import Session

from eligibility import FactsError, Policy, check_facts
from inventory.models import Location
from inventory.schemas import is_uk_drama_mobile
from inventory.service import Conflict, Invalid, get_location
from lending.accounts.models import User
from lending.accounts.service import require_manager
from lending.audit.service import audit_reason, record_list_read
from lending.db import get_row
from lending.recipients.models import (
    RESTRICTION_ORDER,
    Declaration,
    Recipient,
    RecipientStatus,
    Restriction,
)
from lending.recipients.schemas import DeclarationCreate, RecipientCreate, RecipientUpdate

# A change to what the policy decides on (facts, device_restriction, status) re-decides the
# recipient's open waitlist requests in the same transaction; the waitlist, above this
# layer, does it (`lending.waitlist.service`). These session.info keys are how the two
# meet: the policy and time zone the change is decided under, and the reviews it made,
# which the change's answer reports.
REVIEW_POLICY = "eligibility_review_policy"
REVIEWS = "eligibility_reviews"


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
            "restriction": recipient.restriction, "easy_read": recipient.easy_read,
            "sms_opt_out": recipient.sms_opt_out, "status": recipient.status,
            "facts": recipient.facts, "created_at": recipient.created_at}


def _restriction_asked(restriction: Restriction | None, device_restriction: bool | None,
                       current: Restriction) -> Restriction:
    """The restriction a create or an update asks for: `restriction` itself, or the older
    flag (`device_restriction: true` is no_devices; false lifts only that stop)."""
    if restriction is not None:
        if device_restriction is not None and device_restriction != (
                restriction == Restriction.no_devices):
            raise Invalid(f"device_restriction {str(device_restriction).lower()} contradicts "
                          f"restriction {restriction.value}", "restriction")
        return restriction
    if device_restriction:
        return Restriction.no_devices
    if device_restriction is False and current == Restriction.no_devices:
        return Restriction.none
    return current


def _set_restriction(recipient: Recipient, restriction: Restriction) -> None:
    recipient.restriction = restriction.value
    recipient.device_restriction = restriction == Restriction.no_devices


def create_recipient(session: Session, data: RecipientCreate, policy: Policy) -> Recipient:
    restriction = _restriction_asked(
        data.restriction,
        data.device_restriction if "device_restriction" in data.model_fields_set else None,
        Restriction.no_devices if data.device_restriction else Restriction.none)
    facts = checked_facts(data.facts, policy)
    location = get_location(session, data.location)
    recipient = Recipient(
        name=data.name, mobile=data.mobile, language=data.language.value,
        location_id=location.id, reference=data.reference,
        sms_opt_out=data.sms_opt_out, easy_read=data.easy_read,
        facts=facts, created_at=datetime.now(UTC))
    _set_restriction(recipient, restriction)
    session.add(recipient)
    session.commit()
    return recipient


def get_recipient(session: Session, recipient_id: int, field: str = "id",
                  lock: bool = False) -> Recipient:
    """The recipient, or NotFound (404) for a path id / Invalid (422) for a body field;
    `lock` holds the row for the rest of the transaction."""
    return get_row(session, Recipient, recipient_id, "recipient", field, lock)


def _lifts_safeguard(recipient: Recipient, data: RecipientUpdate,
                     restriction: Restriction) -> str | None:
    """What, if anything, this update lifts that only a manager may: a licence condition
    moved to a less restrictive value, or a closed record's closure."""
    sent = data.model_fields_set
    current = Restriction(recipient.restriction)
    if RESTRICTION_ORDER.index(restriction) > RESTRICTION_ORDER.index(current):
        return ("clearing a device restriction" if current == Restriction.no_devices
                else f"loosening a licence condition to {restriction.value}")
    if "status" in sent and recipient.status == RecipientStatus.closed \
            and data.status == RecipientStatus.active:
        return "reopening a closed record"
    return None


def update_recipient(session: Session, recipient_id: int, data: RecipientUpdate,
                     policy: Policy, actor: User | None = None, zone: ZoneInfo | None = None
                     ) -> tuple[Recipient, list[dict[str, Any]]]:
    """A partial update. Setting a restriction is anyone's to do; clearing one, or reopening
    a closed record, needs a manager and a written reason, which the audit log keeps.

    Returns the recipient and the reviews of their open requests that the change made (see
    `REVIEWS`): one per request, saying its new outcome and whether a manager's override
    stopped covering it."""
    session.info.pop(REVIEWS, None)
    session.info[REVIEW_POLICY] = (policy, zone)
    recipient = get_recipient(session, recipient_id, lock=True)
    if recipient.erased_at is not None:
        raise Conflict("this record was pseudonymised when its retention period ended; it "
                       "can no longer be changed (record the person afresh)", "id")
    sent = data.model_fields_set
    for required in ("name", "language", "device_restriction", "restriction", "easy_read",
                     "sms_opt_out", "status"):
        if required in sent and getattr(data, required) is None:
            raise Invalid(f"{required} cannot be empty", required)
    restriction = _restriction_asked(
        data.restriction, data.device_restriction if "device_restriction" in sent else None,
        Restriction(recipient.restriction))
    lifted = _lifts_safeguard(recipient, data, restriction)
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
    for name in ("name", "mobile", "reference", "easy_read", "sms_opt_out"):
        if name in sent:
            setattr(recipient, name, getattr(data, name))
    if restriction != recipient.restriction:
        _set_restriction(recipient, restriction)
    for name in ("language", "status"):
        if name in sent:
            setattr(recipient, name, getattr(data, name).value)
    session.commit()
    return recipient, session.info.pop(REVIEWS, [])


# --- declarations -----------------------------------------------------------------------

def record_declaration(session: Session, recipient_id: int, data: DeclarationCreate,
                       actor: User | None, now: datetime | None = None) -> Declaration:
    """A manager records that a loan was declared, as a licence condition that allows
    devices once declared requires: to whom, when. It covers the next loan."""
    require_manager(actor, "recording a declaration")
    recipient = get_recipient(session, recipient_id, lock=True)
    if recipient.restriction != Restriction.declared_only:
        raise Invalid(f"recipient {recipient.id}'s restriction is {recipient.restriction}: "
                      "a declaration is needed only under declared_only", "restriction")
    declaration = Declaration(
        recipient_id=recipient.id, declared_to=data.declared_to, declared_on=data.declared_on,
        recorded_by=actor.email if actor else session.info.get("actor", "system"),
        recorded_at=now or datetime.now(UTC), notes=data.notes)
    session.add(declaration)
    session.commit()
    return declaration


def declaration_row(declaration: Declaration, loan_id: int | None = None) -> dict[str, Any]:
    return {"id": declaration.id, "recipient_id": declaration.recipient_id,
            "declared_to": declaration.declared_to, "declared_on": declaration.declared_on,
            "recorded_by": declaration.recorded_by, "recorded_at": declaration.recorded_at,
            "notes": declaration.notes, "loan_id": loan_id}


def _as_mobile(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not (phonenumbers.is_valid_number(number) or is_uk_drama_mobile(number)):
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
                       if key != "facts"} for r, code in rows], "total": total,
            "limit": limit, "offset": offset}

