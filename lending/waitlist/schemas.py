"""API input for the waitlist."""

from pydantic import BaseModel, ConfigDict, Field

from eligibility import Kind
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
