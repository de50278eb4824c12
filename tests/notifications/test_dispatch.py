"""Every queued text reaches the provider exactly once, on both databases, whatever happens:
repeated passes, two dispatchers at once, errors, rate limits, a dispatcher killed mid-send."""

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from lending.audit.models import AuditEntry
from lending.db import session_for
from notifications.models import Message
from notifications.providers import make_provider
from notifications.service import LEASE, cancel_messages, dispatch, queue_message
from notifications.timing import (
    MAX_ATTEMPTS,
    RateLimit,
    parse_sending_window,
    uk_bank_holidays,
)
from tests.notifications.conftest import notify_for, twilio_for
from tests.notifications.standins import Answer

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # a Tuesday, inside the sending window
NUMBER = "+447700900123"
ROOT = Path(__file__).resolve().parents[2]


def queue(engine, count: int = 1, prefix: str = "loan", to: str = NUMBER,
          now: datetime = NOW, **extra) -> None:
    with session_for(engine, actor="test") as session:
        for index in range(count):
            queue_message(session, key=f"{prefix}:{index}:due_soon:2026-12-03", to=to,
                          language="en", kind="due_soon", body=f"Text number {index}",
                          now=now, loan_id=index, **extra)
        session.commit()


def messages(engine) -> list[Message]:
    with session_for(engine, read_only=True) as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def test_queueing_the_same_key_twice_keeps_one_text(engine):
    queue(engine, 3)
    queue(engine, 3)
    with session_for(engine) as session:
        assert not queue_message(session, key="loan:0:due_soon:2026-12-03", to=NUMBER,
                                 language="en", kind="due_soon", body="again", now=NOW)
        assert queue_message(session, key="loan:9:due_soon:2026-12-03", to=NUMBER,
                             language="cy", kind="due_soon", body="‘newydd’ – yma", now=NOW)
        session.commit()
    rows = messages(engine)
    assert len(rows) == 4
    assert rows[-1].body == "'newydd' - yma"  # typography made GSM-7
    assert len({row.reference for row in rows}) == 4


def test_dispatch_twice_sends_each_text_once(engine, notify, notify_standin):
    queue(engine, 5)
    first = dispatch(engine, notify, now=NOW)
    second = dispatch(engine, notify, now=NOW + timedelta(hours=1))
    assert (first.sent, second.sent) == (5, 0)
    assert sorted(notify_standin.bodies_to(NUMBER)) == [f"Text number {i}" for i in range(5)]
    rows = messages(engine)
    assert {row.status for row in rows} == {"sent"}
    assert {row.provider_id for row in rows} == {item["id"] for item in notify_standin.accepted}
    assert all(row.sent_at == NOW and row.attempts == 1 for row in rows)
    with session_for(engine, read_only=True) as session:  # the outbox is its own history
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_two_dispatchers_at_once_send_each_text_once(engine, notify_standin):
    queue(engine, 40)
    providers = [notify_for(notify_standin) for _ in range(2)]
    reports = []
    threads = [threading.Thread(target=lambda p=provider: reports.append(
        dispatch(engine, p, now=NOW))) for provider in providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.sent for report in reports) == 40
    references = [item["reference"] for item in notify_standin.accepted]
    assert len(references) == len(set(references)) == 40
    assert {row.status for row in messages(engine)} == {"sent"}


def test_a_500_is_looked_up_then_sent_once(engine, notify, notify_standin):
    queue(engine, 1)
    notify_standin.answer(Answer(status=500))
    report = dispatch(engine, notify, now=NOW)
    assert (report.sent, report.retrying) == (0, 1)
    [row] = messages(engine)
    assert row.status == "sending" and row.attempts == 1 and "500" in row.last_error
    assert dispatch(engine, notify, now=NOW + timedelta(seconds=10)).sent == 0  # backing off
    report = dispatch(engine, notify, now=NOW + timedelta(hours=2))
    assert report.sent == 1
    [row] = messages(engine)
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(notify_standin.accepted) == 1


