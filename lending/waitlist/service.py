"""The waitlist: first come, first served per office and kind, unless a manager moves a
request up in writing.

When a device of a kind becomes available at an office (a wipe, a new device, a move), the
request at the head of that queue is offered it, in the same transaction: a listener on
every session watches devices turn available, so no code path can forget. The device is
held for the offer's recipient for the request's `hold_days`; `expire_offers` then passes
it to the next. Issuing any device of the kind to that recipient fulfils the request.

When what the policy decides on changes for a recipient (their answers, a licence
condition's restriction, their record's status), each of their open requests is decided
again in the same transaction and the decision stored (purpose `review`), by another
listener; a manager's override that covered a request before the change but not after is
said so, never dropped in silence.
"""

from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, func, inspect, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from eligibility import Circumstances, Decision, FactsError, Policy, decide, load_policy
from inventory.models import Device, DeviceStatus, Location
from inventory.service import Conflict, get_location
from lending.accounts.models import User
from lending.accounts.service import require_manager
from lending.audit.service import record_list_read
from lending.db import get_row
from lending.decisions.models import EligibilityDecision
from lending.decisions.service import (
    Ineligible,
    eligibility_of,
    refusal_message,
    standing_override,
    store_decision,
)
from lending.recipients.models import Recipient, RecipientStatus
from lending.recipients.service import REVIEW_POLICY, REVIEWS, get_recipient
from lending.settings import get_settings
from lending.waitlist.models import OPEN_STATUSES, RequestStatus, WaitlistRequest
from lending.waitlist.schemas import CancelRequest, MoveUp, WaitlistCreate

# session.info key: (location_id, kind) pairs where a device became available.
_NEWLY_AVAILABLE = "waitlist_newly_available"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _queue_order():
    return (WaitlistRequest.priority.desc(), WaitlistRequest.requested_at,
            WaitlistRequest.id)


def _held_devices():
    return select(WaitlistRequest.offered_device_id).where(
        WaitlistRequest.status == RequestStatus.offered.value,
        WaitlistRequest.offered_device_id.is_not(None))


def hold_on(session: Session, device: Device) -> WaitlistRequest | None:
    """The offer holding this device, if any."""
    return session.scalar(select(WaitlistRequest).where(
        WaitlistRequest.status == RequestStatus.offered.value,
        WaitlistRequest.offered_device_id == device.id))


def free_devices(session: Session, location_id: int, kind: str) -> list[Device]:
    """Available devices of a kind at an office that no offer holds."""
    return list(session.scalars(select(Device).where(
        Device.location_id == location_id, Device.kind == kind,
        Device.status == DeviceStatus.available.value,
        Device.id.not_in(_held_devices())).order_by(Device.id)))


_ANYONE_WAITING = select(WaitlistRequest.id).where(
    WaitlistRequest.location_id == bindparam("location_id"),
    WaitlistRequest.kind == bindparam("kind"),
    WaitlistRequest.status == RequestStatus.waiting.value).limit(1)


def offer_devices(session: Session, location_id: int, kind: str,
                  now: datetime | None = None) -> list[WaitlistRequest]:
    """Offers each free device of the kind at the office to the head of its queue, within
    the caller's transaction."""
    now = _now(now)
    # Most devices come back to an empty queue: one cheap look first.
    if session.scalar(_ANYONE_WAITING, {"location_id": location_id, "kind": kind}) is None:
        return []
    free = free_devices(session, location_id, kind)
    if not free:
        return []
    waiting = session.scalars(
        select(WaitlistRequest).where(
            WaitlistRequest.location_id == location_id, WaitlistRequest.kind == kind,
            WaitlistRequest.status == RequestStatus.waiting.value)
        .order_by(*_queue_order()).limit(len(free))
        # Two transactions freeing devices at once must not offer the same request twice.
        .with_for_update(skip_locked=True)).all()
    for request, device in zip(waiting, free, strict=False):
        request.status = RequestStatus.offered.value
        request.offered_at = now
        request.offer_expires_at = now + timedelta(days=request.hold_days)
        request.offered_device_id = device.id
    return list(waiting)


