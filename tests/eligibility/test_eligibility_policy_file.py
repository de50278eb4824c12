"""Loading a policy: the packaged default, overrides, and errors that say where."""

from collections.abc import Callable
from pathlib import Path

import pytest

from eligibility import KINDS, Policy, PolicyError, UnknownKindError, load_policy, load_policy_text
from tests.eligibility.eligibility_policy_texts import (
    DEFAULT_POLICY_TEXT,
    edited_default,
    line_number,
)

DEFAULT_QUESTIONS = [
    "has_suitable_device",
    "has_home_internet",
    "can_afford_data",
    "referred_by_practitioner",
]


def test_packaged_default_loads_with_its_documented_values(default_policy: Policy) -> None:
    assert default_policy.version == "default-2025.1"
    assert default_policy.source == "default_policy.toml"
    assert list(default_policy.questions) == DEFAULT_QUESTIONS
    assert all(text.endswith("?") for text in default_policy.questions.values())
    assert [default_policy.loan_period_days(kind) for kind in KINDS] == [28, 28, 28, 30, 30]
    assert [default_policy.max_renewals(kind) for kind in KINDS] == [2, 2, 2, 3, 2]
    assert [default_policy.max_active_loans(kind) for kind in KINDS] == [1, 1, 1, 1, 1]
    assert default_policy.total_active_loan_limit == 2
    assert default_policy.waitlist_hold_days == 3
    assert default_policy.recent_loss_review_months == 6
    rules = default_policy.rules
    assert all(getattr(rules, name).enabled for name in type(rules).model_fields)


@pytest.mark.parametrize("method", ["loan_period_days", "max_renewals", "max_active_loans"])
def test_per_kind_lookups_refuse_an_unknown_kind(default_policy: Policy, method: str) -> None:
    with pytest.raises(UnknownKindError, match="'scooter'"):
        getattr(default_policy, method)("scooter")


def test_a_path_overrides_the_default(write_policy: Callable[[str], Path]) -> None:
    path = write_policy(edited_default(('version = "default-2025.1"', 'version = "office-7"')))
    assert load_policy(path).version == "office-7"
    assert load_policy(str(path)).version == "office-7"
    assert load_policy(path).source == str(path)


def test_policy_text_can_be_checked_without_a_file() -> None:
    policy = load_policy_text(DEFAULT_POLICY_TEXT)
    assert policy.model_dump(exclude={"source"}) == load_policy().model_dump(exclude={"source"})


def test_custom_policy_changes_periods_limits_questions_and_rules(
    policy_from_text: Callable[[str], Policy],
) -> None:
    text = edited_default(
        ('version = "default-2025.1"', 'version = "pilot-2"'),
        ("waitlist_hold_days = 3", "waitlist_hold_days = 5"),
        ("[loan_period_days]\nlaptop = 28", "[loan_period_days]\nlaptop = 56"),
        ("[max_renewals]\nlaptop = 2", "[max_renewals]\nlaptop = 0"),
        ("[active_loan_limits]\nlaptop = 1", "[active_loan_limits]\nlaptop = 3"),
        ("total = 2", "total = 4"),
        ("within_months = 6", "within_months = 12"),
        (
            "[rules.overdue_loan]\nenabled = true",
            "[rules.overdue_loan]\nenabled = false",
        ),
        (
            'referred_by_practitioner = "Have they been referred by their probation practitioner?"',
            'referred_by_practitioner = "Referred by their practitioner?"\n'
            'wants_training = "Would they like digital skills training?"',
        ),
    )
    policy = policy_from_text(text)
    assert policy.version == "pilot-2"
    assert policy.waitlist_hold_days == 5
    assert policy.loan_period_days("laptop") == 56
    assert policy.loan_period_days("phone") == 28
    assert policy.max_renewals("laptop") == 0
    assert policy.max_active_loans("laptop") == 3
    assert policy.total_active_loan_limit == 4
    assert policy.recent_loss_review_months == 12
    assert policy.rules.overdue_loan.enabled is False
    assert list(policy.questions) == [*DEFAULT_QUESTIONS, "wants_training"]
    assert policy.questions["referred_by_practitioner"] == "Referred by their practitioner?"


def test_the_example_error_reads_exactly_as_documented() -> None:
    text = edited_default(("laptop = 28", "laptop = -28"))
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text, "policy.toml")
    line = line_number(text, "laptop = -28")
    assert str(raised.value) == (
        f"policy.toml line {line}: loan_period_days.laptop: must be a positive whole number of days"
    )
    [problem] = raised.value.problems
    assert (problem.line, problem.key) == (line, "loan_period_days.laptop")


