"""Text messages in the policy: the optional `[messages]` table."""

import pytest

from eligibility import Policy, PolicyError, load_policy_text
from eligibility.schemas import MESSAGE_KINDS, MessagesPolicy
from tests.eligibility.eligibility_policy_texts import (
    DEFAULT_POLICY_TEXT,
    edited_default,
    line_number,
)

MESSAGES_TABLE = DEFAULT_POLICY_TEXT[
    DEFAULT_POLICY_TEXT.index("\n[messages]"):DEFAULT_POLICY_TEXT.index("\n# Data vouchers")]


def test_the_default_sends_every_text_at_the_issue_offsets(default_policy: Policy) -> None:
    assert default_policy.messages.off == frozenset()
    assert set(default_policy.messages.send) == set(MESSAGE_KINDS)
    assert (default_policy.messages.due_soon_days_before,
            default_policy.messages.overdue_days_after,
            default_policy.messages.final_overdue_days_after,
            default_policy.messages.plan_ending_days_before) == (2, 1, 7, 7)


def test_a_policy_without_a_messages_table_gets_the_defaults(default_policy: Policy) -> None:
    policy = load_policy_text(DEFAULT_POLICY_TEXT.replace(MESSAGES_TABLE, "\n"))
    assert policy.messages == MessagesPolicy()
    assert policy.messages.off == default_policy.messages.off == frozenset()


def test_kinds_switched_off_and_kinds_left_out() -> None:
    policy = load_policy_text(edited_default(
        ("due_soon = true", "due_soon = false"), ("thanks = true\n", "")))
    assert policy.messages.off == {"due_soon"}
    assert "thanks" not in policy.messages.send  # left out: sent


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("due_soon_days_before = 2", "due_soon_days_before = 0",
     "messages.due_soon_days_before", "from 1 to 60"),
    ("due_soon_days_before = 2", "due_soon_days_before = \"two\"",
     "messages.due_soon_days_before", "whole number of days"),
    ("plan_ending_days_before = 7", "plan_ending_days_before = 61",
     "messages.plan_ending_days_before", "from 1 to 60"),
    ("overdue_days_after = 1", "overdue_days_after = true",
     "messages.overdue_days_after", "whole number of days"),
    ("final_overdue_days_after = 7", "final_overdue_days_after = 1",
     "messages.final_overdue_days_after", "more than overdue_days_after"),
    ("due_today = true", "due_today = \"yes\"", "messages.send.due_today", "true or false"),
    ("thanks = true", "thanks = true\nbirthday = true", "messages.send.birthday",
     "unknown kind of text"),
    ("plan_ending_days_before = 7", "plan_ending_days_before = 7\nrepeat = 2",
     "messages.repeat", "unknown key"),
])
def test_a_bad_messages_table_names_its_line_and_key(old, new, key, words) -> None:
    text = edited_default((old, new))
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "policy.toml")
    problems = caught.value.problems
    assert [p.key for p in problems] == [key], problems
    assert words in problems[0].message
    assert problems[0].line == line_number(text, new.splitlines()[-1])
    assert f"policy.toml line {problems[0].line}: {key}: " in str(caught.value)


def test_an_offset_left_out_of_a_messages_table_is_missing() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(edited_default(("overdue_days_after = 1\n", "")))
    assert [p.key for p in caught.value.problems] == ["messages.overdue_days_after"]
    assert "missing" in caught.value.problems[0].message