def _became_available(session: OrmSession) -> set[tuple[int, str]]:
    pairs = set()
    for obj in chain(session.new, session.dirty):
        if not isinstance(obj, Device) or obj.status != DeviceStatus.available:
            continue
        state = inspect(obj)
        if (obj in session.new or state.attrs.status.history.added
                or state.attrs.location_id.history.added):
            pairs.add((obj.location_id, obj.kind))
    return pairs


@event.listens_for(OrmSession, "before_flush")
def _watch_devices(session: OrmSession, _context, _instances) -> None:
    pairs = _became_available(session)
    if pairs:
        session.info.setdefault(_NEWLY_AVAILABLE, set()).update(pairs)


@event.listens_for(OrmSession, "before_commit")
def _offer_newly_available(session: OrmSession) -> None:
    session.flush()
    pairs = session.info.pop(_NEWLY_AVAILABLE, None)
    for location_id, kind in sorted(pairs or ()):
        offer_devices(session, location_id, kind)  # type: ignore[arg-type]
    if pairs:
        session.flush()
        session.info.pop(_NEWLY_AVAILABLE, None)


@event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    for key in (_NEWLY_AVAILABLE, _CHANGED_RECIPIENTS, REVIEW_POLICY, REVIEWS):
        session.info.pop(key, None)


# --- reviews: a change to what the policy decides on ------------------------------------

# session.info key: recipient id -> what the policy decided on before this transaction
# changed it ({field: value} for _DECIDED_ON).
_CHANGED_RECIPIENTS = "waitlist_changed_recipients"
_DECIDED_ON = ("facts", "device_restriction", "status")


@event.listens_for(OrmSession, "before_flush")
def _watch_recipients(session: OrmSession, _context, _instances) -> None:
    for obj in session.dirty:
        if not isinstance(obj, Recipient):
            continue
        state = inspect(obj)
        before = {}
        for key in _DECIDED_ON:
            history = state.attrs[key].history
            before[key] = history.deleted[0] if history.deleted else getattr(obj, key)
        if any(before[key] != getattr(obj, key) for key in _DECIDED_ON):
            # The first flush's "before" is what the transaction started from.
            session.info.setdefault(_CHANGED_RECIPIENTS, {}).setdefault(obj.id, before)


@event.listens_for(OrmSession, "before_commit")
def _review_changed_recipients(session: OrmSession) -> None:
    session.flush()
    changed = session.info.pop(_CHANGED_RECIPIENTS, None)
    if not changed:
        return
    policy, zone = session.info.get(REVIEW_POLICY) or (None, None)
    if policy is None or zone is None:  # a change made without update_recipient
        settings = get_settings()
        policy = policy or load_policy(settings.policy_file or None)
        zone = zone or settings.zone
    reviews = []
    for recipient_id, before in sorted(changed.items()):
        recipient = session.get(Recipient, recipient_id)
        if recipient is not None:
            reviews += review_requests(session, recipient, before, policy, zone)  # type: ignore[arg-type]
    session.info.pop(_CHANGED_RECIPIENTS, None)
    session.info.setdefault(REVIEWS, []).extend(reviews)


@event.listens_for(OrmSession, "after_commit")
def _forget_review_policy(session: OrmSession) -> None:
    session.info.pop(REVIEW_POLICY, None)


def _decided_before(circumstances: Circumstances, before: dict[str, Any], kind: str,
                    policy: Policy) -> Decision | None:
    """What the policy decided on the recipient's record as it was before the change."""
    try:
        return decide(circumstances.model_copy(update={
            "facts": before["facts"], "device_restriction": before["device_restriction"],
            "recipient_active": before["status"] == RecipientStatus.active}), kind, policy)
    except FactsError:  # answers to questions the policy no longer asks
        return None


