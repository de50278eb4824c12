"""Loans: a device lent to a recipient, until it comes back or is lost."""

from datetime import date, datetime
from enum import StrEnum
from typing import Optional

from sqlalchemy import JSON, DateTime, Index, text
from sqlmodel import Field, Relationship, SQLModel

from inventory.models import Device
from lending.recipients.models import Recipient


class LoanStatus(StrEnum):
    """What is stored. `overdue` is derived (active, due before today), never stored."""

    active = "active"
    returned = "returned"
    lost = "lost"


class Purpose(StrEnum):
    """What a loan is for, chosen at the desk; a return says which of these it helped with."""

    learning = "learning"
    work = "work"
    health = "health"
    family = "family"
    services = "services"
    other = "other"


# What a return may say it helped with: the purposes, or nothing.
NOTHING = "nothing"


class Loan(SQLModel, table=True):
    __tablename__ = "loans"
    __table_args__ = (
        # One device has at most one active loan: the database itself refuses a second,
        # so that a race between two desks ends in a conflict, never a double loan.
        Index("uq_loans_one_active_per_device", "device_id", unique=True,
              sqlite_where=text("status = 'active'"),
              postgresql_where=text("status = 'active'")),
        Index("ix_loans_recipient_status", "recipient_id", "status"),
        Index("ix_loans_status_due_on", "status", "due_on"),
        Index("ix_loans_device_id", "device_id", "id"),
        # The reports count loans issued, returned and lost in a period, and a recipient's
        # first loan, from the indexes alone (hence the trailing columns).
        Index("ix_loans_issued_at", "issued_at", "recipient_id"),
        Index("ix_loans_returned_at", "returned_at", "status", "due_on", "issued_at",
              "renewals"),
        Index("ix_loans_lost_at", "lost_at"),
        Index("ix_loans_recipient_issued_at", "recipient_id", "issued_at"),
        # Loans returned in a period, by status: returned on time, the median length and
        # the renewals read this index alone (SQLite prefers the equality on status).
        Index("ix_loans_status_returned_at", "status", "returned_at", "issued_at", "due_on",
              "renewals"),
        # Only answered loans: the survey's answers in a period.
        Index("ix_loans_survey_answered_at", "survey_answered_at", "survey_answer",
              sqlite_where=text("survey_answer IS NOT NULL"),
              postgresql_where=text("survey_answer IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="devices.id")
    recipient_id: int = Field(foreign_key="recipients.id")
    status: str = Field(default=LoanStatus.active.value, max_length=10)
    issued_at: datetime = Field(sa_type=DateTime(timezone=True))
    issued_by: str = Field(max_length=254)
    due_on: date
    renewals: int = 0
    accessories: list[str] = Field(default_factory=list, sa_type=JSON)
    agreement_accepted_at: datetime = Field(sa_type=DateTime(timezone=True))
    # A SIM issued in the same step as a phone points at the phone's loan.
    with_loan_id: int | None = Field(default=None, foreign_key="loans.id")
    returned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    returned_condition: str | None = Field(default=None, max_length=1)
    missing_accessories: list[str] = Field(default_factory=list, sa_type=JSON)
    return_notes: str = Field(default="", max_length=2000)
    lost_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    stolen: bool = False
    police_reference: str | None = Field(default=None, max_length=40)
    lost_notes: str = Field(default="", max_length=2000)
    found_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    purposes: list[str] = Field(default_factory=list, sa_type=JSON)
    # Recorded at the return: the purposes it helped with, or ["nothing"]; None unasked.
    helped_with: list[str] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    # The policy's question: would they like help to use the device (None: not asked).
    wants_skills_help: bool | None = None
    # The declaration a loan under a declared_only condition rests on.
    declaration_id: int | None = Field(default=None, foreign_key="declarations.id")
    # The survey after the return: how much it helped, 1 to 5.
    survey_answer: int | None = None
    survey_answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    survey_clarified: bool = False
    # The recipient asked for more time (a MORE reply), not yet dealt with.
    more_time_requested_at: datetime | None = Field(default=None,
                                                    sa_type=DateTime(timezone=True))

    # What a loan is shown with; assigned when issuing, so that the answer needs no query.
    device: Device = Relationship()
    recipient: Recipient = Relationship()
    # So that a phone's loan and its SIM's are written in one flush.
    with_loan: Optional["Loan"] = Relationship(
        sa_relationship_kwargs={"remote_side": "Loan.id", "lazy": "raise_on_sql"})
