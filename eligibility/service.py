"""Eligibility: load the policy, check a recipient's answers, decide.

`decide` is a pure function of its arguments: no database, no clock, no
files. The lending app gathers the circumstances, and records the decision.
"""

import calendar
from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path

from eligibility.errors import FactsError, PolicyError, PolicyProblem
from eligibility.policy_reader import parse_policy
from eligibility.schemas import (
    Circumstances,
    Decision,
    Kind,
    NeedRule,
    Policy,
    Reason,
    checked_kind,
)

DEFAULT_POLICY_NAME = "default_policy.toml"


def load_policy(path: str | Path | None = None) -> Policy:
    """Reads and checks a policy file; None reads the packaged default.

    Raises PolicyError naming the line and key of every problem found.
    """
    if path is None:
        text = resources.files("eligibility").joinpath(DEFAULT_POLICY_NAME).read_text("utf-8")
        return parse_policy(text, DEFAULT_POLICY_NAME)
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise PolicyError(
            [PolicyProblem(source, None, None, f"cannot read the policy file: {reason}")]
        ) from None
    return parse_policy(text, source)


def load_policy_text(text: str, source: str = "policy.toml") -> Policy:
    """Checks policy text held in memory; `source` names it in error messages."""
    return parse_policy(text, source)


def check_facts(facts: Mapping[str, object], policy: Policy) -> dict[str, bool]:
    """Returns the answers if each is a true/false answer to one of the policy's questions.

    Raises FactsError naming the first unknown fact or non-boolean answer.
    Questions left out are allowed: they have not been asked yet.
    """
    checked: dict[str, bool] = {}
    for fact, answer in facts.items():
        if fact not in policy.questions:
            known = ", ".join(policy.questions) or "none"
            raise FactsError(str(fact), f"unknown fact; the policy's questions are: {known}")
        # bool only: "no" or 0 from a form must be turned into false by the caller.
        if not isinstance(answer, bool):
            raise FactsError(fact, f"must be true or false, not {answer!r}")
        checked[fact] = answer
    return checked


DECLARATION_MISSING = ("A licence condition allows devices only once declared: a manager "
                       "records the declaration first")
DECLARATION_RECORDED = "Declared as the licence condition requires"


def decide(circumstances: Circumstances, kind: str, policy: Policy) -> Decision:
    """Decides whether a recipient may borrow a device of `kind` under `policy`.

    Every reason that applies is given, most serious first: reasons that make
    the recipient ineligible, then those that call for a manager's review,
    then (unless ineligible) what shows they qualify. Ineligible beats
    needs_review beats eligible. A missing answer that could show need calls
    for review (code fact_missing); an unknown fact raises FactsError.
    """
    kind = checked_kind(kind)
    facts = check_facts(circumstances.facts, policy)
    rules = policy.rules
    refusals: list[Reason] = []
    concerns: list[Reason] = []
    support: list[Reason] = []

    # Always applied, whatever the policy says: it enforces a licence condition.
    hard_stop = circumstances.device_restriction
    if hard_stop:
        refusals.append(Reason(code="device_restriction", message=rules.device_restriction.message))

    # A condition that allows devices once declared: as binding as the hard stop until a
    # manager records the declaration, and then the reason the loan may go out.
    declared = []
    if circumstances.declaration_required and not hard_stop:
        if circumstances.declared:
            declared = [Reason(code="declaration_recorded", message=DECLARATION_RECORDED)]
        else:
            hard_stop = True
            refusals.append(Reason(code="declaration_missing", message=DECLARATION_MISSING))

    if rules.recipient_active.enabled and not circumstances.recipient_active:
        refusals.append(Reason(code="recipient_closed", message=rules.recipient_active.message))

    active_of_kind = circumstances.active_loans_by_kind.get(kind, 0)
    kind_limit = policy.active_loan_limits[kind]
    if rules.kind_limit.enabled and active_of_kind >= kind_limit:
        message = rules.kind_limit.message.format(
            kind=kind, active=active_of_kind, limit=kind_limit
        )
        refusals.append(Reason(code="kind_limit_reached", message=message))

    active_in_total = sum(circumstances.active_loans_by_kind.values())
    total_limit = policy.total_active_loan_limit
    if rules.total_limit.enabled and active_in_total >= total_limit:
        message = rules.total_limit.message.format(active=active_in_total, limit=total_limit)
        refusals.append(Reason(code="total_limit_reached", message=message))

    if rules.need.enabled:
        need_refusals, need_concerns, support = _assess_need(facts, kind, rules.need, policy)
        refusals += need_refusals
        concerns += need_concerns

    if rules.overdue_loan.enabled and circumstances.overdue_loans > 0:
        message = rules.overdue_loan.message.format(count=circumstances.overdue_loans)
        refusals.append(Reason(code="overdue_loan", message=message))

    recent_loss = rules.recent_loss
    if (
        recent_loss.enabled
        and circumstances.last_lost_on is not None
        and circumstances.last_lost_on
        >= months_before(circumstances.today, recent_loss.within_months)
    ):
        message = recent_loss.message.format(
            lost_on=circumstances.last_lost_on.isoformat(), months=recent_loss.within_months
        )
        concerns.append(Reason(code="recent_loss", message=message))

    if refusals:
        # What shows need is no reason to refuse; listing it would read as one.
        return Decision(
            outcome="ineligible",
            reasons=refusals + concerns,
            policy_version=policy.version,
            overridable=not hard_stop,
        )
    support = declared + support
    if not support and not concerns:
        # Only when the need rule is off: an eligible decision still says why.
        support = [Reason(code="checks_passed", message="Meets every rule of the policy")]
    return Decision(
        outcome="needs_review" if concerns else "eligible",
        reasons=concerns + support,
        policy_version=policy.version,
        overridable=True,
    )