def _covering_override(session: Session, recipient: Recipient, kind: str,
                       decision: Decision | None) -> EligibilityDecision | None:
    """The manager's override that lets a request with this decision through, if any."""
    if decision is None or decision.outcome == "eligible" or not decision.overridable:
        return None
    return standing_override(session, recipient, kind, decision)


def _lapse_message(override: EligibilityDecision, decision: Decision, zone: ZoneInfo) -> str:
    seen = {r["code"] for r in override.reasons}
    unseen = [r.message for r in decision.reasons
              if r.code not in seen and r.code not in ("need_shown", "checks_passed")]
    made = override.decided_at.astimezone(zone).date().isoformat()
    return (f"The override by {override.overridden_by or override.decided_by} on {made} "
            f"does not cover what has changed ({'; '.join(unseen)}): it no longer lets "
            "this request through, and a manager must look again")


def review_requests(session: Session, recipient: Recipient, before: dict[str, Any],
                    policy: Policy, zone: ZoneInfo, now: datetime | None = None
                    ) -> list[dict[str, Any]]:
    """Within the caller's transaction: decides each of the recipient's open requests again
    and stores the decisions (purpose `review`, audited like any row). A manager's override
    that covered a request before the change (`before`: the record's facts,
    device_restriction and status as they were) but not after is recorded on the decision,
    as the reason `override_lapsed`, and said in the review. Returns one plain dict per
    request: request_id, kind, decision_id, outcome, override_lapsed, message."""
    requests = list(session.scalars(select(WaitlistRequest).where(
        WaitlistRequest.recipient_id == recipient.id,
        WaitlistRequest.status.in_(OPEN_STATUSES)).order_by(WaitlistRequest.id)))
    if not requests:
        return []
    today = _now(now).astimezone(zone).date()
    made = []
    for request in requests:
        decision, circumstances = eligibility_of(session, recipient, request.kind, policy,
                                                 today, zone)
        earlier = _decided_before(circumstances, before, request.kind, policy)
        covered = _covering_override(session, recipient, request.kind, earlier)
        covers = _covering_override(session, recipient, request.kind, decision)
        lapsed = covered is not None and decision.outcome != "eligible" and covers is None
        record = store_decision(session, recipient, request.kind, decision, circumstances,
                                purpose="review")
        heading = f"Waitlist request {request.id} for a {request.kind}: "
        if decision.outcome == "eligible":
            message = heading + ("still eligible" if earlier and earlier.outcome == "eligible"
                                 else "now eligible")
        else:
            message = heading + refusal_message(decision, request.kind)
            if covers is not None:
                message += " (a manager's override covers this)"
        if lapsed:
            lapse = _lapse_message(covered, decision, zone)  # type: ignore[arg-type]
            record.reasons = [*record.reasons, {"code": "override_lapsed", "message": lapse}]
            message += f". {lapse}."
        made.append((request, record, lapsed, message))
    session.flush()
    return [{"request_id": request.id, "kind": request.kind, "decision_id": record.id,
             "outcome": record.outcome, "override_lapsed": lapsed, "message": message}
            for request, record, lapsed, message in made]


# --- requests -----------------------------------------------------------------------------

def add_request(session: Session, data: WaitlistCreate, policy: Policy, zone: ZoneInfo,
                now: datetime | None = None) -> WaitlistRequest:
    """Puts an eligible recipient in the queue for a kind their office has none of."""
    now = _now(now)
    recipient = get_recipient(session, data.recipient_id, "recipient_id", lock=True)
    location = (get_location(session, data.location) if data.location
                else session.get(Location, recipient.location_id))
    decision, _ = eligibility_of(session, recipient, data.kind, policy,
                                 now.astimezone(zone).date(), zone)
    if decision.outcome != "eligible" and (
            not decision.overridable
            or standing_override(session, recipient, data.kind, decision) is None):
        raise Ineligible(decision, refusal_message(decision, data.kind))
    already = session.scalar(select(WaitlistRequest.id).where(
        WaitlistRequest.recipient_id == recipient.id, WaitlistRequest.kind == data.kind,
        WaitlistRequest.status.in_(OPEN_STATUSES)))
    if already:
        raise Conflict(f"the recipient already has request {already} open for a "
                       f"{data.kind}", "kind")
    free = free_devices(session, location.id, data.kind)
    if free:
        raise Conflict(f"{free[0].asset_tag} is a {data.kind} available at {location.code} "
                       "now: issue it instead", "kind")
    request = WaitlistRequest(
        recipient_id=recipient.id, location_id=location.id, kind=data.kind,
        requested_at=now, requested_by=session.info.get("actor", "system"),
        notes=data.notes, hold_days=policy.waitlist_hold_days)
    session.add(request)
    session.commit()
    return request


