"""Exactly once at the application level, on both databases: reminders swept and sent by
`lending.messages.run_once` (what the scheduler and `lending reminders run` do) against the
local Notify stand-in, when the provider fails for a while and when passes run at once."""

from datetime import date, timedelta

from lending.messages import service as messages
from notifications.providers import LogProvider
from tests.lending.test_messages import (  # noqa: F401
    TIMING,
    lend,
    moment,
    office,
    outbox,
    sweeps_and_dispatchers_at_once,
    when_queued_may_go,
)
from tests.notifications.conftest import notify_for
from tests.notifications.standins import Answer, NotifyStandIn


def reminder_day(engine, loan: dict):
    """An allowed sending moment two days before the loan is due (or the next one), once
    the receipts written with the loans have gone, by the log provider: what is left to
    send is the reminders."""
    sent = messages.dispatch(engine, LogProvider(), TIMING, now=when_queued_may_go(engine))
    assert sent.sent == len(outbox(engine, kind="loan_receipt"))
    return moment(date.fromisoformat(loan["due_on"]) - timedelta(days=2))


def test_the_provider_answers_500_then_201_and_one_text_is_sent(
        client, staff, engine, office):  # noqa: F811
    loan = lend(client, staff)
    now = reminder_day(engine, loan)
    with NotifyStandIn() as standin:
        provider = notify_for(standin)
        standin.answer(Answer(status=500, body={
            "errors": [{"error": "Exception", "message": "Internal server error"}],
            "status_code": 500}))
        first = messages.run_once(engine, provider, TIMING, now=now)
        assert first.sweep.total == 1
        assert (first.dispatch.sent, first.dispatch.retrying) == (0, 1)
        # Backing off; then looked up at the provider (never accepted) and sent once.
        assert messages.run_once(engine, provider, TIMING,
                                 now=now + timedelta(seconds=10)).dispatch.sent == 0
        later = messages.run_once(engine, provider, TIMING, now=now + timedelta(hours=2))
        assert later.sweep.total == 0 and later.dispatch.sent == 1
        assert messages.run_once(engine, provider, TIMING,
                                 now=now + timedelta(hours=3)).dispatch.sent == 0
        provider.close()
        assert standin.problems == []
        [row] = [m for m in outbox(engine, loan_id=loan["id"]) if m.kind != "loan_receipt"]
        assert (row.status, row.attempts) == ("sent", 2)
        assert standin.bodies_to(row.to) == [row.body]


def test_the_provider_answers_429_with_a_retry_time_and_the_text_waits_then_goes_once(
        client, staff, engine, office):  # noqa: F811
    loan = lend(client, staff)
    now = reminder_day(engine, loan)
    with NotifyStandIn() as standin:
        provider = notify_for(standin)
        standin.answer(Answer(status=429, body={
            "errors": [{"error": "RateLimitError",
                        "message": "Exceeded rate limit for key type LIVE of 3000 requests "
                                   "per 60 seconds"}], "status_code": 429},
            headers={"Retry-After": "900"}))
        first = messages.run_once(engine, provider, TIMING, now=now)
        assert first.sweep.total == 1
        assert (first.dispatch.sent, first.dispatch.retrying) == (0, 1)
        assert messages.run_once(engine, provider, TIMING,
                                 now=now + timedelta(minutes=14)).dispatch.sent == 0
        assert messages.run_once(engine, provider, TIMING,
                                 now=now + timedelta(minutes=16)).dispatch.sent == 1
        provider.close()
        assert standin.problems == []
        [row] = [m for m in outbox(engine, loan_id=loan["id"]) if m.kind != "loan_receipt"]
        assert (row.status, row.attempts) == ("sent", 2) and "429" in row.last_error
        assert standin.bodies_to(row.to) == [row.body]


def test_two_sweeps_and_two_dispatchers_at_once_send_each_reminder_once(
        client, staff, engine, office):  # noqa: F811
    loans = [lend(client, staff) for _ in range(12)]
    now = reminder_day(engine, loans[0])
    assert len({loan["due_on"] for loan in loans}) == 1
    with NotifyStandIn() as standin:
        providers = sweeps_and_dispatchers_at_once(engine, standin, now)
        # The sweep run twice more, and a last pass: nothing new, nothing again.
        for _ in range(2):
            assert messages.run_once(engine, providers[0], TIMING, now=now).sweep.total == 0
        for provider in providers:
            provider.close()
        assert standin.problems == []
        sent_to = sorted(item["to"] for item in standin.accepted)
    reminders = [m for m in outbox(engine) if m.kind != "loan_receipt"]
    assert len(reminders) == len(loans)
    assert {m.status for m in reminders} == {"sent"}
    assert len(sent_to) == len(set(sent_to)) == len(loans)
