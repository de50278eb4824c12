"""decide(): every rule alone and together, from policy text to decision."""

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from eligibility import (
    KINDS,
    Circumstances,
    Decision,
    FactsError,
    Policy,
    UnknownKindError,
    check_facts,
    decide,
)
from eligibility.service import months_before
from tests.eligibility.eligibility_policy_texts import edited_default

TODAY = date(2025, 7, 15)

# Answers that show need for every kind, and nothing else wrong.
NEEDY_FACTS = {
    "has_suitable_device": False,
    "has_home_internet": False,
    "can_afford_data": False,
    "referred_by_practitioner": False,
}
# Answers that show need for no kind.
WELL_EQUIPPED_FACTS = {
    "has_suitable_device": True,
    "has_home_internet": True,
    "can_afford_data": True,
    "referred_by_practitioner": False,
}


def circumstances(**changes: Any) -> Circumstances:
    """A recipient who qualifies for anything, with the given changes."""
    fields: dict[str, Any] = {
        "facts": NEEDY_FACTS,
        "recipient_active": True,
        "device_restriction": False,
        "active_loans_by_kind": {},
        "overdue_loans": 0,
        "last_lost_on": None,
        "today": TODAY,
    }
    return Circumstances(**(fields | changes))


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


@pytest.mark.parametrize("kind", KINDS)
def test_a_recipient_in_need_is_eligible_and_told_why(default_policy: Policy, kind: str) -> None:
    decision = decide(circumstances(), kind, default_policy)
    assert decision.outcome == "eligible"
    assert decision.overridable is True
    assert decision.policy_version == "default-2025.1"
    expected = {
        "laptop": ["No suitable device of their own"],
        "phone": ["No suitable device of their own"],
        "tablet": ["No suitable device of their own"],
        "sim": ["No home internet", "Cannot afford data"],
        "hotspot": ["No home internet", "Cannot afford data"],
    }[kind]
    assert [(r.code, r.message) for r in decision.reasons] == [("need_shown", m) for m in expected]


# Each rule on its own: what triggers it, the kind asked for, and the single
# reason expected with its outcome and message.
EACH_RULE = {
    "recipient closed": (
        {"recipient_active": False},
        "laptop",
        "ineligible",
        "recipient_closed",
        "The recipient's record is closed",
    ),
    "device restriction": (
        {"device_restriction": True},
        "phone",
        "ineligible",
        "device_restriction",
        "A licence condition forbids internet-enabled devices",
    ),
    "kind limit": (
        {"active_loans_by_kind": {"laptop": 1}},
        "laptop",
        "ineligible",
        "kind_limit_reached",
        "Already at the limit for laptop loans (1 active, limit 1)",
    ),
    "total limit": (
        {"active_loans_by_kind": {"phone": 1, "sim": 1}},
        "tablet",
        "ineligible",
        "total_limit_reached",
        "Already at the limit for loans in total (2 active, limit 2)",
    ),
    "no need": (
        {"facts": WELL_EQUIPPED_FACTS},
        "hotspot",
        "ineligible",
        "no_need",
        "No need shown for a hotspot",
    ),
    "overdue loan": (
        {"overdue_loans": 2, "active_loans_by_kind": {"sim": 1}},
        "laptop",
        "ineligible",
        "overdue_loan",
        "An overdue loan is outstanding (2 overdue)",
    ),
    "recent loss": (
        {"last_lost_on": date(2025, 3, 1)},
        "tablet",
        "needs_review",
        "recent_loss",
        "A device was lost on 2025-03-01, within the last 6 months",
    ),
    "fact missing": (
        {"facts": {"has_suitable_device": True, "referred_by_practitioner": False}},
        "sim",
        "needs_review",
        "fact_missing",
        "Not yet answered: Do they have internet access at home?",
    ),
}


@pytest.mark.parametrize(
    ("changes", "kind", "outcome", "code", "message"), EACH_RULE.values(), ids=EACH_RULE.keys()
)
def test_each_rule_on_its_own(
    default_policy: Policy,
    changes: dict[str, Any],
    kind: str,
    outcome: str,
    code: str,
    message: str,
) -> None:
    decision = decide(circumstances(**changes), kind, default_policy)
    assert decision.outcome == outcome
    assert decision.reasons[0].code == code
    assert decision.reasons[0].message == message
    adverse = [c for c in codes(decision) if c != "need_shown"]
    if code == "fact_missing":
        assert adverse == ["fact_missing", "fact_missing"]  # internet and data both unanswered
    else:
        assert adverse == [code]
    if outcome == "ineligible":
        assert "need_shown" not in codes(decision), "a refusal does not list what qualifies"
    if outcome == "needs_review" and code == "recent_loss":
        assert codes(decision) == ["recent_loss", "need_shown"], "the reviewer sees the need"
    assert decision.overridable is (code != "device_restriction")


