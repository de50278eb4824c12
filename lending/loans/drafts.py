"""The loan agreement as it will read, printed before the loan is made, so the recipient
reads what they sign. Nothing is written except the audit log's note that it was read."""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from eligibility import Policy
from inventory import service as inventory
from inventory.models import Location
from lending.audit.service import record_read
from lending.loans.agreement import agreement_pdf
from lending.loans.schemas import LoanCreate
from lending.loans.service import _checked_due_on, check_plan_lasts, policy_due_on
from lending.recipients import service as recipients


def draft_due_on(session: Session, data: LoanCreate, policy: Policy, today: date) -> date:
    """The due date the loan `data` describes would get, checked as issuing checks it (the
    policy's period, the office's open days, a SIM's or hotspot's plan): Invalid naming
    `due_on` when issuing would refuse it. Nothing is written."""
    return _drafted(session, data, policy, today)[2]


def _drafted(session: Session, data: LoanCreate, policy: Policy, today: date
             ) -> tuple[Any, Any, date]:
    device = inventory.get_device(session, data.asset_tag)
    recipient = recipients.get_recipient(session, data.recipient_id, "recipient_id")
    home = session.scalar(select(Location).where(Location.id == recipient.location_id))
    due_on = _checked_due_on(data.due_on, policy_due_on(policy, device.kind, home, today),
                             home, today)
    check_plan_lasts(device, due_on, today)
    return device, recipient, due_on


def draft_agreement(session: Session, data: LoanCreate, policy: Policy, organisation: str,
                    today: date) -> bytes:
    """The agreement for the loan `data` describes, before it is issued: the due date the
    loan would get (checked as issuing checks it), the accessories, no loan number yet."""
    device, recipient, due_on = _drafted(session, data, policy, today)
    row: dict[str, Any] = {"id": "not yet issued", "make": device.make, "model": device.model,
                           "kind": device.kind, "asset_tag": device.asset_tag,
                           "recipient_name": recipient.name, "due_on": due_on,
                           "accessories": list(data.accessories)}
    record_read(session, "recipient", recipient.id, {"what": "draft agreement"})
    return agreement_pdf(row, organisation, device.serial_number, today)