# Each case: an edit to the default policy, the text of the line the error
# must point at (None: line 1, for a key missing at the top), the dotted key
# it must name, and part of its message.
BAD_POLICIES = {
    "syntax error": (
        ("laptop = 28", "laptop = "),
        "laptop = ",
        None,
        "not valid TOML",
    ),
    "missing version": (
        ('version = "default-2025.1"\n', ""),
        None,
        "version",
        "missing; expected a string",
    ),
    "version not a string": (
        ('version = "default-2025.1"', "version = 2025"),
        "version = 2025",
        "version",
        "must be a string naming this version of the policy",
    ),
    "period of the wrong type": (
        ("laptop = 28", 'laptop = "28"'),
        'laptop = "28"',
        "loan_period_days.laptop",
        "must be a positive whole number of days",
    ),
    "negative period": (
        ("sim = 30", "sim = -30"),
        "sim = -30",
        "loan_period_days.sim",
        "must be a positive whole number of days",
    ),
    "zero period": (
        ("phone = 28", "phone = 0"),
        "phone = 0",
        "loan_period_days.phone",
        "must be a positive whole number of days",
    ),
    "fractional period": (
        ("tablet = 28", "tablet = 28.5"),
        "tablet = 28.5",
        "loan_period_days.tablet",
        "must be a positive whole number of days",
    ),
    "boolean period": (
        ("hotspot = 30", "hotspot = true"),
        "hotspot = true",
        "loan_period_days.hotspot",
        "must be a positive whole number of days",
    ),
    "unknown kind": (
        ("[loan_period_days]\n", "[loan_period_days]\nscooter = 14\n"),
        "scooter = 14",
        "loan_period_days.scooter",
        "unknown kind; expected one of: laptop, phone, tablet, sim, hotspot",
    ),
    "kind left out": (
        ("hotspot = 30\n", ""),
        "[loan_period_days]",
        "loan_period_days.hotspot",
        "missing; expected a positive whole number of days",
    ),
    "negative renewals": (
        ("sim = 3\n", "sim = -1\n"),
        "sim = -1",
        "max_renewals.sim",
        "must be a whole number of renewals, 0 or more",
    ),
    "negative total limit": (
        ("total = 2", "total = -2"),
        "total = -2",
        "active_loan_limits.total",
        "must be a whole number of loans, 0 or more",
    ),
    "unknown top-level key": (
        ("waitlist_hold_days = 3", "waitlist_hold_days = 3\nwaitlist_days = 3"),
        "waitlist_days = 3",
        "waitlist_days",
        "unknown key",
    ),
    "zero hold days": (
        ("waitlist_hold_days = 3", "waitlist_hold_days = 0"),
        "waitlist_hold_days = 0",
        "waitlist_hold_days",
        "must be a positive whole number of days",
    ),
    "question key not plain": (
        ('has_home_internet = "Do', '"Has-Home-Internet" = "Do'),
        '"Has-Home-Internet" = ',
        "questions.Has-Home-Internet",
        "lower-case letters, digits and _",
    ),
    "empty question": (
        ('can_afford_data = "Can they afford mobile data?"', 'can_afford_data = ""'),
        'can_afford_data = ""',
        "questions.can_afford_data",
        "must be the question's text",
    ),
    "rule switch not a boolean": (
        ("[rules.total_limit]\nenabled = true", '[rules.total_limit]\nenabled = "yes"'),
        'enabled = "yes"',
        "rules.total_limit.enabled",
        "must be true or false",
    ),
    "device restriction turned off": (
        (
            "[rules.device_restriction]\nenabled = true",
            "[rules.device_restriction]\nenabled = false  # no",
        ),
        "enabled = false  # no",
        "rules.device_restriction.enabled",
        "licence condition and is always on",
    ),
    "unknown rule": (
        ("[rules.need]\n", '[rules.curfew]\nenabled = true\nmessage = "x"\n\n[rules.need]\n'),
        "[rules.curfew]",
        "rules.curfew",
        "unknown rule",
    ),
    "rule left out": (
        (
            '[rules.overdue_loan]\nenabled = true\n# {count}\nmessage = "An overdue loan is '
            'outstanding ({count} overdue)"\n',
            "",
        ),
        "[rules.recipient_active]",
        "rules.overdue_loan",
        "missing; expected a table [rules.overdue_loan]",
    ),
    "zero review months": (
        ("within_months = 6", "within_months = 0"),
        "within_months = 0",
        "rules.recent_loss.within_months",
        "must be a positive whole number of months",
    ),
    "unknown placeholder": (
        ("({count} overdue)", "({overdue} overdue)"),
        "({overdue} overdue)",
        "rules.overdue_loan.message",
        "unknown placeholder {overdue}; placeholders it may use: {count}",
    ),
    "unmatched brace": (
        ('limit {limit})"\n\n[rules.total_limit]', 'limit {limit)"\n\n[rules.total_limit]'),
        "limit {limit)",
        "rules.kind_limit.message",
        "unmatched { or }",
    ),
    "bad format spec": (
        ("({count} overdue)", "({count:q} overdue)"),
        "({count:q} overdue)",
        "rules.overdue_loan.message",
        "cannot be filled in",
    ),
    "placeholder where none is allowed": (
        ('"The recipient\'s record is closed"', '"Record {kind} closed"'),
        "Record {kind} closed",
        "rules.recipient_active.message",
        "placeholders it may use: none",
    ),
    "need shown by an unknown fact": (
        (
            "laptop = { has_suitable_device = false,",
            "laptop = { owns_laptop = false,",
        ),
        "laptop = { owns_laptop",
        "rules.need.shown_by.laptop.owns_laptop",
        "unknown fact; the policy's questions are: has_suitable_device",
    ),
    "need answer not a boolean": (
        ("phone = { has_suitable_device = false,", 'phone = { has_suitable_device = "no",'),
        'phone = { has_suitable_device = "no"',
        "rules.need.shown_by.phone.has_suitable_device",
        "must be true or false",
    ),
    "need shown by opposite answers": (
        (
            "hotspot = { has_home_internet = false,",
            "hotspot = { has_home_internet = true,",
        ),
        "hotspot = { has_home_internet = true",
        "rules.need.shown_by.hotspot.has_home_internet",
        "shows need when true here but when false for another kind",
    ),
    "need shown by nothing": (
        (
            "tablet = { has_suitable_device = false, referred_by_practitioner = true }",
            "tablet = {}",
        ),
        "tablet = {}",
        "rules.need.shown_by.tablet",
        "at least one answer that shows need",
    ),
    "need for a kind not a table": (
        (
            "tablet = { has_suitable_device = false, referred_by_practitioner = true }",
            'tablet = "has_suitable_device"',
        ),
        'tablet = "has_suitable_device"',
        "rules.need.shown_by.tablet",
        "must be a table",
    ),
    "need without its reason": (
        ('can_afford_data = "Cannot afford data"\n', ""),
        "[rules.need.shown_messages]",
        "rules.need.shown_messages.can_afford_data",
        "missing; expected the reason given",
    ),
}


