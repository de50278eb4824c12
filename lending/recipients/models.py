"""A recipient: the least a loan needs to know about a person (docs/architecture.md,
Personal data).

No date of birth, no offence or sentence details: everything here is treated as
criminal-offence data, so only what lending needs is kept.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, DateTime, Index
from sqlmodel import Field, Relationship, SQLModel

from inventory.models import Location


class RecipientStatus(StrEnum):
    active = "active"
    closed = "closed"


class Language(StrEnum):
    en = "en"
    cy = "cy"


class Restriction(StrEnum):
    """A licence condition on devices: none; no internet-enabled devices (a hard stop);
    or devices allowed once the loan is declared (to the probation practitioner, say)."""

    none = "none"
    no_devices = "no_devices"
    declared_only = "declared_only"


# From most to least restrictive: a move down this list lifts a safeguard.
RESTRICTION_ORDER = (Restriction.no_devices, Restriction.declared_only, Restriction.none)


class Recipient(SQLModel, table=True):
    __tablename__ = "recipients"
    __table_args__ = (
        Index("ix_recipients_location_status", "location_id", "status"),
        Index("ix_recipients_name", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The name they want to be called, not necessarily their legal name.
    name: str = Field(max_length=120)
    mobile: str | None = Field(default=None, max_length=16, index=True)
    language: str = Field(default=Language.en.value, max_length=2)
    location_id: int = Field(foreign_key="locations.id")
    reference: str | None = Field(default=None, max_length=40, index=True)
    # Answers to the eligibility policy's questions: {fact: true/false}.
    facts: dict[str, bool] = Field(default_factory=dict, sa_type=JSON)
    # A licence condition forbids internet-enabled devices: `restriction` is no_devices.
    # Kept in step with `restriction`, which says more.
    device_restriction: bool = False
    restriction: str = Field(default=Restriction.none.value, max_length=16)
    # Documents in an easy-read layout: large type, short sentences, one idea a line.
    easy_read: bool = False
    sms_opt_out: bool = False
    status: str = Field(default=RecipientStatus.active.value, max_length=10)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    # When the retention period ended and the personal values were removed (pseudonymised).
    erased_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

    home: Location = Relationship()


class Declaration(SQLModel, table=True):
    """A loan declared under a licence condition that allows devices once declared: to whom,
    when, and which manager recorded it. It prints on the agreement."""

    __tablename__ = "declarations"

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="recipients.id", index=True)
    declared_to: str = Field(max_length=200)
    declared_on: date
    recorded_by: str = Field(max_length=254)
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True))
    notes: str = Field(default="", max_length=2000)