def test_a_429_waits_for_the_providers_retry_time(engine, twilio, twilio_standin):
    queue(engine, 3)
    twilio_standin.answer(Answer(status=429, body={
        "code": 20429, "message": "Too Many Requests", "status": 429, "more_info": ""},
        headers={"Retry-After": "900"}))
    report = dispatch(engine, twilio, now=NOW)
    assert (report.sent, report.retrying) == (0, 1)  # a 429 ends the pass...
    # ...and nothing more goes until the provider's time is up.
    assert dispatch(engine, twilio, now=NOW + timedelta(minutes=14)).sent == 0
    assert dispatch(engine, twilio, now=NOW + timedelta(minutes=16)).sent == 3
    [first, *_] = messages(engine)
    assert first.attempts == 2 and "20429" in first.last_error
    assert sorted(twilio_standin.bodies_to(NUMBER)) == [f"Text number {i}" for i in range(3)]
    assert all(item["status_callback"] == "https://lending.example/cb"
               for item in twilio_standin.accepted)


def test_retries_stop_at_the_bound(engine, notify, notify_standin):
    queue(engine, 1)
    notify_standin.answer(*[Answer(status=429)] * MAX_ATTEMPTS)
    moment = NOW
    for _ in range(MAX_ATTEMPTS):
        dispatch(engine, notify, now=moment)
        moment += timedelta(days=1)
    [row] = messages(engine)
    assert (row.status, row.error_code, row.attempts) == (
        "failed", "retries_exhausted", MAX_ATTEMPTS)
    assert dispatch(engine, notify, now=moment).sent == 0
    assert notify_standin.accepted == []


@pytest.mark.parametrize("answer, error_code", [
    (Answer(status=400, body={"errors": [{"error": "ValidationError",
                                          "message": "phone_number Not a UK mobile number"}],
                              "status_code": 400}), "invalid_number"),
    (Answer(status=403, body={"errors": [{"error": "AuthError", "message": "Invalid token"}],
                              "status_code": 403}), "auth"),
])
def test_notify_refusals_are_never_retried(engine, notify, notify_standin, answer,
                                           error_code):
    queue(engine, 1)
    notify_standin.answer(answer)
    assert dispatch(engine, notify, now=NOW).failed == 1
    assert dispatch(engine, notify, now=NOW + timedelta(days=3)).sent == 0
    [row] = messages(engine)
    assert (row.status, row.error_code) == ("failed", error_code)


@pytest.mark.parametrize("code, error_code", [(21610, "unsubscribed"),
                                              (21211, "invalid_number")])
def test_twilio_refusals_are_never_retried(engine, twilio, twilio_standin, code, error_code):
    queue(engine, 1)
    twilio_standin.answer(Answer(status=400, body={
        "code": code, "message": "refused", "status": 400, "more_info": ""}))
    assert dispatch(engine, twilio, now=NOW).failed == 1
    assert dispatch(engine, twilio, now=NOW + timedelta(days=3)).sent == 0
    [row] = messages(engine)
    assert (row.status, row.error_code) == ("failed", error_code)


def test_a_timeout_is_looked_up_and_not_resent(engine, notify_standin):
    queue(engine, 1)
    notify_standin.answer(Answer(stall="after"))
    impatient = notify_for(notify_standin, timeout=0.5)
    report = dispatch(engine, impatient, now=NOW)
    assert report.retrying == 1
    notify_standin.release.set()
    report = dispatch(engine, impatient, now=NOW + timedelta(hours=1))
    assert (report.found, report.sent) == (1, 0)
    [row] = messages(engine)
    assert row.status == "sent" and row.provider_id == notify_standin.accepted[0]["id"]
    assert len(notify_standin.accepted) == 1


def test_nothing_is_sent_outside_the_window(engine, notify, notify_standin):
    queue(engine, 1)
    window = dict(window=parse_sending_window("09:00-20:00"), zone=ZoneInfo("Europe/London"),
                  closed_days=uk_bank_holidays("WLS"))
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    evening = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)
    christmas = datetime(2026, 12, 25, 12, 0, tzinfo=UTC)
    for moment in (sunday, evening, christmas):
        assert dispatch(engine, notify, now=moment, **window).sent == 0
    assert dispatch(engine, notify, now=NOW, **window).sent == 1


def test_cancelled_texts_are_not_sent(engine, notify, notify_standin):
    queue(engine, 3)
    with session_for(engine) as session:
        queue_message(session, key="request:7:waitlist_offer", to="+447700900555",
                      language="en", kind="waitlist_offer", body="held", now=NOW,
                      cancelled="opted_out")
        assert cancel_messages(session, "superseded", loan_id=1) == 1
        session.commit()
    assert dispatch(engine, notify, now=NOW).sent == 2
    statuses = {row.key: (row.status, row.error_code) for row in messages(engine)}
    assert statuses["loan:1:due_soon:2026-12-03"] == ("cancelled", "superseded")
    assert statuses["request:7:waitlist_offer"] == ("cancelled", "opted_out")


