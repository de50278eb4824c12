"""Eligibility decisions as they were made, and managers' overrides of them."""

from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import JSON, DateTime, Index
from sqlmodel import Field, Relationship, SQLModel

if TYPE_CHECKING:  # the loan a decision let through; loans sit above decisions
    from lending.loans.models import Loan


class EligibilityDecision(SQLModel, table=True):
    """A decision as it was made: the policy version, the facts it saw, and its reasons.

    Written when a loan is issued (or refused), when a manager overrides ahead of an
    issue, and when a change to the recipient's record re-decides an open waitlist request;
    an override is used up by the loan it lets through (`loan_id`).
    """

    __tablename__ = "eligibility_decisions"
    __table_args__ = (Index("ix_decisions_recipient", "recipient_id", "id"),
                      Index("ix_decisions_decided_at", "decided_at"))

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="recipients.id")
    kind: str = Field(max_length=10)
    outcome: str = Field(max_length=12)
    reasons: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    policy_version: str = Field(max_length=80)
    # The circumstances decided on: the answers, the restriction, the loans counted.
    facts: dict = Field(default_factory=dict, sa_type=JSON)
    overridable: bool = True
    decided_at: datetime = Field(sa_type=DateTime(timezone=True))
    decided_by: str = Field(max_length=254)
    # "issue": made while issuing; "override": a manager's override made ahead of an issue;
    # "review": an open waitlist request decided again after what it was decided on changed.
    purpose: str = Field(default="issue", max_length=10)
    override_reason: str | None = Field(default=None, max_length=2000)
    overridden_by: str | None = Field(default=None, max_length=254)
    loan_id: int | None = Field(default=None, foreign_key="loans.id")

    # So that a decision and the loan it let through are written in one flush.
    loan: Optional["Loan"] = Relationship(sa_relationship_kwargs={"lazy": "raise_on_sql"})
