"""API input and output for recipients."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inventory.schemas import ReadModel, UkMobile
from lending.recipients.models import Language, RecipientStatus


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class RecipientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120, description="the name they want to be called")
    mobile: UkMobile | None = Field(default=None, description="a UK mobile; stored as E.164")
    language: Language = Language.en
    location: str = Field(min_length=1, max_length=16, description="home location code")
    reference: str | None = Field(default=None, max_length=40, description="case reference")
    device_restriction: bool = Field(
        default=False, description="a licence condition forbids internet-enabled devices")
    sms_opt_out: bool = False
    facts: dict[str, Any] = Field(
        default_factory=dict, description="answers to the policy's questions, true or false")

    _blanks = field_validator("mobile", "reference", mode="before")(_blank_to_none)


class RecipientUpdate(BaseModel):
    """A partial update. `facts` are merged: a fact sent as null is forgotten."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=120)
    mobile: UkMobile | None = None
    language: Language | None = None
    location: str | None = Field(default=None, min_length=1, max_length=16)
    reference: str | None = Field(default=None, max_length=40)
    device_restriction: bool | None = None
    sms_opt_out: bool | None = None
    status: RecipientStatus | None = None
    facts: dict[str, Any] | None = None
    reason: str | None = Field(
        default=None, max_length=2000,
        description="why; required (from a manager) to clear device_restriction or reopen")

    _blanks = field_validator("mobile", "reference", "reason", mode="before")(_blank_to_none)


class RecipientSummary(ReadModel):
    """A recipient as a list shows them: what picking someone needs, never their answers."""

    id: int
    name: str
    mobile: str | None
    language: str
    location: str
    reference: str | None
    device_restriction: bool
    sms_opt_out: bool
    status: str
    created_at: datetime


class RecipientRead(RecipientSummary):
    facts: dict[str, bool]