def test_the_rate_cap_holds_within_a_pass(engine, notify, notify_standin):
    queue(engine, 12)
    limit = RateLimit(5, 0.3)
    dispatch(engine, notify, now=NOW, rate_limit=limit)
    arrivals = notify_standin.arrivals
    assert len(arrivals) == 12
    assert all(sum(1 for later in arrivals if start <= later < start + 0.3) <= 5
               for start in arrivals)


def _run_dispatcher(database_url: str, provider: dict, moment: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.dispatch_once", database_url,
         json.dumps(provider), moment.isoformat()], cwd=ROOT)


@pytest.mark.parametrize("provider_name, stall, resent", [
    ("notify", "after", False), ("twilio", "after", False), ("notify", "before", True)])
def test_a_dispatcher_killed_mid_send_neither_loses_nor_repeats(
        engine, database_url, notify_standin, twilio_standin, provider_name, stall, resent):
    standin = notify_standin if provider_name == "notify" else twilio_standin
    settings = ({"name": "notify", "notify_api_key": standin.api_key,
                 "notify_template_id": standin.template_id,
                 "notify_base_url": standin.base_url}
                if provider_name == "notify" else
                {"name": "twilio", "twilio_account_sid": standin.account_sid,
                 "twilio_auth_token": standin.auth_token, "twilio_from": standin.sender,
                 "twilio_base_url": standin.base_url})
    # Twilio's look-up compares the provider's own clock with ours: use the real time.
    moment = datetime.now(UTC)
    queue(engine, 1, now=moment)
    standin.answer(Answer(stall=stall))
    child = _run_dispatcher(database_url, settings, moment)
    try:
        assert standin.stalled.wait(timeout=30), "the dispatcher never reached the provider"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    standin.release.set()
    [row] = messages(engine)
    assert row.status == "sending"
    provider = notify_for(standin) if provider_name == "notify" else twilio_for(standin)
    # Within the lease, the text is the dead dispatcher's: nothing happens.
    assert dispatch(engine, provider, now=moment + LEASE / 2).sent == 0
    report = dispatch(engine, provider, now=moment + LEASE + timedelta(seconds=1))
    assert (report.sent, report.found) == ((1, 0) if resent else (0, 1))
    [row] = messages(engine)
    assert len(standin.accepted) == 1
    assert row.status == "sent"
    assert row.provider_id == standin.accepted[0].get("id", standin.accepted[0].get("sid"))
    assert dispatch(engine, provider, now=moment + timedelta(days=1)).sent == 0
    assert len(standin.accepted) == 1


def test_a_dispatcher_killed_before_recording_its_batch_repeats_nothing(
        engine, database_url, notify_standin):
    """Texts accepted but not yet recorded when the dispatcher dies are found, not resent;
    the ones it never reached are sent."""
    moment = datetime.now(UTC)
    queue(engine, 5, now=moment)
    notify_standin.answer(Answer(), Answer(), Answer(stall="after"))
    child = _run_dispatcher(database_url, {
        "name": "notify", "notify_api_key": notify_standin.api_key,
        "notify_template_id": notify_standin.template_id,
        "notify_base_url": notify_standin.base_url}, moment)
    try:
        assert notify_standin.stalled.wait(timeout=30)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    notify_standin.release.set()
    assert {row.status for row in messages(engine)} == {"sending"}
    report = dispatch(engine, notify_for(notify_standin),
                      now=moment + LEASE + timedelta(seconds=1))
    assert (report.found, report.sent) == (3, 2)
    references = [item["reference"] for item in notify_standin.accepted]
    assert len(references) == len(set(references)) == 5
    assert {row.status for row in messages(engine)} == {"sent"}


def test_the_log_provider_records_and_sends_nothing(engine, caplog):
    queue(engine, 2)
    with caplog.at_level("INFO", logger="notifications"):
        report = dispatch(engine, make_provider("log"), now=NOW)
    assert report.sent == 2
    assert "Text number 1" in caplog.text
    assert {row.provider for row in messages(engine)} == {"log"}
    with pytest.raises(ValueError, match="unknown SMS provider"):
        make_provider("carrier-pigeon")
    with pytest.raises(ValueError, match="Notify API key"):
        make_provider("notify", notify_api_key="short")
