"""API input and output for loans."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from inventory.schemas import Condition, ReadModel
from lending.db import MAX_ID
from lending.loans.models import NOTHING, Purpose

Accessory = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=60)]


def _distinct(items: list) -> list:
    return list(dict.fromkeys(items))


def _helped_with(items: list[str] | None) -> list[str] | None:
    if items is None:
        return None
    items = _distinct([item.strip().lower() for item in items])
    allowed = [purpose.value for purpose in Purpose] + [NOTHING]
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a purpose: use {', '.join(allowed)}")
    if NOTHING in items and len(items) > 1:
        raise ValueError(f"{NOTHING!r} stands alone")
    return items


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return list(seen.values())


class LoanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    asset_tag: str = Field(min_length=1, max_length=20)
    recipient_id: int = Field(ge=1, le=MAX_ID)
    due_on: date | None = Field(default=None, description="default: from the policy")
    accessories: list[Accessory] = Field(default_factory=list, max_length=20,
                                         description="handed over with the device")
    sim_tag: str | None = Field(default=None, max_length=20,
                                description="a SIM issued in the same step as a phone")
    agreement_accepted: bool = Field(
        default=True, description="the recipient accepted the loan agreement; false refuses")
    override_reason: str | None = Field(
        default=None, min_length=10, max_length=2000,
        description="a manager overriding an ineligible or needs_review outcome")
    purposes: list[Purpose] = Field(
        default_factory=list, max_length=6,
        description="what it is for: learning, work, health, family, services, other")
    wants_skills_help: bool | None = Field(
        default=None, description="they would like help to use the device")

    _accessories = field_validator("accessories")(_unique)
    _purposes = field_validator("purposes")(_distinct)

    @field_validator("sim_tag", "override_reason", mode="before")
    @classmethod
    def _blank(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


class RenewLoan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_on: date | None = Field(default=None, description="default: from the policy")


class ReturnLoan(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    condition: Condition = Field(description="A (as new) to D (needs repair)")
    missing_accessories: list[Accessory] = Field(default_factory=list, max_length=20)
    notes: str = Field(default="", max_length=2000)
    helped_with: list[str] | None = Field(
        default=None, max_length=7,
        description="what it helped with: purposes, or [\"nothing\"]; left out if not asked")

    _missing = field_validator("missing_accessories")(_unique)
    _helped = field_validator("helped_with")(_helped_with)


class LoseLoan(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    notes: str = Field(default="", max_length=2000)
    police_reference: str | None = Field(default=None, max_length=40)
    stolen: bool = False


class FoundDevice(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    notes: str = Field(default="", max_length=2000)


class LoanRead(ReadModel):
    id: int
    asset_tag: str
    kind: str
    make: str
    model: str
    recipient_id: int
    recipient_name: str
    status: str = Field(description="active, overdue (active and past due), returned or lost")
    issued_at: datetime
    issued_by: str
    due_on: date
    renewals: int
    accessories: list[str]
    with_loan_id: int | None = Field(description="a SIM issued with a phone: the phone's loan")
    returned_at: datetime | None
    returned_condition: str | None
    missing_accessories: list[str]
    return_notes: str
    lost_at: datetime | None
    stolen: bool
    police_reference: str | None
    lost_notes: str
    found_at: datetime | None
    agreement_accepted_at: datetime
    location: str = Field(description="the recipient's home location code")
    overdue: bool
    purposes: list[str] = Field(description="what it is for, chosen at the desk")
    helped_with: list[str] | None = Field(
        description="recorded at the return: the purposes it helped with, or nothing")
    wants_skills_help: bool | None = Field(
        description="they would like help to use the device (null: not asked)")
    declaration_id: int | None = Field(
        description="the declaration a loan under a declared_only condition rests on")
    survey_answer: int | None = Field(description="after the return: how much it helped, 1-5")
    more_time_requested_at: datetime | None = Field(
        description="the recipient asked for more time by text, not yet dealt with")


class IssuedLoan(LoanRead):
    sim_loan: LoanRead | None = Field(
        default=None, description="the SIM's loan, when one was issued in the same step")
