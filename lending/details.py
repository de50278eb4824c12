"""What a page shows about several domains, assembled above them.

The domains below never import each other upwards, so a view that crosses them (a device
with its loan and history, a recipient with their loans, decisions and requests) is put
together here: handed to the device controller of the inventory library as a dependency,
and served here for a recipient, whose answer only this layer can describe.
"""

from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath
from pydantic import ConfigDict
from sqlmodel import Session

from inventory.api import DbSession
from inventory.models import Device
from inventory.schemas import DeviceDetail, ReadModel
from lending.audit import service as audit
from lending.audit.service import record_read
from lending.decisions.schemas import DecisionRead
from lending.decisions.service import decisions_of, declarations_of
from lending.loans import service as loans
from lending.loans.schemas import LoanRead
from lending.recipients.schemas import DeclarationRead, RecipientRead
from lending.recipients.service import get_recipient, recipient_row
from lending.waitlist.schemas import WaitlistRequestRead
from lending.waitlist.service import requests_of


class HistoryEntry(ReadModel):
    at: datetime
    actor: str
    action: str
    changes: dict[str, Any]


class DeviceView(DeviceDetail):
    """A device's detail as this service answers it: the inventory's, with what
    `device_extras` adds (the inventory library declares only its own part)."""

    model_config = ConfigDict(extra="forbid")

    loan: LoanRead | None = None
    history: list[HistoryEntry]


class RecipientDetail(RecipientRead):
    loans: list[LoanRead]
    decisions: list[DecisionRead]
    requests: list[WaitlistRequestRead]
    declarations: list[DeclarationRead] = []


def device_extras(db_session: Session, device: Device, zone: ZoneInfo) -> dict[str, Any]:
    """What the lending side knows of a device: its current loan, and its history from the
    audit log."""
    today = datetime.now(zone).date()
    return {"loan": loans.current_loan(db_session, device, today), "history": [
        {"at": entry["at"], "actor": entry["actor"], "action": entry["action"],
         "changes": entry["changes"]}
        for entry in audit.history_of(db_session, "device", device.id)]}


def recipient_detail(session: Session, recipient_id: int, today: date) -> dict[str, Any]:
    """Everything about one recipient: their loans, decisions and waitlist requests.

    Reading it is written to the audit log.
    """
    recipient = get_recipient(session, recipient_id)
    detail = recipient_row(session, recipient)
    detail["loans"] = loans.loans_of(session, recipient.id, today)
    detail["decisions"] = decisions_of(session, recipient.id)
    detail["requests"] = requests_of(session, recipient.id)
    detail["declarations"] = declarations_of(session, recipient)
    record_read(session, "recipient", recipient.id)
    return detail


def provide_device_extras(state: State) -> Any:
    return partial(device_extras, zone=state.settings.zone)


def provide_move_by_hand(state: State) -> Any:
    """A device's status changed by hand goes through its loan when it has one (inventory's
    controller cannot know of loans)."""
    return loans.move_by_hand


class RecipientDetailController(Controller):
    path = "/recipients"
    tags = ["recipients"]

    @get("/{recipient_id:int}", sync_to_thread=True)
    def get_recipient(self, db_session: DbSession, state: State, recipient_id: FromPath[int]
                      ) -> RecipientDetail:
        return recipient_detail(db_session, recipient_id, state.settings.today())
