"""API input and output for eligibility decisions and overrides."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from eligibility import Kind
from inventory.schemas import ReadModel

# What eligibility is decided for: a device kind, or data (a voucher, given not lent).
DecisionKind = Kind | Literal["data"]


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: DecisionKind
    reason: str = Field(min_length=10, max_length=2000,
                        description="why the policy's outcome is set aside, in writing")


class ReasonRead(ReadModel):
    code: str
    message: str


class EligibilityOutcome(ReadModel):
    """What the policy decides for a recipient now, stored nowhere."""

    outcome: str = Field(description="eligible, ineligible or needs_review")
    reasons: list[ReasonRead]
    policy: str = Field(description="the policy's version")
    overridable: bool


class DecisionRead(ReadModel):
    """A decision as it was stored: when a loan was issued or refused, a manager's override
    ahead of an issue, or an open waitlist request decided again after the recipient's
    answers, restriction or status changed."""

    id: int
    kind: str
    outcome: str
    reasons: list[ReasonRead]
    policy: str
    facts: dict[str, Any] = Field(description="the circumstances decided on")
    overridable: bool
    decided_at: datetime
    decided_by: str
    purpose: str = Field(description="issue, override or review")
    override_reason: str | None
    overridden_by: str | None
    loan_id: int | None
