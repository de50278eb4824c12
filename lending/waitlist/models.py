"""Requests waiting for a device of some kind at some office."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Optional

from sqlalchemy import DateTime, Index
from sqlmodel import Field, Relationship, SQLModel

if TYPE_CHECKING:  # the loan that met a request; loans sit above the waitlist
    from lending.loans.models import Loan


class RequestStatus(StrEnum):
    waiting = "waiting"
    offered = "offered"
    fulfilled = "fulfilled"
    expired = "expired"
    cancelled = "cancelled"


OPEN_STATUSES = (RequestStatus.waiting.value, RequestStatus.offered.value)


class WaitlistRequest(SQLModel, table=True):
    __tablename__ = "waitlist_requests"
    __table_args__ = (
        # The queue: per office and kind, highest priority first, then first come.
        Index("ix_waitlist_queue", "location_id", "kind", "status", "priority", "requested_at"),
        Index("ix_waitlist_recipient", "recipient_id", "status"),
        # The reports join fulfilled requests to the loans that met them.
        Index("ix_waitlist_status_loan", "status", "loan_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="recipients.id")
    location_id: int = Field(foreign_key="locations.id")
    kind: str = Field(max_length=10)
    status: str = Field(default=RequestStatus.waiting.value, max_length=10)
    requested_at: datetime = Field(sa_type=DateTime(timezone=True))
    requested_by: str = Field(max_length=254)
    notes: str = Field(default="", max_length=2000)
    # 0 for everyone; a manager moving a request up gives it one more than the queue's top.
    priority: int = 0
    moved_up_reason: str | None = Field(default=None, max_length=2000)
    # Copied from the policy when the request is made, so that the offer needs no policy.
    hold_days: int = 3
    offered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    offer_expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    offered_device_id: int | None = Field(default=None, foreign_key="devices.id")
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    loan_id: int | None = Field(default=None, foreign_key="loans.id")

    # So that fulfilling a request is written in the same flush as its loan.
    loan: Optional["Loan"] = Relationship(sa_relationship_kwargs={"lazy": "raise_on_sql"})
