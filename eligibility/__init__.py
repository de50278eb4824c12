"""Eligibility for a device loan: a TOML policy and a pure decision function.

Knows nothing of the database or the other packages: it is handed plain
facts and returns a decision.
"""

from eligibility.errors import (
    EligibilityError,
    FactsError,
    PolicyError,
    PolicyProblem,
    UnknownKindError,
)
from eligibility.schemas import (
    DATA,
    KINDS,
    Circumstances,
    Decision,
    Kind,
    Policy,
    Reason,
    StockPolicy,
)
from eligibility.service import check_facts, decide, decide_data, load_policy, load_policy_text

__all__ = [
    "DATA",
    "KINDS",
    "Circumstances",
    "Decision",
    "EligibilityError",
    "FactsError",
    "Kind",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "Reason",
    "StockPolicy",
    "UnknownKindError",
    "check_facts",
    "decide",
    "decide_data",
    "load_policy",
    "load_policy_text",
]
