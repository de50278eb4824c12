"""Errors raised by the eligibility package.

Each names the thing at fault (a policy key and line, a fact, a kind) so that
the caller can show it as-is: the CLI as a one-line message, the API as a 422.
"""

from dataclasses import dataclass


class EligibilityError(Exception):
    """Base for every error this package raises on purpose."""


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy file, located as precisely as we can."""

    source: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source} line {self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class PolicyError(EligibilityError):
    """The policy file cannot be used; lists every problem found, one per line."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class FactsError(EligibilityError, ValueError):
    """A recipient's answers do not fit the policy's questions."""

    def __init__(self, fact: str, message: str) -> None:
        self.fact = fact
        super().__init__(f"{fact}: {message}")


class UnknownKindError(EligibilityError, ValueError):
    """A device kind the policy does not know."""

    def __init__(self, kind: object) -> None:
        self.kind = kind
        super().__init__(f"unknown device kind {kind!r}")
