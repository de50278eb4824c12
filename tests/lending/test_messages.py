"""Text messages in the application: the sweep, the dispatch, the provider routes, the
outbox list and `lending reminders run`, on both databases, against local stand-ins."""

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import delete, select
from twilio.request_validator import RequestValidator

from eligibility import load_policy, load_policy_text
from lending.db import make_engine, session_for
from lending.loans.schemas import LoanCreate
from lending.loans.service import issue_loan
from lending.messages import service as messages
from lending.recipients.models import Recipient
from notifications.models import Message, Reply
from notifications.providers import LogProvider
from notifications.timing import next_allowed_time
from tests.eligibility.eligibility_policy_texts import edited_default
from tests.lending.test_loans_helpers import (
    API,
    LONDON,
    issue,
    make_device,
    make_recipient,
)
from tests.notifications.conftest import notify_for
from tests.notifications.standins import NotifyStandIn

TIMING = messages.Timing(LONDON, messages.parse_sending_window("09:00-20:00"))
_mobiles = iter(range(100, 999))


def mobile() -> str:
    return f"+447400900{next(_mobiles):03d}"


def moment(day: date, clock: str = "10:00", sending: bool = True) -> datetime:
    """`clock` on `day` in London; with `sending`, moved to the next time texts may go."""
    local = datetime.fromisoformat(f"{day.isoformat()} {clock}").replace(tzinfo=LONDON)
    if not sending:
        return local
    return next_allowed_time(local, LONDON, TIMING.window, messages._holidays("ENG"))


def lend(client, staff, kind="laptop", **recipient) -> dict:
    recipient.setdefault("mobile", mobile())
    rid = make_recipient(client, staff, **recipient)
    response = issue(client, staff, make_device(client, staff, kind), rid)
    assert response.status_code == 201, response.text
    return response.json()


def outbox(engine, **filters) -> list[Message]:
    with session_for(engine, read_only=True) as session:
        query = select(Message).order_by(Message.id)
        for name, value in filters.items():
            query = query.where(getattr(Message, name) == value)
        return list(session.scalars(query))


def when_queued_may_go(engine) -> datetime:
    """The moment every text queued so far may go. A change texts at its own time, the
    real one, so a test sends at this moment rather than at one it chose."""
    return max(m.next_attempt_at for m in outbox(engine, status="queued"))


def test_a_receipt_is_written_with_the_loan_and_sent_once(client, staff, engine, office):
    loan = lend(client, staff)
    # In the loan's own transaction: there before any sweep has run.
    assert [(m.kind, m.status) for m in outbox(engine, loan_id=loan["id"])] == [
        ("loan_receipt", "queued")]
    now = when_queued_may_go(engine)
    first = messages.run_once(engine, LogProvider(), TIMING, now=now)
    again = messages.run_once(engine, LogProvider(), TIMING, now=now)
    assert first.sweep.total == 0 and again.sweep.total == 0
    rows = outbox(engine, loan_id=loan["id"])
    assert [(m.kind, m.status, m.key) for m in rows] == [
        ("loan_receipt", "sent", f"loan:{loan['id']}:loan_receipt")]
    assert "laptop" in rows[0].body and "Reply MORE" in rows[0].body
    assert first.dispatch.sent == 1 and again.dispatch.sent == 0


@pytest.fixture
def office(client, manager) -> str:
    response = client.post(f"{API}/locations", json={"code": "LDN", "name": "Camden office"},
                           headers=manager)
    assert response.status_code == 201, response.text
    return "LDN"


def test_each_reminder_on_its_day_and_one_a_day(client, staff, engine, office):
    loan = lend(client, staff)
    due = date.fromisoformat(loan["due_on"])
    for day in (due - timedelta(days=2), due - timedelta(days=1), due,
                due + timedelta(days=1), due + timedelta(days=3), due + timedelta(days=7)):
        for _ in range(2):  # twice on each day: nothing more
            messages.sweep(engine, TIMING, now=moment(day, sending=False))
    rows = outbox(engine, loan_id=loan["id"])
    assert rows[0].kind == "loan_receipt"  # with the loan
    kinds = [(m.kind, m.key.rsplit(":", 1)[-1]) for m in rows[1:]]
    assert kinds == [
        ("due_soon", due.isoformat()), ("due_today", due.isoformat()),
        ("overdue", due.isoformat()), ("final_overdue", due.isoformat())]
    rows = outbox(engine, loan_id=loan["id"])
    assert all("Camden office" in m.body for m in rows)
    # Never two reminders on one (local) day.
    days = [m.created_at.astimezone(LONDON).date() for m in rows]
    assert len(days) == len(set(days))


