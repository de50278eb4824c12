"""Low stock in the policy: the optional `[stock]` table the manager reports read."""

import pytest

from eligibility import Policy, PolicyError, StockPolicy, UnknownKindError, load_policy_text
from tests.eligibility.eligibility_policy_texts import DEFAULT_POLICY_TEXT, edited_default

THRESHOLD = "low_stock_threshold = 3\n"


def test_the_default_flags_fewer_than_three_of_any_kind(default_policy: Policy) -> None:
    assert default_policy.stock == StockPolicy(low_stock_threshold=3, low_stock_by_kind={})
    assert [default_policy.stock.threshold(kind) for kind in ("laptop", "sim")] == [3, 3]


def test_a_kind_may_have_its_own_threshold() -> None:
    policy = load_policy_text(edited_default((THRESHOLD, "low_stock_threshold = 2\n"
                                              "[stock.low_stock_by_kind]\nsim = 10\n"
                                              "hotspot = 0\n")))
    assert policy.stock.threshold("sim") == 10 and policy.stock.threshold("hotspot") == 0
    assert policy.stock.threshold("laptop") == 2
    with pytest.raises(UnknownKindError):
        policy.stock.threshold("drone")


def test_a_policy_without_a_stock_table_gets_the_defaults(default_policy: Policy) -> None:
    text = DEFAULT_POLICY_TEXT.replace("\n[stock]\n" + THRESHOLD, "\n")
    assert "\n[stock]" not in text
    assert load_policy_text(text).stock == default_policy.stock


@pytest.mark.parametrize(("new", "keys", "words"), [
    ("low_stock_threshold = -1\n", ["stock.low_stock_threshold"], "0 or more"),
    ("low_stock_threshold = true\n", ["stock.low_stock_threshold"], "whole number"),
    ("low_stok = 3\n", ["stock.low_stok", "stock.low_stock_threshold"], "unknown key"),
    ("low_stock_threshold = 3\nlow_stock_by_kind = 4\n", ["stock.low_stock_by_kind"],
     "must be a table"),
    ("low_stock_threshold = 3\n[stock.low_stock_by_kind]\ndrone = 2\n",
     ["stock.low_stock_by_kind.drone"], "unknown kind"),
    ("low_stock_threshold = 3\n[stock.low_stock_by_kind]\nsim = \"ten\"\n",
     ["stock.low_stock_by_kind.sim"], "whole number of devices"),
])
def test_a_bad_stock_table_names_its_line_and_key(new, keys, words) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(edited_default((THRESHOLD, new)))
    problems = caught.value.problems
    assert [p.key for p in problems] == keys, problems
    assert words in problems[0].message
    assert all(p.line is not None for p in problems)