def get_request(session: Session, request_id: int, lock: bool = False) -> WaitlistRequest:
    return get_row(session, WaitlistRequest, request_id, "waitlist request", lock=lock)


def move_up(session: Session, request_id: int, data: MoveUp, actor: User | None
            ) -> WaitlistRequest:
    """A manager puts a waiting request at the head of its queue, saying why."""
    require_manager(actor, "moving a waitlist request up")
    request = get_request(session, request_id, lock=True)
    if request.status != RequestStatus.waiting:
        raise Conflict(f"request {request.id} is {request.status}; only a waiting request "
                       "moves up", "status")
    top = session.scalar(select(func.max(WaitlistRequest.priority)).where(
        WaitlistRequest.location_id == request.location_id,
        WaitlistRequest.kind == request.kind,
        WaitlistRequest.status == RequestStatus.waiting.value)) or 0
    request.priority = top + 1
    request.moved_up_reason = data.reason
    session.commit()
    return request


def cancel_request(session: Session, request_id: int, data: CancelRequest,
                   now: datetime | None = None) -> WaitlistRequest:
    now = _now(now)
    request = get_request(session, request_id, lock=True)
    if request.status not in OPEN_STATUSES:
        raise Conflict(f"request {request.id} is already {request.status}", "status")
    was_offered = request.status == RequestStatus.offered
    request.status = RequestStatus.cancelled.value
    request.closed_at = now
    if data.reason:
        request.notes = (request.notes + "\n" if request.notes else "") + data.reason
    if was_offered:
        session.flush()
        offer_devices(session, request.location_id, request.kind, now)
    session.commit()
    return request


def open_requests(session: Session, recipient_id: int, kinds: list[str]
                  ) -> list[WaitlistRequest]:
    """The recipient's waiting or offered requests for these kinds."""
    return list(session.scalars(select(WaitlistRequest).where(
        WaitlistRequest.recipient_id == recipient_id, WaitlistRequest.kind.in_(kinds),
        WaitlistRequest.status.in_(OPEN_STATUSES))))


def fulfil(session: Session, requests: list[WaitlistRequest], loan: Any, device: Device,
           now: datetime) -> None:
    """Within an issue's transaction: these requests are met by `loan` (of `device`). A
    device held for the recipient but not the one they took passes to the next in line."""
    released = set()
    for request in requests:
        if request.status == RequestStatus.offered and request.offered_device_id != device.id:
            released.add((request.location_id, request.kind))
        request.status = RequestStatus.fulfilled.value
        request.closed_at = now
        request.loan = loan
    if released:
        session.flush()
        for location_id, kind in sorted(released):
            offer_devices(session, location_id, kind, now)