def test_every_reason_that_applies_is_given_most_serious_first(default_policy: Policy) -> None:
    decision = decide(
        circumstances(
            facts={"has_suitable_device": True, "has_home_internet": True},
            recipient_active=False,
            device_restriction=True,
            active_loans_by_kind={"sim": 1, "laptop": 1},
            overdue_loans=1,
            last_lost_on=TODAY,
        ),
        "sim",
        default_policy,
    )
    assert decision.outcome == "ineligible"
    assert codes(decision) == [
        "device_restriction",
        "recipient_closed",
        "kind_limit_reached",
        "total_limit_reached",
        "overdue_loan",
        "fact_missing",  # can they afford data?
        "fact_missing",  # were they referred?
        "recent_loss",
    ]
    assert decision.overridable is False


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({}, "eligible"),
        ({"last_lost_on": TODAY}, "needs_review"),
        ({"overdue_loans": 1}, "ineligible"),
        ({"overdue_loans": 1, "last_lost_on": TODAY}, "ineligible"),
        ({"recipient_active": False, "last_lost_on": TODAY}, "ineligible"),
        (
            {"facts": {"has_suitable_device": True}, "last_lost_on": TODAY},
            "needs_review",
        ),
        ({"facts": {"has_suitable_device": True}, "overdue_loans": 1}, "ineligible"),
    ],
)
def test_ineligible_beats_needs_review_beats_eligible(
    default_policy: Policy, changes: dict[str, Any], outcome: str
) -> None:
    assert decide(circumstances(**changes), "laptop", default_policy).outcome == outcome


@pytest.mark.parametrize("kind", KINDS)
def test_device_restriction_is_a_hard_stop_even_when_all_else_qualifies(
    default_policy: Policy, kind: str
) -> None:
    decision = decide(
        circumstances(device_restriction=True, facts={"referred_by_practitioner": True}),
        kind,
        default_policy,
    )
    assert decision.outcome == "ineligible"
    assert codes(decision) == ["device_restriction"]
    assert decision.overridable is False


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"recipient_active": False}, "laptop"),
        ({"overdue_loans": 1}, "sim"),
        ({"active_loans_by_kind": {"phone": 1}}, "phone"),
        ({"facts": WELL_EQUIPPED_FACTS}, "tablet"),
    ],
)
def test_refusals_without_a_hard_stop_can_be_overridden(
    default_policy: Policy, changes: dict[str, Any], kind: str
) -> None:
    decision = decide(circumstances(**changes), kind, default_policy)
    assert (decision.outcome, decision.overridable) == ("ineligible", True)


@pytest.mark.parametrize("kind", KINDS)
def test_the_limit_per_kind_counts_only_that_kind(default_policy: Policy, kind: str) -> None:
    other_kind = "phone" if kind != "phone" else "laptop"
    of_that_kind = decide(circumstances(active_loans_by_kind={kind: 1}), kind, default_policy)
    assert codes(of_that_kind) == ["kind_limit_reached"]
    of_another = decide(circumstances(active_loans_by_kind={other_kind: 1}), kind, default_policy)
    assert of_another.outcome == "eligible"


@pytest.mark.parametrize(
    ("active_loans_by_kind", "refused"),
    [
        ({}, False),
        ({"laptop": 1}, False),
        ({"laptop": 1, "sim": 1}, True),
        ({"laptop": 1, "sim": 1, "phone": 1}, True),
    ],
)
def test_the_total_limit_counts_every_kind(
    default_policy: Policy, active_loans_by_kind: dict[str, int], refused: bool
) -> None:
    decision = decide(
        circumstances(active_loans_by_kind=active_loans_by_kind), "hotspot", default_policy
    )
    assert ("total_limit_reached" in codes(decision)) is refused
    assert decision.outcome == ("ineligible" if refused else "eligible")


DEVICE_KINDS = ["laptop", "phone", "tablet"]
CONNECTION_KINDS = ["sim", "hotspot"]