def test_outside_the_sending_hours_a_text_waits(client, staff, engine, office):
    loan = lend(client, staff)
    due = date.fromisoformat(loan["due_on"])
    late = datetime.fromisoformat(f"{(due - timedelta(days=2)).isoformat()} 22:30") \
        .replace(tzinfo=LONDON)
    report = messages.run_once(engine, LogProvider(), TIMING, now=late)
    assert report.sweep.queued == {"due_soon": 1} and report.dispatch.sent == 0
    (row,) = outbox(engine, kind="due_soon")
    assert row.status == "queued"
    assert row.next_attempt_at == next_allowed_time(late, LONDON, TIMING.window,
                                                    messages._holidays("ENG"))
    assert row.next_attempt_at.astimezone(LONDON).hour == 9


def test_return_and_loss_cancel_queued_reminders(client, staff, engine, office):
    returned, lost = lend(client, staff), lend(client, staff)
    due = date.fromisoformat(returned["due_on"])
    late = datetime.fromisoformat(f"{(due - timedelta(days=2)).isoformat()} 22:30") \
        .replace(tzinfo=LONDON)
    assert messages.sweep(engine, TIMING, now=late).queued == {"due_soon": 2}
    response = client.post(f"{API}/loans/{returned['id']}/return",
                           json={"condition": "A"}, headers=staff)
    assert response.status_code == 200, response.text
    response = client.post(f"{API}/loans/{lost['id']}/lost", json={"stolen": False},
                           headers=staff)
    assert response.status_code == 200, response.text
    for loan in (returned, lost):
        (row,) = outbox(engine, loan_id=loan["id"], kind="due_soon")
        assert (row.status, row.error_code) == ("cancelled", "superseded")
    report = messages.run_once(engine, LogProvider(), TIMING,
                               now=late + timedelta(hours=12))
    # Only the survey after the return: the loans' receipts were called off with them.
    assert report.dispatch.sent == 1
    assert [m.kind for m in outbox(engine, status="sent")] == ["survey"]
    assert [m.status for m in outbox(engine, kind="due_soon")] == ["cancelled"] * 2


def test_thanks_on_return(client, staff, engine, settings, office):
    # The service's policy file switches the survey off: the thanks alone, with the return
    # (the survey thanks them otherwise).
    messages.text_with_changes(engine, settings, load_policy_text(
        edited_default(("survey = true", "survey = false"))))
    loan = lend(client, staff, language="cy")
    assert client.post(f"{API}/loans/{loan['id']}/return", json={"condition": "A"},
                       headers=staff).status_code == 200
    (row,) = outbox(engine, kind="thanks")
    assert row.language == "cy" and row.body.startswith("Diolch")
    # With the survey on, the sweep does not follow the thanks: one text after a return.
    now = moment(date.today() + timedelta(days=1))
    assert messages.sweep(engine, TIMING, now=now).total == 0
    assert outbox(engine, kind="survey") == []


def test_a_change_made_without_texting_is_texted_by_the_sweep(client, staff, engine,
                                                               settings, office):
    rid = make_recipient(client, staff, mobile=mobile())
    tag = make_device(client, staff)
    # An engine made without `text_with_changes`: its sessions carry no texting.
    bare = make_engine(settings.database_url, secret_key=settings.secret_key)
    try:
        with session_for(bare, actor="test") as session:
            (loan,) = issue_loan(session, LoanCreate(asset_tag=tag, recipient_id=rid),
                                 load_policy(), LONDON)
    finally:
        bare.dispose()
    assert outbox(engine, loan_id=loan.id) == []
    report = messages.sweep(engine, TIMING, now=datetime.now(UTC))
    assert report.queued == {"loan_receipt": 1}
    assert messages.sweep(engine, TIMING, now=datetime.now(UTC)).total == 0


