"""A recipient: the least a loan needs to know about a person (docs/architecture.md,
Personal data).

No date of birth, no offence or sentence details: everything here is treated as
criminal-offence data, so only what lending needs is kept.
"""

from datetime import datetime
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
    # A licence condition forbids internet-enabled devices.
    device_restriction: bool = False
    sms_opt_out: bool = False
    status: str = Field(default=RecipientStatus.active.value, max_length=10)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    # When the retention period ended and the personal values were removed (pseudonymised).
    erased_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

    home: Location = Relationship()