def decide_data(circumstances: Circumstances, policy: Policy) -> Decision:
    """Decides whether a recipient may be given a data voucher under `policy`'s `[data]`.

    Data is given, not lent: loan limits and overdue loans do not apply; the need shown by
    the answers, the closed record and the `[data]` limit do. A licence condition that forbids
    internet-enabled devices forbids data too unless the policy says otherwise, and the
    decision names the rule that applied either way (code `device_restriction`, or
    `restriction_allows_data`)."""
    facts = check_facts(circumstances.facts, policy)
    rules, data = policy.rules, policy.data
    refusals: list[Reason] = []
    concerns: list[Reason] = []
    support: list[Reason] = []
    hard_stop = circumstances.device_restriction and data.restriction_forbids_data
    if hard_stop:
        refusals.append(Reason(code="device_restriction", message=data.restriction_message))
    elif circumstances.device_restriction:
        support.append(Reason(code="restriction_allows_data",
                              message=data.restriction_allowed_message))
    if rules.recipient_active.enabled and not circumstances.recipient_active:
        refusals.append(Reason(code="recipient_closed", message=rules.recipient_active.message))
    if circumstances.data_vouchers_recently >= data.limit:
        refusals.append(Reason(code="data_limit_reached", message=data.limit_message.format(
            given=circumstances.data_vouchers_recently, limit=data.limit,
            days=data.within_days)))
    if rules.need.enabled:
        showing = [fact for fact, answer in data.shown_by.items() if facts.get(fact) is answer]
        unanswered = [fact for fact in data.shown_by if fact not in facts]
        if showing:
            support += [Reason(code="need_shown", message=rules.need.shown_messages[fact])
                        for fact in showing]
        elif unanswered:
            concerns += [Reason(code="fact_missing", message=rules.need.missing_message.format(
                fact=fact, question=policy.questions[fact])) for fact in unanswered]
        else:
            refusals.append(Reason(code="no_need", message=data.no_need_message))
    if refusals:
        return Decision(outcome="ineligible", reasons=refusals + concerns,
                        policy_version=policy.version, overridable=not hard_stop)
    if not support and not concerns:
        support = [Reason(code="checks_passed", message="Meets every rule of the policy")]
    return Decision(outcome="needs_review" if concerns else "eligible",
                    reasons=concerns + support, policy_version=policy.version,
                    overridable=True)


def _assess_need(
    facts: Mapping[str, bool], kind: Kind, need: NeedRule, policy: Policy
) -> tuple[list[Reason], list[Reason], list[Reason]]:
    """Returns (refusals, concerns, support) from the answers that can show need for `kind`."""
    answers_showing_need = need.shown_by[kind]
    showing = [fact for fact, answer in answers_showing_need.items() if facts.get(fact) is answer]
    if showing:
        return [], [], [Reason(code="need_shown", message=need.shown_messages[f]) for f in showing]
    # Any unanswered question could still show need, so refusing would be premature.
    unanswered = [fact for fact in answers_showing_need if fact not in facts]
    if unanswered:
        concerns = [
            Reason(
                code="fact_missing",
                message=need.missing_message.format(fact=fact, question=policy.questions[fact]),
            )
            for fact in unanswered
        ]
        return [], concerns, []
    return [Reason(code="no_need", message=need.message.format(kind=kind))], [], []


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier, or that month's last day if shorter.

    So six months before 31 August is 28 (or 29) February.
    """
    month_index = day.year * 12 + (day.month - 1) - months
    year, month_zero_based = divmod(month_index, 12)
    month = month_zero_based + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