def expire_offers(session: Session, now: datetime | None = None) -> dict[str, list[int]]:
    """Passes every offer held past its time to the next in the queue; then offers any free
    device to a waiting request (a device added by a bulk import, say). For the scheduler
    and the CLI; returns the ids expired and offered."""
    now = _now(now)
    expired = list(session.scalars(select(WaitlistRequest).where(
        WaitlistRequest.status == RequestStatus.offered.value,
        WaitlistRequest.offer_expires_at <= now).order_by(WaitlistRequest.id)
        .with_for_update(skip_locked=True)))
    for request in expired:
        request.status = RequestStatus.expired.value
        request.closed_at = now
    session.flush()
    queues = session.execute(select(WaitlistRequest.location_id, WaitlistRequest.kind).where(
        WaitlistRequest.status == RequestStatus.waiting.value).distinct()).all()
    offered = []
    for location_id, kind in sorted(queues):
        offered += [r.id for r in offer_devices(session, location_id, kind, now)]
    session.commit()
    return {"expired": [r.id for r in expired], "offered": offered}


# --- reading ------------------------------------------------------------------------------

def _rows(session: Session, conditions: list) -> Any:
    position = func.row_number().over(
        partition_by=(WaitlistRequest.location_id, WaitlistRequest.kind),
        order_by=_queue_order()).label("position")
    ranked = (select(WaitlistRequest.id.label("rid"), position)
              .where(WaitlistRequest.status == RequestStatus.waiting.value).subquery())
    return (select(WaitlistRequest, Location.code, Recipient.name, Device.asset_tag,
                   ranked.c.position)
            .join(Location, Location.id == WaitlistRequest.location_id)
            .join(Recipient, Recipient.id == WaitlistRequest.recipient_id)
            .outerjoin(Device, Device.id == WaitlistRequest.offered_device_id)
            .outerjoin(ranked, ranked.c.rid == WaitlistRequest.id)
            .where(*conditions))


def _row(request: WaitlistRequest, code: str, name: str, offered_tag: str | None,
         position: int | None) -> dict[str, Any]:
    return {"id": request.id, "recipient_id": request.recipient_id, "recipient_name": name,
            "location": code, "kind": request.kind, "status": request.status,
            "position": position, "requested_at": request.requested_at,
            "requested_by": request.requested_by, "notes": request.notes,
            "priority": request.priority, "moved_up_reason": request.moved_up_reason,
            "hold_days": request.hold_days, "offered_at": request.offered_at,
            "offer_expires_at": request.offer_expires_at, "offered_device": offered_tag,
            "closed_at": request.closed_at, "loan_id": request.loan_id}


def request_row(session: Session, request: WaitlistRequest) -> dict[str, Any]:
    return _row(*session.execute(_rows(session, [WaitlistRequest.id == request.id])).one())


def list_requests(session: Session, location: str | None = None, kind: str | None = None,
                  status: str | None = None, recipient_id: int | None = None,
                  limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Open requests by default: per office and kind, offers first, then the queue."""
    conditions = []
    if location:
        conditions.append(WaitlistRequest.location_id == get_location(session, location).id)
    if kind:
        conditions.append(WaitlistRequest.kind == kind)
    if status:
        conditions.append(WaitlistRequest.status == RequestStatus(status).value)
    else:
        conditions.append(WaitlistRequest.status.in_(OPEN_STATUSES))
    if recipient_id is not None:
        conditions.append(WaitlistRequest.recipient_id == recipient_id)
    total = session.scalar(select(func.count()).select_from(WaitlistRequest)
                           .where(*conditions)) or 0
    rows = session.execute(_rows(session, conditions).order_by(
        Location.code, WaitlistRequest.kind, WaitlistRequest.status,
        *_queue_order()).limit(limit).offset(offset)).all()
    # Each row names its recipient: a read of personal data.
    record_list_read(session, "waitlist", (row[0].recipient_id for row in rows))
    return {"items": [_row(*row) for row in rows], "total": total, "limit": limit,
            "offset": offset}


def requests_of(session: Session, recipient_id: int, limit: int = 100, offset: int = 0
                ) -> list[dict[str, Any]]:
    """The recipient's waiting-list requests, newest first, a page at a time."""
    rows = session.execute(_rows(session, [WaitlistRequest.recipient_id == recipient_id])
                           .order_by(WaitlistRequest.id.desc()).limit(limit)
                           .offset(offset)).all()
    return [_row(*row) for row in rows]
