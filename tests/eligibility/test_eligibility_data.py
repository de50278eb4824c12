"""Data vouchers in the policy: the `[data]` table and `decide_data`."""

import pytest

from eligibility import Policy, PolicyError, decide_data, load_policy_text
from tests.eligibility.eligibility_policy_texts import DEFAULT_POLICY_TEXT, edited_default
from tests.eligibility.test_eligibility_decide import circumstances, codes

DATA_TABLE = DEFAULT_POLICY_TEXT[DEFAULT_POLICY_TEXT.index("\n[data]"):]


def test_the_default_gives_one_voucher_in_30_days_to_someone_who_cannot_afford_data(
        default_policy: Policy) -> None:
    assert default_policy.data.limit == 1 and default_policy.data.within_days == 30
    decision = decide_data(circumstances(facts={"can_afford_data": False}), default_policy)
    assert decision.outcome == "eligible" and codes(decision) == ["need_shown"]
    assert decision.reasons[0].message == "Cannot afford data"
    limited = decide_data(circumstances(facts={"can_afford_data": False},
                                        data_vouchers_recently=1), default_policy)
    assert limited.outcome == "ineligible" and codes(limited) == ["data_limit_reached"]
    assert limited.reasons[0].message == ("Already given 1 data voucher(s) in the last 30 "
                                          "days (limit 1)")
    assert limited.overridable


def test_need_for_data_unshown_or_unanswered(default_policy: Policy) -> None:
    refused = decide_data(circumstances(facts={"can_afford_data": True}), default_policy)
    assert refused.outcome == "ineligible" and codes(refused) == ["no_need"]
    assert refused.reasons[0].message == "No need shown for data"
    unanswered = decide_data(circumstances(facts={}), default_policy)
    assert unanswered.outcome == "needs_review" and codes(unanswered) == ["fact_missing"]


def test_a_licence_condition_forbids_data_unless_the_policy_says_otherwise(
        default_policy: Policy) -> None:
    stopped = decide_data(circumstances(device_restriction=True), default_policy)
    assert stopped.outcome == "ineligible" and not stopped.overridable
    assert codes(stopped)[0] == "device_restriction"
    lenient = load_policy_text(edited_default(("restriction_forbids_data = true",
                                               "restriction_forbids_data = false")))
    allowed = decide_data(circumstances(device_restriction=True), lenient)
    assert allowed.outcome == "eligible"
    assert "restriction_allows_data" in codes(allowed)


def test_a_policy_without_a_data_table_gets_the_defaults(default_policy: Policy) -> None:
    policy = load_policy_text(DEFAULT_POLICY_TEXT.replace(DATA_TABLE, "\n"))
    assert policy.data == default_policy.data


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("limit = 1\n", "limit = 0\n", "data.limit", "positive whole number"),
    ("shown_by = { can_afford_data = false }", "shown_by = { can_fly = true }",
     "data.shown_by.can_fly", "unknown fact"),
    ("within_days = 30", "within_days = 30\ncolour = 1", "data.colour", "unknown key"),
    ("(limit {limit})", "(limit {max})", "data.limit_message", "unknown placeholder"),
])
def test_a_bad_data_table_names_its_line_and_key(old, new, key, words) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(edited_default((old, new)))
    problems = caught.value.problems
    assert [p.key for p in problems] == [key], problems
    assert words in problems[0].message and problems[0].line is not None
