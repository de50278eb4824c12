"""Turns the text of a policy file into a checked `Policy`, or a `PolicyError`.

The whole file is checked before anything is returned, and every problem is
reported at once with its line and dotted key, so that whoever edits the
policy can fix it in one pass rather than one error per restart.
"""

import re
import string
import tomllib
from datetime import date
from typing import Any

from eligibility.errors import PolicyError, PolicyProblem
from eligibility.schemas import (
    KINDS,
    MESSAGE_KINDS,
    DataPolicy,
    MessagesPolicy,
    NeedRule,
    Policy,
    RecentLossRule,
    Rule,
    Rules,
    StockPolicy,
)
from eligibility.toml_lines import KeyPath, key_lines, line_of

Table = dict[str, Any]

# Fact keys travel through JSON, forms and the database, so keep them plain.
_FACT_KEY = re.compile(r"[a-z][a-z0-9_]*")

# Names each message may use, with a sample value to try the message out at
# load time: a bad template must fail here, not in front of a recipient.
_PLACEHOLDER_SAMPLES: dict[str, object] = {
    "kind": "laptop",
    "active": 1,
    "limit": 1,
    "count": 1,
    "lost_on": date(2000, 1, 1),
    "months": 6,
    "fact": "has_home_internet",
    "question": "Do they have internet access at home?",
    "given": 1,
    "days": 30,
}
_RULE_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "recipient_active": (),
    "device_restriction": (),
    "kind_limit": ("kind", "active", "limit"),
    "total_limit": ("active", "limit"),
    "overdue_loan": ("count",),
    "recent_loss": ("lost_on", "months"),
    "need": ("kind",),
}
_RULE_EXTRA_KEYS: dict[str, tuple[str, ...]] = {
    "recent_loss": ("within_months",),
    "need": ("missing_message", "shown_by", "shown_messages"),
}
_NEED_MISSING_PLACEHOLDERS = ("fact", "question")
_TOP_LEVEL_KEYS = (
    "version",
    "waitlist_hold_days",
    "questions",
    "loan_period_days",
    "max_renewals",
    "active_loan_limits",
    "rules",
    "data",
    "skills_question",
    "messages",
    "stock",
)
_DATA_KEYS = ("shown_by", "no_need_message", "limit", "within_days", "limit_message",
              "restriction_forbids_data", "restriction_message", "restriction_allowed_message")
_STOCK_KEYS = ("low_stock_threshold", "low_stock_by_kind")
_TOTAL = "total"
# [messages]: whole days, and how far from the date a text may go.
_MESSAGE_OFFSETS = ("due_soon_days_before", "overdue_days_after", "final_overdue_days_after",
                    "plan_ending_days_before")
_MAX_MESSAGE_DAYS = 60


def parse_policy(text: str, source: str) -> Policy:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError([_syntax_problem(source, error)]) from None
    reader = _PolicyReader(source, key_lines(text))
    policy = reader.read(document)
    if policy is None:
        raise PolicyError(reader.problems)
    return policy


def _syntax_problem(source: str, error: tomllib.TOMLDecodeError) -> PolicyProblem:
    # tomllib puts the position at the end of its message: "... (at line 3, column 7)".
    match = re.fullmatch(r"(?s)(.*) \(at line (\d+), column (\d+)\)", str(error))
    if match is None:
        return PolicyProblem(source, None, None, f"not valid TOML: {error}")
    reason, line, column = match.groups()
    return PolicyProblem(source, int(line), None, f"not valid TOML (column {column}): {reason}")