@pytest.mark.parametrize(
    ("edit", "line_text", "key", "message"), BAD_POLICIES.values(), ids=BAD_POLICIES.keys()
)
def test_a_bad_policy_file_names_the_line_and_key(
    write_policy: Callable[[str], Path],
    edit: tuple[str, str],
    line_text: str | None,
    key: str | None,
    message: str,
) -> None:
    text = edited_default(edit)
    path = write_policy(text)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    line = 1 if line_text is None else line_number(text, line_text)
    prefix = f"{path} line {line}: " + (f"{key}: " if key else "")
    assert str(raised.value).startswith(prefix), str(raised.value)
    assert message in str(raised.value)
    assert len(raised.value.problems) == 1, "one mistake, one problem"


def test_every_problem_is_reported_at_once() -> None:
    text = edited_default(
        ("laptop = 28", "laptop = 0"),
        ("sim = 3\n", "sim = -1\n"),
        ("within_months = 6", 'within_months = "six"'),
    )
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text, "policy.toml")
    assert [(problem.key, problem.line) for problem in raised.value.problems] == [
        ("loan_period_days.laptop", line_number(text, "laptop = 0")),
        ("max_renewals.sim", line_number(text, "sim = -1")),
        ("rules.recent_loss.within_months", line_number(text, 'within_months = "six"')),
    ]
    assert str(raised.value).count("\n") == 2


def test_a_syntax_error_gives_tomllib_line_and_column() -> None:
    text = edited_default(("[max_renewals]", "[max_renewals"))
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text, "policy.toml")
    line = line_number(text, "[max_renewals")
    assert str(raised.value).startswith(f"policy.toml line {line}: not valid TOML (column ")


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyError, match=r"nowhere\.toml: cannot read the policy file"):
        load_policy(path)


def test_a_file_that_is_not_text_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b'version = "\xff"\n')
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(path)


def test_lines_are_found_for_dotted_keys_and_past_multiline_strings() -> None:
    # The same rule written another legal way: dotted keys under [rules], and a
    # multi-line message whose text looks like the faulty key. Neither may
    # mislead the line finder.
    original = (
        '[rules.recipient_active]\nenabled = true\nmessage = "The recipient\'s record is closed"\n'
    )
    rewritten = (
        "[rules]\n"
        "recipient_active.message = '''\n"
        "recipient_active.enabled = true\n"
        "'''\n"
        "recipient_active . enabled = 1\n"
    )
    text = edited_default((original, rewritten))
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text, "policy.toml")
    [problem] = raised.value.problems
    assert problem.key == "rules.recipient_active.enabled"
    assert problem.line == line_number(text, "recipient_active . enabled = 1")
