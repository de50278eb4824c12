"""API input and output for recipients."""

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inventory.schemas import ReadModel, UkMobile
from lending.recipients.models import Language, RecipientStatus, Restriction


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
        default=False, description="a licence condition forbids internet-enabled devices: "
        "the same as restriction no_devices")
    restriction: Restriction | None = Field(
        default=None, description="none, no_devices (a hard stop) or declared_only (a loan "
        "needs a declaration recorded by a manager); default: from device_restriction")
    easy_read: bool = Field(default=False, description="documents in an easy-read layout")
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
    restriction: Restriction | None = None
    easy_read: bool | None = None
    sms_opt_out: bool | None = None
    status: RecipientStatus | None = None
    facts: dict[str, Any] | None = None
    reason: str | None = Field(
        default=None, max_length=2000,
        description="why; required (from a manager) to loosen a restriction or reopen")

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
    restriction: str = Field(description="none, no_devices or declared_only")
    easy_read: bool
    sms_opt_out: bool
    status: str
    created_at: datetime


class RecipientRead(RecipientSummary):
    facts: dict[str, bool]


class EligibilityReview(ReadModel):
    """An open waitlist request re-decided because the recipient's answers, restriction or
    status changed; the decision is stored with purpose `review`."""

    request_id: int
    kind: str
    decision_id: int = Field(description="the stored decision (purpose review)")
    outcome: str = Field(description="eligible, ineligible or needs_review")
    override_lapsed: bool = Field(
        description="a manager's override covered the request before the change, and no "
                    "longer does: a concern the manager did not see")
    message: str = Field(description="what the change means for the request, for people")


class RecipientUpdated(RecipientRead):
    """The recipient after a change, with the reviews of their open requests it made."""

    reviews: list[EligibilityReview] = Field(default_factory=list)


class DeclarationCreate(BaseModel):
    """A loan declared under a licence condition that allows devices once declared."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    declared_to: str = Field(min_length=1, max_length=200,
                             description="to whom: the practitioner, by name or role")
    declared_on: date = Field(description="when it was declared")
    notes: str = Field(default="", max_length=2000)


class DeclarationRead(ReadModel):
    id: int
    recipient_id: int
    declared_to: str
    declared_on: date
    recorded_by: str
    recorded_at: datetime
    notes: str
    loan_id: int | None = Field(description="the loan it was used for, once lent")