def test_opted_out_and_numberless_recipients_get_nothing(client, staff, engine, office):
    opted = make_recipient(client, staff, mobile=mobile())
    with session_for(engine) as session:
        session.get(Recipient, opted).sms_opt_out = True
        session.commit()
    issue(client, staff, make_device(client, staff), opted)
    numberless = make_recipient(client, staff)
    issue(client, staff, make_device(client, staff), numberless)
    (row,) = outbox(engine)  # written with the loan, as not to be sent
    assert (row.recipient_id, row.kind, row.status, row.error_code) == (
        opted, "loan_receipt", "cancelled", "opted_out")
    report = messages.run_once(engine, LogProvider(), TIMING, now=moment(date.today()))
    assert report.sweep.total == 0 and report.dispatch.sent == 0
    # The sweep words what a change did not write the same way.
    with session_for(engine) as session:
        session.execute(delete(Message))
        session.commit()
    report = messages.sweep(engine, TIMING, now=datetime.now(UTC))
    assert report.total == 0 and report.opted_out == 1
    (row,) = outbox(engine)
    assert (row.recipient_id, row.status, row.error_code) == (
        opted, "cancelled", "opted_out")


def test_a_recipient_who_opts_out_after_the_loan_is_not_texted(client, staff, engine,
                                                                office):
    loan = lend(client, staff)
    with session_for(engine) as session:
        session.get(Recipient, loan["recipient_id"]).sms_opt_out = True
        session.commit()
    report = messages.run_once(engine, LogProvider(), TIMING, now=when_queued_may_go(engine))
    assert report.sweep.cancelled == 1 and report.dispatch.sent == 0
    (row,) = outbox(engine)
    assert (row.kind, row.status, row.error_code) == ("loan_receipt", "cancelled", "opted_out")


def test_a_phone_and_its_sim_are_reminded_once(client, staff, engine, office):
    rid = make_recipient(client, staff, mobile=mobile())
    response = issue(client, staff, make_device(client, staff, "phone"), rid,
                     sim_tag=make_device(client, staff, "sim"))
    assert response.status_code == 201, response.text
    loan = response.json()
    due = date.fromisoformat(loan["due_on"])
    sim_due = date.fromisoformat(loan["sim_loan"]["due_on"])
    messages.sweep(engine, TIMING, now=moment(date.today()))
    messages.sweep(engine, TIMING, now=moment(due - timedelta(days=2), sending=False))
    messages.sweep(engine, TIMING, now=moment(sim_due - timedelta(days=2), sending=False))
    rows = outbox(engine, recipient_id=rid)
    assert sorted((m.kind, m.loan_id) for m in rows) == [
        ("due_soon", loan["id"]), ("loan_receipt", loan["id"])]


def test_a_waitlist_offer_is_texted(client, staff, engine, office):
    rid = make_recipient(client, staff, mobile=mobile())
    response = client.post(f"{API}/waitlist", json={"recipient_id": rid, "kind": "tablet",
                                                    "location": "LDN"}, headers=staff)
    assert response.status_code == 201, response.text
    make_device(client, staff, "tablet")  # offered to the head of the queue
    request = client.get(f"{API}/waitlist/{response.json()['id']}", headers=staff).json()
    assert request["status"] == "offered"
    (row,) = outbox(engine, request_id=request["id"])  # with the offer
    report = messages.run_once(engine, LogProvider(), TIMING, now=when_queued_may_go(engine))
    assert report.sweep.total == 0 and report.dispatch.sent == 1
    (row,) = outbox(engine, request_id=request["id"])
    assert "tablet" in row.body and "kept for you" in row.body


def sweeps_and_dispatchers_at_once(engine, standin, now) -> list:
    """Two sweeps and two dispatchers (five passes each) started together in threads; the
    dispatchers' providers are returned, still open."""
    start = threading.Barrier(4)
    errors = []

    def work(action):
        try:
            start.wait()
            action()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    providers = [notify_for(standin), notify_for(standin)]
    jobs = [lambda: messages.sweep(engine, TIMING, now=now)] * 2 + [
        (lambda p=p: [messages.dispatch(engine, p, TIMING, now=now) for _ in range(5)])
        for p in providers]
    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return providers


