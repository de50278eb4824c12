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
from inventory.service import Conflict, Invalid, get_location
from lending.accounts.models import User
from lending.accounts.service import require_manager
from lending.audit.service import audit_reason, record_list_read
from lending.db import get_row
from lending.recipients.models import Recipient, RecipientStatus
from lending.recipients.schemas import RecipientCreate, RecipientUpdate

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
    return get_row(session, Recipient, recipient_id, "recipient", field, lock)


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
    return recipient, session.info.pop(REVIEWS, [])


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
                       if key != "facts"} for r, code in rows], "total": total,
            "limit": limit, "offset": offset}