@pytest.mark.parametrize(
    ("kinds", "facts", "shown"),
    [
        # Devices: need is having no suitable device of their own.
        (DEVICE_KINDS, {"has_suitable_device": False}, ["No suitable device of their own"]),
        (DEVICE_KINDS, {"has_suitable_device": True, "has_home_internet": False}, None),
        # Connections: need is no home internet, or no money for data.
        (CONNECTION_KINDS, {"has_home_internet": False}, ["No home internet"]),
        (CONNECTION_KINDS, {"can_afford_data": False}, ["Cannot afford data"]),
        (CONNECTION_KINDS, {"has_home_internet": True, "can_afford_data": True}, None),
        (CONNECTION_KINDS, {"has_suitable_device": False}, "missing"),
        # A practitioner's referral shows need for any kind.
        (KINDS, {"referred_by_practitioner": True}, ["Referred by their practitioner"]),
    ],
)
def test_need_per_kind(
    default_policy: Policy,
    kinds: list[str],
    facts: dict[str, bool],
    shown: list[str] | str | None,
) -> None:
    # Answer every question, by default in the way that shows no need, so
    # only the answers under test can show it.
    all_answers = WELL_EQUIPPED_FACTS | facts if shown != "missing" else facts
    for kind in kinds:
        decision = decide(circumstances(facts=all_answers), kind, default_policy)
        if shown is None:
            assert (decision.outcome, codes(decision)) == ("ineligible", ["no_need"]), kind
        elif shown == "missing":
            assert decision.outcome == "needs_review", kind
            assert set(codes(decision)) == {"fact_missing"}
        else:
            assert decision.outcome == "eligible", kind
            assert [r.message for r in decision.reasons] == shown


def test_a_missing_answer_matters_only_if_it_could_show_need(default_policy: Policy) -> None:
    # The referral shows need already; the unanswered device question cannot change that.
    referred = {"referred_by_practitioner": True}
    assert decide(circumstances(facts=referred), "laptop", default_policy).outcome == "eligible"
    # Home internet does not bear on a laptop: answered that way, there is no need.
    equipped = {"has_suitable_device": True, "referred_by_practitioner": False}
    assert codes(decide(circumstances(facts=equipped), "laptop", default_policy)) == ["no_need"]
    # Nothing answered: every question that could show need is listed for review.
    decision = decide(circumstances(facts={}), "laptop", default_policy)
    assert decision.outcome == "needs_review"
    assert [r.message for r in decision.reasons] == [
        "Not yet answered: Do they have a suitable laptop, phone or tablet of their own?",
        "Not yet answered: Have they been referred by their probation practitioner?",
    ]