def test_two_sweeps_and_two_dispatchers_at_once_send_each_text_once(
        client, staff, engine, office):
    loans = [lend(client, staff) for _ in range(12)]
    now = when_queued_may_go(engine)
    with NotifyStandIn() as standin:
        providers = sweeps_and_dispatchers_at_once(engine, standin, now)
        messages.dispatch(engine, providers[0], TIMING, now=now)
        assert standin.problems == []
        sent_to = sorted(item["to"] for item in standin.accepted)
    assert len(sent_to) == len(set(sent_to)) == len(loans)
    assert {m.status for m in outbox(engine)} == {"sent"}


# --- the provider routes ------------------------------------------------------------------

TOKEN = "notify-callback-secret"
TWILIO_TOKEN = "twilio-auth-token-123"


@pytest.fixture
def settings(settings):
    settings.notify_callback_token = TOKEN
    settings.twilio_auth_token = TWILIO_TOKEN
    return settings


def notify_inbound(client, number, body, token=TOKEN, ident=None):
    payload = {"id": ident or os.urandom(8).hex(), "source_number": number.lstrip("+"),
               "destination_number": "07700900000", "message": body,
               "date_received": "2026-11-30T10:00:00.000000Z"}
    return client.post(f"{API}/notifications/inbound/notify", content=json.dumps(payload),
                       headers={"Authorization": f"Bearer {token}",
                                "Content-Type": "application/json"})


def twilio_post(client, path, form, token=TWILIO_TOKEN):
    url = "http://testserver" + path
    signature = RequestValidator(token).compute_signature(url, form)
    return client.post(path, content=urlencode(form),
                       headers={"X-Twilio-Signature": signature,
                                "Content-Type": "application/x-www-form-urlencoded"})


def test_stop_by_notify_sets_the_opt_out_and_cancels_queued_texts(
        client, staff, engine, office):
    loan = lend(client, staff)
    due = date.fromisoformat(loan["due_on"])
    late = datetime.fromisoformat(f"{(due - timedelta(days=2)).isoformat()} 22:30") \
        .replace(tzinfo=LONDON)
    messages.sweep(engine, TIMING, now=late)
    number = outbox(engine)[0].to
    assert notify_inbound(client, number, "stop", token="wrong").status_code == 401
    with session_for(engine, read_only=True) as session:
        assert session.scalars(select(Reply)).all() == []
    response = notify_inbound(client, number, " Stop. ", ident="abc")
    assert response.status_code == 204, response.text
    assert notify_inbound(client, number, " Stop. ", ident="abc").status_code == 204
    with session_for(engine, read_only=True) as session:
        assert session.get(Recipient, loan["recipient_id"]).sms_opt_out is True
        assert len(session.scalars(select(Reply)).all()) == 1
    assert [(m.kind, m.status, m.error_code) for m in outbox(engine)] == [
        ("loan_receipt", "cancelled", "opted_out"), ("due_soon", "cancelled", "opted_out")]


def test_stop_and_start_by_twilio_and_a_bad_signature(client, staff, engine, office):
    number = mobile()
    rid = make_recipient(client, staff, mobile=number)
    path = f"{API}/notifications/inbound/twilio"
    stop = {"MessageSid": "SM1", "AccountSid": "AC1", "From": number, "To": "+447700900000",
            "Body": "STOPIO"}
    assert twilio_post(client, path, stop, token="not-the-token").status_code == 403
    with session_for(engine, read_only=True) as session:
        assert session.get(Recipient, rid).sms_opt_out is False
        assert session.scalars(select(Reply)).all() == []
    assert twilio_post(client, path, stop).status_code == 204
    with session_for(engine, read_only=True) as session:
        assert session.get(Recipient, rid).sms_opt_out is True
    assert twilio_post(client, path, stop | {"MessageSid": "SM2", "Body": "start!"}
                       ).status_code == 204
    assert twilio_post(client, path, stop | {"MessageSid": "SM3", "Body": "Can I keep it "
                                             "till Friday?"}).status_code == 204
    with session_for(engine, read_only=True) as session:
        assert session.get(Recipient, rid).sms_opt_out is False
        replies = session.scalars(select(Reply).order_by(Reply.id)).all()
    assert [(r.kind, r.recipient_id) for r in replies] == [
        ("stop", rid), ("start", rid), ("other", rid)]


