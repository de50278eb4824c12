"""API input and output for eligibility decisions and overrides."""

from pydantic import BaseModel, ConfigDict, Field

from eligibility import Kind


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind
    reason: str = Field(min_length=10, max_length=2000,
                        description="why the policy's outcome is set aside, in writing")
