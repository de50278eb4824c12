"""API input and output for the waitlist."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from eligibility import Kind
from inventory.schemas import ReadModel
from lending.db import MAX_ID


class WaitlistCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    recipient_id: int = Field(ge=1, le=MAX_ID)
    kind: Kind
    location: str | None = Field(default=None, max_length=16,
                                 description="default: the recipient's home location")
    notes: str = Field(default="", max_length=2000)


class MoveUp(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=10, max_length=2000)


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(default="", max_length=2000)


class WaitlistRequestRead(ReadModel):
    id: int
    recipient_id: int
    recipient_name: str
    location: str
    kind: str
    status: str
    position: int | None = Field(description="place in its queue, while waiting")
    requested_at: datetime
    requested_by: str
    notes: str
    priority: int
    moved_up_reason: str | None
    hold_days: int
    offered_at: datetime | None
    offer_expires_at: datetime | None
    offered_device: str | None = Field(description="the asset tag held for an offer")
    closed_at: datetime | None
    loan_id: int | None


class OffersExpired(ReadModel):
    expired: list[int] = Field(description="requests whose offer ran out")
    offered: list[int] = Field(description="requests offered a device since")
