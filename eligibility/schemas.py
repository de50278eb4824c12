"""The plain data that goes into and comes out of an eligibility decision.

Nothing here knows about the database: the lending app gathers the facts,
builds `Circumstances`, and stores or shows the `Decision`.
"""

from datetime import date
from typing import Annotated, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from eligibility.errors import UnknownKindError

Kind = Literal["laptop", "phone", "tablet", "sim", "hotspot"]
KINDS: tuple[str, ...] = get_args(Kind)

# Data is given (a voucher), not lent: it has its own part of the policy, `[data]`.
DATA = "data"

Outcome = Literal["eligible", "ineligible", "needs_review"]

# Strict so that a stray "yes" or 1 is refused rather than guessed at.
LoanCount = Annotated[int, Field(strict=True, ge=0)]


def checked_kind(kind: object) -> Kind:
    if kind not in KINDS:
        raise UnknownKindError(kind)
    return cast(Kind, kind)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Circumstances(_Frozen):
    """What is known about a recipient when a device of some kind is asked for."""

    facts: dict[str, StrictBool]
    """Answers to the policy's questions; a question not yet asked is left out."""
    recipient_active: StrictBool
    device_restriction: StrictBool
    """A licence condition forbids internet-enabled devices."""
    declaration_required: StrictBool = False
    """A licence condition allows devices once a loan is declared."""
    declared: StrictBool = False
    """A declaration, recorded by a manager, covers this loan."""
    active_loans_by_kind: dict[Kind, LoanCount]
    """Kinds with no active loan may be left out."""
    overdue_loans: LoanCount
    last_lost_on: date | None
    today: date
    data_vouchers_recently: LoanCount = 0
    """Data vouchers given within the policy's `[data] within_days` (decisions on data)."""


class Reason(_Frozen):
    code: str
    message: str


class Decision(_Frozen):
    outcome: Outcome
    reasons: list[Reason]
    """Every reason that applies, most serious first; never empty."""
    policy_version: str
    overridable: bool
    """Whether a manager may override the outcome; False when a hard stop applies."""

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]


class Rule(_Frozen):
    enabled: bool
    message: str
    """A str.format template; the policy loader has checked its placeholders."""


class RecentLossRule(Rule):
    within_months: int


class NeedRule(Rule):
    missing_message: str
    shown_by: dict[Kind, dict[str, bool]]
    """Per kind, the answers (fact -> answer) any one of which shows need."""
    shown_messages: dict[str, str]
    """Per fact, the reason given when its answer shows need."""


class DataPolicy(_Frozen):
    """Data vouchers: who shows need, how many in how long, and whether a licence condition
    forbidding internet-enabled devices forbids data too. A policy without a `[data]` table
    gets these defaults."""

    shown_by: dict[str, bool] = {"can_afford_data": False}
    """The answers, any one of which shows need for data (fact -> answer)."""
    no_need_message: str = "No need shown for data"
    limit: int = 1
    within_days: int = 30
    limit_message: str = ("Already given {given} data voucher(s) in the last {days} days "
                          "(limit {limit})")
    restriction_forbids_data: bool = True
    restriction_message: str = ("A licence condition forbids internet-enabled devices, and "
                                "so data too")
    restriction_allowed_message: str = ("A licence condition forbids internet-enabled "
                                        "devices; this policy lets data through")


# The texts the lending app sends (its `notifications` kinds), each of which a policy may
# switch off. A kind added there is added here to be switchable; until then it is sent.
MESSAGE_KINDS: tuple[str, ...] = ("loan_receipt", "due_soon", "due_today", "overdue",
                                  "final_overdue", "plan_ending", "waitlist_offer", "thanks",
                                  "survey")


class MessagesPolicy(_Frozen):
    """When reminders go and which texts are sent at all. A policy without a `[messages]`
    table gets these defaults; in `[messages.send]` a kind left out is sent."""

    due_soon_days_before: int = 2
    overdue_days_after: int = 1
    final_overdue_days_after: int = 7
    plan_ending_days_before: int = 7
    send: dict[str, bool] = {}
    """Kind -> whether it is sent; kinds left out are sent."""

    @property
    def off(self) -> frozenset[str]:
        """The kinds switched off."""
        return frozenset(kind for kind, on in self.send.items() if not on)


class StockPolicy(_Frozen):
    """Low stock, for the manager reports: a location is short of a kind when it has fewer
    devices of that kind available than the kind's threshold. A policy without a `[stock]`
    table gets these defaults."""

    low_stock_threshold: int = 3
    """The threshold of every kind not listed in `low_stock_by_kind`."""
    low_stock_by_kind: dict[Kind, int] = {}
    """Thresholds for particular kinds (0: never flagged)."""

    def threshold(self, kind: str) -> int:
        return self.low_stock_by_kind.get(checked_kind(kind), self.low_stock_threshold)


class Rules(_Frozen):
    recipient_active: Rule
    device_restriction: Rule
    kind_limit: Rule
    total_limit: Rule
    overdue_loan: Rule
    recent_loss: RecentLossRule
    need: NeedRule


class Policy(_Frozen):
    """A checked eligibility policy. Build it with `load_policy`, not by hand."""

    version: str
    source: str
    """Where the policy was read from, for messages."""
    waitlist_hold_days: int
    questions: dict[str, str]
    """Fact key -> question text, in the order staff ask them."""
    loan_periods: dict[Kind, int]
    renewal_limits: dict[Kind, int]
    active_loan_limits: dict[Kind, int]
    total_active_loan_limit: int
    rules: Rules
    data: DataPolicy = DataPolicy()
    messages: MessagesPolicy = MessagesPolicy()
    stock: StockPolicy = StockPolicy()
    skills_question: str | None = None
    """Asked with each loan, its answer recorded on the loan: would they like help to use
    the device? None: not asked."""

    def loan_period_days(self, kind: str) -> int:
        return self.loan_periods[checked_kind(kind)]

    def max_renewals(self, kind: str) -> int:
        return self.renewal_limits[checked_kind(kind)]

    def max_active_loans(self, kind: str) -> int:
        return self.active_loan_limits[checked_kind(kind)]

    @property
    def recent_loss_review_months(self) -> int:
        return self.rules.recent_loss.within_months
