"""The policy file's `[messages]` table drives the sweep, through the scheduler's job (what
`lending reminders run` and the scheduler run), on both databases."""

from datetime import date, timedelta

import pytest

from lending.scheduler import text_messages_job
from tests.eligibility.eligibility_policy_texts import edited_default
from tests.lending.test_loans_helpers import LONDON
from tests.lending.test_messages import lend, moment, office, outbox  # noqa: F401


def job_with_policy(engine, settings, tmp_path, *replacements):
    path = tmp_path / "policy.toml"
    path.write_text(edited_default(*replacements), encoding="utf-8")
    return text_messages_job(engine, settings.model_copy(update={"policy_file": str(path)}))


def reminders(engine, loan_id: int) -> list[tuple[str, date]]:
    return [(m.kind, m.created_at.astimezone(LONDON).date())
            for m in outbox(engine, loan_id=loan_id) if m.kind != "loan_receipt"]


@pytest.mark.parametrize("switched_off", [False, True])
def test_a_policy_with_due_soon_off_sends_no_due_soon_text(
        client, staff, engine, office, settings, tmp_path, switched_off):  # noqa: F811
    loan = lend(client, staff)
    due = date.fromisoformat(loan["due_on"])
    run = job_with_policy(engine, settings, tmp_path,
                          *([("due_soon = true", "due_soon = false")] if switched_off else []))
    for day in (due - timedelta(days=2), due - timedelta(days=1), due):
        run(moment(day, sending=False))
    kinds = [kind for kind, _ in reminders(engine, loan["id"])]
    assert kinds == (["due_today"] if switched_off else ["due_soon", "due_today"])


def test_an_offset_changed_moves_the_text(client, staff, engine, office, settings,  # noqa: F811
                                          tmp_path):
    loan = lend(client, staff)
    due = date.fromisoformat(loan["due_on"])
    default = job_with_policy(engine, settings, tmp_path)
    default(moment(due - timedelta(days=4), sending=False))
    assert reminders(engine, loan["id"]) == []  # two days before, by default
    earlier = job_with_policy(engine, settings, tmp_path,
                              ("due_soon_days_before = 2", "due_soon_days_before = 4"),
                              ("overdue_days_after = 1", "overdue_days_after = 3"))
    earlier(moment(due - timedelta(days=4), sending=False))
    assert reminders(engine, loan["id"]) == [("due_soon", due - timedelta(days=4))]
    earlier(moment(due + timedelta(days=1), sending=False))
    earlier(moment(due + timedelta(days=2), sending=False))
    assert [kind for kind, _ in reminders(engine, loan["id"])] == ["due_soon"]
    earlier(moment(due + timedelta(days=3), sending=False))
    assert reminders(engine, loan["id"])[-1] == ("overdue", due + timedelta(days=3))


def test_a_bad_messages_table_stops_the_job_naming_line_and_key(engine, settings, tmp_path):
    from eligibility import PolicyError
    with pytest.raises(PolicyError, match=r"policy.toml line \d+: messages.overdue_days_after"):
        job_with_policy(engine, settings, tmp_path,
                        ("overdue_days_after = 1", "overdue_days_after = -1"))