def test_receipts_update_the_status_once(client, staff, engine, office):
    lend(client, staff)
    with NotifyStandIn() as standin:
        provider = notify_for(standin)
        messages.run_once(engine, provider, TIMING, now=when_queued_may_go(engine))
    (row,) = outbox(engine)
    assert row.status == "sent" and row.provider == "notify"
    receipt = {"id": row.provider_id, "reference": row.reference, "status": "delivered"}
    for _ in range(2):
        response = client.post(f"{API}/notifications/callbacks/notify",
                               content=json.dumps(receipt),
                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 204, response.text
    assert outbox(engine)[0].status == "delivered"
    refused = client.post(f"{API}/notifications/callbacks/notify",
                          content=json.dumps(receipt | {"status": "permanent-failure"}),
                          headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and outbox(engine)[0].status == "delivered"
    twilio = twilio_post(client, f"{API}/notifications/callbacks/twilio",
                         {"MessageSid": "SMx", "MessageStatus": "delivered"},
                         token="wrong")
    assert twilio.status_code == 403


def test_the_outbox_is_listed_with_filters(client, staff, engine, office):
    first, second = lend(client, staff), lend(client, staff)
    messages.sweep(engine, TIMING, now=moment(date.today()))
    page = client.get(f"{API}/notifications", params={"loan_id": first["id"]},
                      headers=staff)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 1 and body["items"][0]["loan_id"] == first["id"]
    assert body["items"][0]["kind"] == "loan_receipt"
    queued = client.get(f"{API}/notifications", params={"status": "queued",
                        "recipient_id": second["recipient_id"]}, headers=staff).json()
    assert queued["total"] == 1
    assert client.get(f"{API}/notifications").status_code == 401


def test_reminders_run_as_a_command(client, staff, engine, settings, office):
    loan = lend(client, staff)
    due = date.fromisoformat(loan["due_on"])
    when = moment(due - timedelta(days=2), sending=False).isoformat()
    environment = {**os.environ, "LENDING_DATABASE_URL": settings.database_url,
                   "LENDING_SECRET_KEY": "x"}
    command = [sys.executable, "-m", "lending.cli", "reminders", "run", "--now", when]
    first = subprocess.run(command, capture_output=True, text=True, env=environment,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    assert "queued 1 (1 due_soon)" in first.stdout and "sent " in first.stdout
    again = subprocess.run(command, capture_output=True, text=True, env=environment,
                           timeout=120)
    assert "queued 0" in again.stdout and "sent 0" in again.stdout
    bad = subprocess.run(command[:-1] + ["yesterday"], capture_output=True, text=True,
                         env=environment, timeout=120)
    assert bad.returncode == 1 and "--now" in bad.stderr


def test_the_report_counts_texts(client, staff, engine, office):
    from lending.reports.service import report_scope, sms_section

    lend(client, staff)
    opted = lend(client, staff)
    messages.run_once(engine, LogProvider(), TIMING, now=when_queued_may_go(engine))
    number = outbox(engine, recipient_id=opted["recipient_id"])[0].to
    assert notify_inbound(client, number, "STOP").status_code == 204
    assert notify_inbound(client, number, "thanks!").status_code == 204
    with session_for(engine, read_only=True) as session:
        sent_on = outbox(engine)[0].sent_at.astimezone(LONDON).date()
        scope = report_scope(session, sent_on, LONDON, date_from=sent_on - timedelta(days=1),
                             date_to=sent_on + timedelta(days=1))
        section = sms_section(session, scope)
    figures = {item.key: item.value for item in section.figures}
    assert figures["sms_sent"] == 2 and figures["sms_failed"] == 0
    assert figures["sms_replies"] == 2
