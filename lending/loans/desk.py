"""The desk: what one office (or every office) has to do today, in a handful of queries."""

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from inventory.models import Device, DeviceStatus, Location
from lending.audit.service import record_list_read
from lending.loans.models import Loan, LoanStatus
from lending.loans.service import _loan_dict, _loan_query
from lending.recipients.models import Recipient
from lending.waitlist.models import OPEN_STATUSES, WaitlistRequest

SHOWN = 10


def desk_summary(session: Session, today: date, office: str | None = None,
                 home_id: int | None = None) -> dict[str, Any]:
    """For the office with code `office`, else the one with id `home_id`, else every
    office: loans due today, loans overdue (the oldest first), requests for more time by
    text, devices awaiting a wipe, open waiting-list requests, and the stock available
    by kind. Loans are the recipient's office's; devices are where
    they are kept."""
    offices = {row.code: row.name for row in session.execute(
        select(Location.code, Location.name).order_by(Location.name))}
    location_id = home_id
    if office:
        location_id = session.scalar(select(Location.id).where(Location.code == office))
    elif home_id:
        office = session.scalar(select(Location.code).where(Location.id == home_id))
    here_devices = [Device.location_id == location_id] if location_id else []
    here_loans = [Recipient.location_id == location_id] if location_id else []
    here_requests = [WaitlistRequest.location_id == location_id] if location_id else []

    active = [Loan.status == LoanStatus.active.value, *here_loans]
    due_today = session.execute(_loan_query().where(*active, Loan.due_on == today)
                                .order_by(Loan.id).limit(SHOWN)).all()
    overdue = session.execute(_loan_query().where(*active, Loan.due_on < today)
                              .order_by(Loan.due_on, Loan.id).limit(SHOWN)).all()
    counts = session.execute(
        select(func.count().filter(Loan.due_on == today), func.count().filter(Loan.due_on < today),
               func.count().filter(Loan.more_time_requested_at.is_not(None)))
        .select_from(Loan).join(Recipient, Recipient.id == Loan.recipient_id)
        .where(*active)).one()
    by_status_kind = session.execute(
        select(Device.status, Device.kind, func.count()).where(
            Device.status.in_([DeviceStatus.available.value, DeviceStatus.awaiting_wipe.value]),
            *here_devices).group_by(Device.status, Device.kind)).all()
    waiting = session.scalar(select(func.count()).select_from(WaitlistRequest).where(
        WaitlistRequest.status.in_(OPEN_STATUSES), *here_requests)) or 0
    record_list_read(session, "desk", (row.recipient_id for row in [*due_today, *overdue]))
    stock = {kind: total for status, kind, total in by_status_kind
             if status == DeviceStatus.available.value}
    return {
        "offices": offices, "office": office if location_id else None,
        "due_today": [_loan_dict(row, today) for row in due_today],
        "due_today_total": counts[0],
        "overdue": [_loan_dict(row, today) for row in overdue], "overdue_total": counts[1],
        "awaiting_wipe": sum(total for status, _, total in by_status_kind
                             if status == DeviceStatus.awaiting_wipe.value),
        "waiting": waiting, "stock": stock,
        # Borrowers who asked for more time by text, waiting for a click on their loan.
        "more_time_total": counts[2],
    }