@pytest.mark.parametrize(
    ("today", "lost_on", "review"),
    [
        (date(2025, 7, 15), date(2025, 1, 15), True),  # exactly six months ago
        (date(2025, 7, 15), date(2025, 1, 14), False),  # a day more
        (date(2025, 7, 15), date(2025, 7, 15), True),  # today
        (date(2025, 7, 15), date(2024, 7, 15), False),
        (date(2025, 8, 31), date(2025, 2, 28), True),  # no 31 February: its last day
        (date(2025, 8, 31), date(2025, 2, 27), False),
        (date(2025, 3, 10), date(2024, 9, 10), True),  # across a year end
        (date(2025, 3, 10), date(2024, 9, 9), False),
    ],
)
def test_a_loss_within_six_months_needs_review(
    default_policy: Policy, today: date, lost_on: date, review: bool
) -> None:
    decision = decide(circumstances(today=today, last_lost_on=lost_on), "phone", default_policy)
    assert decision.outcome == ("needs_review" if review else "eligible")
    assert ("recent_loss" in codes(decision)) is review


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2025, 7, 15), 6, date(2025, 1, 15)),
        (date(2024, 8, 31), 6, date(2024, 2, 29)),
        (date(2025, 1, 31), 1, date(2024, 12, 31)),
        (date(2025, 3, 31), 1, date(2025, 2, 28)),
        (date(2025, 5, 1), 24, date(2023, 5, 1)),
    ],
)
def test_months_before(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


def test_a_custom_policy_changes_limits_questions_messages_and_rules(
    policy_from_text: Callable[[str], Policy],
) -> None:
    policy = policy_from_text(
        edited_default(
            ('version = "default-2025.1"', 'version = "pilot-2"'),
            ("[active_loan_limits]\nlaptop = 1", "[active_loan_limits]\nlaptop = 2"),
            ("total = 2", "total = 3"),
            ("[rules.overdue_loan]\nenabled = true", "[rules.overdue_loan]\nenabled = false"),
            ("within_months = 6", "within_months = 3"),
            (
                'referred_by_practitioner = "Have they been referred',
                'on_course = "Are they on a training course?"\n'
                'referred_by_practitioner = "Have they been referred',
            ),
            (
                "laptop = { has_suitable_device = false,",
                "laptop = { on_course = true, has_suitable_device = false,",
            ),
            (
                'has_suitable_device = "No suitable device of their own"',
                'has_suitable_device = "No suitable device of their own"\n'
                'on_course = "Needs it for their course"',
            ),
            ("No need shown for a {kind}", "Nothing shows they need a {kind}"),
        )
    )
    facts = WELL_EQUIPPED_FACTS | {"on_course": True}
    decision = decide(
        circumstances(
            facts=facts,
            active_loans_by_kind={"laptop": 1, "sim": 1},
            overdue_loans=4,
            last_lost_on=date(2025, 3, 1),
        ),
        "laptop",
        policy,
    )
    # Limits raised, overdue loans ignored, a loss over three months ago forgotten.
    assert decision.outcome == "eligible"
    assert [(r.code, r.message) for r in decision.reasons] == [
        ("need_shown", "Needs it for their course")
    ]
    assert decision.policy_version == "pilot-2"
    # The new question only shows need for a laptop, and the new message says so.
    refused = decide(circumstances(facts=facts), "phone", policy)
    assert [r.message for r in refused.reasons] == ["Nothing shows they need a phone"]
    # A loss within three months still calls for review.
    review = decide(circumstances(last_lost_on=date(2025, 4, 15)), "phone", policy)
    assert review.outcome == "needs_review"
    assert review.reasons[0].message == "A device was lost on 2025-04-15, within the last 3 months"


# A rule that is switched off, and circumstances that would trip it.
SWITCHED_OFF = {
    "recipient_active": {"recipient_active": False},
    "kind_limit": {"active_loans_by_kind": {"laptop": 1}},
    "total_limit": {"active_loans_by_kind": {"sim": 1, "phone": 1}},
    "overdue_loan": {"overdue_loans": 1},
    "recent_loss": {"last_lost_on": TODAY},
    "need": {"facts": WELL_EQUIPPED_FACTS},
}


@pytest.mark.parametrize(("rule", "changes"), SWITCHED_OFF.items(), ids=SWITCHED_OFF.keys())
def test_a_rule_switched_off_no_longer_applies(
    policy_from_text: Callable[[str], Policy], rule: str, changes: dict[str, Any]
) -> None:
    on = f"[rules.{rule}]\nenabled = true"
    policy = policy_from_text(edited_default((on, on.replace("true", "false"))))
    decision = decide(circumstances(**changes), "laptop", policy)
    assert decision.outcome == "eligible"
    if rule == "need":
        # Nothing positive was found, but the decision still says why it is yes.
        assert codes(decision) == ["checks_passed"]
    else:
        assert codes(decision) == ["need_shown"]


def test_unknown_facts_are_refused_by_name(default_policy: Policy) -> None:
    with pytest.raises(FactsError, match="^owns_car: unknown fact") as raised:
        decide(circumstances(facts=NEEDY_FACTS | {"owns_car": True}), "laptop", default_policy)
    assert raised.value.fact == "owns_car"


@pytest.mark.parametrize(
    ("facts", "fact", "message"),
    [
        ({"has_wifi": True}, "has_wifi", "unknown fact; the policy's questions are: has_suitable"),
        ({"has_home_internet": "no"}, "has_home_internet", "must be true or false, not 'no'"),
        ({"can_afford_data": 0}, "can_afford_data", "must be true or false, not 0"),
        ({"referred_by_practitioner": None}, "referred_by_practitioner", "not None"),
    ],
)
def test_check_facts_names_the_bad_fact(
    default_policy: Policy, facts: dict[str, object], fact: str, message: str
) -> None:
    with pytest.raises(FactsError) as raised:
        check_facts(facts, default_policy)
    assert raised.value.fact == fact
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{fact}: ")


def test_check_facts_accepts_some_or_all_answers(default_policy: Policy) -> None:
    assert check_facts({}, default_policy) == {}
    assert check_facts(NEEDY_FACTS, default_policy) == NEEDY_FACTS


def test_an_unknown_kind_is_refused(default_policy: Policy) -> None:
    with pytest.raises(UnknownKindError, match="'scooter'"):
        decide(circumstances(), "scooter", default_policy)


@pytest.mark.parametrize(
    "changes",
    [
        {"facts": {"has_home_internet": "no"}},
        {"facts": {"has_home_internet": 0}},
        {"recipient_active": "yes"},
        {"active_loans_by_kind": {"scooter": 1}},
        {"active_loans_by_kind": {"laptop": -1}},
        {"active_loans_by_kind": {"laptop": "1"}},
        {"overdue_loans": -1},
        {"today": None},
    ],
)
def test_circumstances_refuse_what_is_not_plainly_so(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        circumstances(**changes)


def test_decide_is_pure(default_policy: Policy) -> None:
    # Same input, same answer, and the input is left as it was.
    given = circumstances(last_lost_on=date(2025, 2, 1), active_loans_by_kind={"sim": 1})
    before = given.model_dump()
    assert decide(given, "sim", default_policy) == decide(given, "sim", default_policy)
    assert given.model_dump() == before