class _PolicyReader:
    """Reads a parsed policy document, collecting problems instead of stopping at the first."""

    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[PolicyProblem] = []

    def read(self, document: Table) -> Policy | None:
        self.reject_unknown_keys(document, (), _TOP_LEVEL_KEYS, "key")
        version = self.text(document, ("version",), "a string naming this version of the policy")
        waitlist_hold_days = self.whole_number(
            document, ("waitlist_hold_days",), 1, "a positive whole number of days"
        )
        questions = self.questions(document)
        loan_periods = self.per_kind_numbers(
            document, "loan_period_days", 1, "a positive whole number of days"
        )
        renewal_limits = self.per_kind_numbers(
            document, "max_renewals", 0, "a whole number of renewals, 0 or more"
        )
        active_loan_limits = self.per_kind_numbers(
            document,
            "active_loan_limits",
            0,
            "a whole number of loans, 0 or more",
            also_allowed=(_TOTAL,),
        )
        rules = self.rules(document, questions)
        data = self.data(document, questions, rules)
        # Optional: asked at the desk with each loan, and recorded on it.
        skills_question = (self.text(document, ("skills_question",), "the question's text")
                           if "skills_question" in document else None)
        messages = self.messages(document)
        stock = self.stock(document)
        if self.problems:
            return None
        assert active_loan_limits is not None  # no problems means every part was read
        total_active_loan_limit = active_loan_limits.pop(_TOTAL)
        return Policy(
            version=version,
            source=self.source,
            waitlist_hold_days=waitlist_hold_days,
            questions=questions,
            loan_periods=loan_periods,
            renewal_limits=renewal_limits,
            active_loan_limits=active_loan_limits,
            total_active_loan_limit=total_active_loan_limit,
            rules=rules,
            data=data,
            skills_question=skills_question,
            messages=messages,
            stock=stock,
        )

    # --- the parts of a policy ---

    def data(self, document: Table, questions: dict[str, str] | None,
             rules: Rules | None) -> DataPolicy | None:
        """The optional `[data]` table (data vouchers); when present, every key is required."""
        if "data" not in document:
            return DataPolicy()
        path = ("data",)
        table = self.table(document, path)
        if table is None:
            return None
        self.reject_unknown_keys(table, path, _DATA_KEYS, "key")
        shown_by = self.table(table, path + ("shown_by",))
        if shown_by is not None:
            if not shown_by:
                self.problem(path + ("shown_by",), "must list at least one answer that shows "
                             "need, e.g. { can_afford_data = false }")
            for fact, answer in shown_by.items():
                fact_path = path + ("shown_by", fact)
                if questions is not None and fact not in questions:
                    self.problem(fact_path, _unknown_fact_message(questions))
                elif not isinstance(answer, bool):
                    self.problem(fact_path, "must be true or false: the answer that shows need")
                elif rules is not None and fact not in rules.need.shown_messages:
                    self.problem(fact_path, "has no reason in [rules.need.shown_messages]: "
                                 "add the reason given when this answer shows need")
        no_need_message = self.template(table, path + ("no_need_message",), ())
        limit = self.whole_number(table, path + ("limit",), 1,
                                  "a positive whole number of vouchers")
        within_days = self.whole_number(table, path + ("within_days",), 1,
                                        "a positive whole number of days")
        limit_message = self.template(table, path + ("limit_message",),
                                      ("given", "limit", "days"))
        forbids = self.flag(table, path + ("restriction_forbids_data",))
        restriction_message = self.template(table, path + ("restriction_message",), ())
        allowed_message = self.template(table, path + ("restriction_allowed_message",), ())
        if self.problems:
            return None
        return self.build(DataPolicy, shown_by=dict(shown_by),
                          no_need_message=no_need_message, limit=limit,
                          within_days=within_days, limit_message=limit_message,
                          restriction_forbids_data=forbids,
                          restriction_message=restriction_message,
                          restriction_allowed_message=allowed_message)

    def messages(self, document: Table) -> MessagesPolicy | None:
        """The optional `[messages]` table (text messages): the reminders' offsets in whole
        days, all required when the table is there, and `[messages.send]`, each kind on or
        off (a kind left out is sent)."""
        if "messages" not in document:
            return MessagesPolicy()
        path = ("messages",)
        table = self.table(document, path)
        if table is None:
            return None
        self.reject_unknown_keys(table, path, _MESSAGE_OFFSETS + ("send",), "key")
        requirement = f"a whole number of days from 1 to {_MAX_MESSAGE_DAYS}"
        offsets: dict[str, int | None] = {}
        for key in _MESSAGE_OFFSETS:
            days = self.whole_number(table, path + (key,), 1, requirement)
            if days is not None and days > _MAX_MESSAGE_DAYS:
                self.problem(path + (key,), f"must be {requirement}")
                days = None
            offsets[key] = days
        overdue, final = offsets["overdue_days_after"], offsets["final_overdue_days_after"]
        if overdue is not None and final is not None and final <= overdue:
            self.problem(path + ("final_overdue_days_after",),
                         f"must be more than overdue_days_after ({overdue}): the final "
                         "reminder comes after the first")
            offsets["final_overdue_days_after"] = None
        send: dict[str, bool] = {}
        if "send" in table:
            send_table = self.table(table, path + ("send",))
            if send_table is None:
                return None
            self.reject_unknown_keys(send_table, path + ("send",), MESSAGE_KINDS, "kind of text")
            for kind in send_table:
                if kind in MESSAGE_KINDS:
                    on = self.flag(send_table, path + ("send", kind))
                    if on is not None:
                        send[kind] = on
        if self.problems:
            return None
        return self.build(MessagesPolicy, send=send, **offsets)
    def stock(self, document: Table) -> StockPolicy | None:
        """The optional `[stock]` table (low stock in the reports): a threshold for every
        kind, and optionally `[stock.low_stock_by_kind]` for particular kinds."""
        if "stock" not in document:
            return StockPolicy()
        path = ("stock",)
        table = self.table(document, path)
        if table is None:
            return None
        self.reject_unknown_keys(table, path, _STOCK_KEYS, "key")
        requirement = "a whole number of devices, 0 or more"
        threshold = self.whole_number(table, path + ("low_stock_threshold",), 0, requirement)
        by_kind: dict[str, int] = {}
        if "low_stock_by_kind" in table:
            kinds_path = path + ("low_stock_by_kind",)
            kinds = self.table(table, kinds_path)
            if kinds is None:
                return None
            self.reject_unknown_keys(kinds, kinds_path, KINDS, "kind")
            for kind in kinds:
                if kind in KINDS:
                    number = self.whole_number(kinds, kinds_path + (kind,), 0, requirement)
                    if number is not None:
                        by_kind[kind] = number
        if threshold is None or len(by_kind) != len(table.get("low_stock_by_kind", {})):
            return None
        return StockPolicy(low_stock_threshold=threshold, low_stock_by_kind=by_kind)

    def questions(self, document: Table) -> dict[str, str] | None:
        table = self.table(document, ("questions",))
        if table is None:
            return None
        questions: dict[str, str] = {}
        for fact in table:
            path = ("questions", fact)
            if not _FACT_KEY.fullmatch(fact):
                self.problem(path, "a fact's key must be lower-case letters, digits and _")
            elif (question := self.text(table, path, "the question's text")) is not None:
                questions[fact] = question
        # Later checks compare facts against these; a half-read table would add
        # "unknown fact" noise on top of the real problem.
        return questions if len(questions) == len(table) else None

    def per_kind_numbers(
        self,
        document: Table,
        name: str,
        minimum: int,
        requirement: str,
        also_allowed: tuple[str, ...] = (),
    ) -> dict[str, int] | None:
        table = self.table(document, (name,))
        if table is None:
            return None
        keys = KINDS + also_allowed
        self.reject_unknown_keys(table, (name,), keys, "kind" if not also_allowed else "key")
        numbers: dict[str, int] = {}
        for key in keys:
            number = self.whole_number(table, (name, key), minimum, requirement)
            if number is not None:
                numbers[key] = number
        return numbers if len(numbers) == len(keys) else None

    def rules(self, document: Table, questions: dict[str, str] | None) -> Rules | None:
        table = self.table(document, ("rules",))
        if table is None:
            return None
        self.reject_unknown_keys(table, ("rules",), tuple(_RULE_PLACEHOLDERS), "rule")
        rules: dict[str, Rule | None] = {}
        for name, placeholders in _RULE_PLACEHOLDERS.items():
            path = ("rules", name)
            rule_table = self.table(table, path)
            if rule_table is None:
                rules[name] = None
                continue
            allowed = ("enabled", "message") + _RULE_EXTRA_KEYS.get(name, ())
            self.reject_unknown_keys(rule_table, path, allowed, "key")
            enabled = self.flag(rule_table, path + ("enabled",))
            message = self.template(rule_table, path + ("message",), placeholders)
            if name == "device_restriction" and enabled is False:
                self.problem(
                    path + ("enabled",),
                    "cannot be false: this rule enforces a licence condition and is always on",
                )
            if name == "recent_loss":
                within_months = self.whole_number(
                    rule_table, path + ("within_months",), 1, "a positive whole number of months"
                )
                rules[name] = self.build(
                    RecentLossRule, enabled=enabled, message=message, within_months=within_months
                )
            elif name == "need":
                rules[name] = self.need_rule(rule_table, enabled, message, questions)
            else:
                rules[name] = self.build(Rule, enabled=enabled, message=message)
        if None in rules.values():
            return None
        return Rules.model_validate(rules)

    def need_rule(
        self,
        rule_table: Table,
        enabled: bool | None,
        message: str | None,
        questions: dict[str, str] | None,
    ) -> NeedRule | None:
        path = ("rules", "need")
        missing_message = self.template(
            rule_table, path + ("missing_message",), _NEED_MISSING_PLACEHOLDERS
        )
        shown_by = self.need_shown_by(rule_table, questions)
        shown_messages = self.need_shown_messages(rule_table, questions, shown_by)
        return self.build(
            NeedRule,
            enabled=enabled,
            message=message,
            missing_message=missing_message,
            shown_by=shown_by,
            shown_messages=shown_messages,
        )

    def need_shown_by(
        self, rule_table: Table, questions: dict[str, str] | None
    ) -> dict[str, dict[str, bool]] | None:
        path = ("rules", "need", "shown_by")
        table = self.table(rule_table, path)
        if table is None:
            return None
        self.reject_unknown_keys(table, path, KINDS, "kind")
        shown_by: dict[str, dict[str, bool]] = {}
        # A fact's shown message describes one answer ("No home internet"), so
        # a fact must show need by the same answer for every kind.
        need_answer_by_fact: dict[str, bool] = {}
        sound = True
        for kind in KINDS:
            kind_path = path + (kind,)
            answers = self.table(table, kind_path)
            if answers is None:
                sound = False
                continue
            if not answers:
                self.problem(
                    kind_path,
                    "must list at least one answer that shows need, "
                    "e.g. { referred_by_practitioner = true }",
                )
                sound = False
            for fact, answer in answers.items():
                fact_path = kind_path + (fact,)
                if questions is not None and fact not in questions:
                    self.problem(fact_path, _unknown_fact_message(questions))
                    sound = False
                elif not isinstance(answer, bool):
                    self.problem(fact_path, "must be true or false: the answer that shows need")
                    sound = False
                elif need_answer_by_fact.setdefault(fact, answer) is not answer:
                    self.problem(
                        fact_path,
                        f"shows need when {_toml_bool(answer)} here but when "
                        f"{_toml_bool(not answer)} for another kind; a fact shows need by "
                        "one answer only",
                    )
                    sound = False
            shown_by[kind] = dict(answers)
        return shown_by if sound else None

    def need_shown_messages(
        self,
        rule_table: Table,
        questions: dict[str, str] | None,
        shown_by: dict[str, dict[str, bool]] | None,
    ) -> dict[str, str] | None:
        path = ("rules", "need", "shown_messages")
        table = self.table(rule_table, path)
        if table is None:
            return None
        if questions is not None:
            self.reject_unknown_keys(table, path, tuple(questions), "fact")
        messages: dict[str, str] = {}
        for fact in table:
            message = self.template(table, path + (fact,), ())
            if message is not None:
                messages[fact] = message
        facts_showing_need = dict.fromkeys(
            fact for answers in (shown_by or {}).values() for fact in answers
        )
        unexplained = [fact for fact in facts_showing_need if fact not in table]
        for fact in unexplained:
            self.problem(
                path + (fact,),
                "missing; expected the reason given when this fact's answer shows need",
            )
        return messages if not unexplained and len(messages) == len(table) else None

    # --- typed getters: each reports its own problem and returns None ---

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(
            PolicyProblem(self.source, line_of(self.lines, path), ".".join(path), message)
        )

    def present(self, parent: Table, path: KeyPath, requirement: str) -> Any | None:
        if path[-1] not in parent:
            self.problem(path, f"missing; expected {requirement}")
            return None
        return parent[path[-1]]

    def table(self, parent: Table, path: KeyPath) -> Table | None:
        value = self.present(parent, path, f"a table [{'.'.join(path)}]")
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(path, f"must be a table [{'.'.join(path)}], not a single value")
            return None
        return value

    def text(self, parent: Table, path: KeyPath, requirement: str) -> str | None:
        value = self.present(parent, path, requirement)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be {requirement}, in quotes")
            return None
        return value

    def whole_number(
        self, parent: Table, path: KeyPath, minimum: int, requirement: str
    ) -> int | None:
        value = self.present(parent, path, requirement)
        if value is None:
            return None
        # bool is an int in Python, but `true` is no number of days.
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(path, f"must be {requirement}")
            return None
        return value

    def flag(self, parent: Table, path: KeyPath) -> bool | None:
        value = self.present(parent, path, "true or false")
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problem(path, "must be true or false")
            return None
        return value

    def template(self, parent: Table, path: KeyPath, placeholders: tuple[str, ...]) -> str | None:
        message = self.text(parent, path, "the message shown to staff")
        if message is None:
            return None
        problem = _template_problem(message, placeholders)
        if problem is not None:
            self.problem(path, problem)
            return None
        return message

    def reject_unknown_keys(
        self, table: Table, path: KeyPath, allowed: tuple[str, ...], what: str
    ) -> None:
        for key in table:
            if key not in allowed:
                self.problem(
                    path + (key,), f"unknown {what}; expected one of: {', '.join(allowed)}"
                )

    def build(self, model: type, **fields: Any) -> Any | None:
        # A part whose fields could not all be read has already been reported.
        if any(value is None for value in fields.values()):
            return None
        return model(**fields)


def _template_problem(message: str, placeholders: tuple[str, ...]) -> str | None:
    usable = ", ".join("{" + name + "}" for name in placeholders) or "none"
    try:
        fields = [
            field for _, field, _, _ in string.Formatter().parse(message) if field is not None
        ]
    except ValueError:
        return "has an unmatched { or }; write {{ or }} for a literal brace"
    for field in fields:
        if field not in placeholders:
            return f"unknown placeholder {{{field}}}; placeholders it may use: {usable}"
    try:
        message.format(**{name: _PLACEHOLDER_SAMPLES[name] for name in placeholders})
    except (ValueError, KeyError, IndexError, AttributeError) as error:
        return f"cannot be filled in ({error}); placeholders it may use: {usable}"
    return None


def _unknown_fact_message(questions: dict[str, str]) -> str:
    return f"unknown fact; the policy's questions are: {', '.join(questions) or 'none'}"


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"
