"""Replies that act on a loan, through the providers' real inbound routes, on both
databases: the survey after a return (one text, answered 1 to 5, one clarification at
most) and MORE / MWY asking for more time (marked for staff, granted in one click with a
text of the new date, or answered kindly when the policy would refuse)."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from eligibility import load_policy_text
from lending.db import session_for
from lending.loans.models import Loan
from lending.loans.schemas import ReturnLoan
from lending.loans.service import return_loan
from lending.messages import service as messages
from lending.pages.rendering import CSRF_COOKIE
from notifications.models import Reply
from notifications.providers import LogProvider
from notifications.texts import render
from tests.eligibility.eligibility_policy_texts import edited_default
from tests.lending.test_loans_helpers import API, LONDON, issue, make_device, make_recipient
from tests.lending.test_messages import (  # noqa: F401 - the fixtures are used by name
    TIMING,
    lend,
    mobile,
    moment,
    notify_inbound,
    office,
    outbox,
    settings,
    twilio_post,
    when_queued_may_go,
)

TWILIO_INBOUND = f"{API}/notifications/inbound/twilio"
# Every test has the office "LDN", called Camden office; the settings know the providers'
# callback secrets.
pytestmark = pytest.mark.usefixtures("office", "settings")


def returned_and_surveyed(client, staff, engine, **recipient) -> tuple[dict, str]:
    """A loan lent (its receipt sent), returned, and its survey sent (the log provider):
    the loan and the number it went to."""
    loan = lend(client, staff, **recipient)
    messages.dispatch(engine, LogProvider(), TIMING, now=when_queued_may_go(engine))
    response = client.post(f"{API}/loans/{loan['id']}/return", json={"condition": "A"},
                           headers=staff)
    assert response.status_code == 200, response.text
    report = messages.run_once(engine, LogProvider(), TIMING, now=when_queued_may_go(engine))
    assert report.sweep.total == 0 and report.dispatch.sent == 1, report  # with the return
    (survey,) = outbox(engine, loan_id=loan["id"], kind="survey")
    assert survey.status == "sent"
    return loan, survey.to


def twilio_inbound(client, number, body, sid):
    form = {"MessageSid": sid, "AccountSid": "AC1", "From": number, "To": "+447700900000",
            "Body": body}
    response = twilio_post(client, TWILIO_INBOUND, form)
    assert response.status_code == 204, response.text


def stored_answer(engine, loan_id) -> tuple[int | None, bool]:
    with session_for(engine, read_only=True) as session:
        loan = session.get(Loan, loan_id)
        return loan.survey_answer, loan.survey_clarified


# --- the survey after a return ----------------------------------------------------------------

def test_the_survey_is_one_text_written_with_the_return_and_in_the_sending_hours(
        client, staff, engine, settings):  # noqa: F811
    loan = lend(client, staff, language="cy")
    opted = lend(client, staff)
    with session_for(engine) as session:
        from lending.recipients.models import Recipient
        session.get(Recipient, opted["recipient_id"]).sms_opt_out = True
        session.commit()
    late = datetime.fromisoformat(f"{date.today() + timedelta(days=1)} 22:30") \
        .replace(tzinfo=LONDON)
    with session_for(engine, actor="test") as session:  # returned at 22:30
        for each in (loan, opted):
            return_loan(session, each["id"], ReturnLoan(condition="B"), now=late)
    first = messages.sweep(engine, TIMING, now=late)
    again = messages.sweep(engine, TIMING, now=late + timedelta(minutes=5))
    assert first.total == 0 and first.opted_out == 0 and again.total == 0
    (row,) = outbox(engine, loan_id=loan["id"], kind="survey")
    # One text, the survey, which thanks them: no separate thanks.
    assert (row.kind, row.key, row.status) == ("survey", f"loan:{loan['id']}:survey", "queued")
    assert row.language == "cy" and row.body.startswith("Diolch") and "1 (dim" in row.body
    assert "Camden" not in row.body  # the first name and the device kind at most
    # Outside the sending hours it waits for the morning; a returned loan does not call
    # it off (the sweep cancels texts of loans no longer out, never this one).
    assert row.next_attempt_at.astimezone(LONDON).hour == 9
    (refused,) = outbox(engine, loan_id=opted["id"], kind="survey")
    assert (refused.kind, refused.status, refused.error_code) == (
        "survey", "cancelled", "opted_out")
    assert [m.kind for m in outbox(engine, loan_id=loan["id"])] == ["loan_receipt", "survey"]
    # Switched off in the service's policy, it is not written, nor the thanks it replaced.
    messages.text_with_changes(engine, settings, load_policy_text(edited_default(
        ("survey = true", "survey = false"), ("thanks = true", "thanks = false"))))
    other = lend(client, staff)
    client.post(f"{API}/loans/{other['id']}/return", json={"condition": "A"}, headers=staff)
    assert [m.kind for m in outbox(engine, loan_id=other["id"])] == ["loan_receipt"]
    off = messages.MessagePolicy(off=frozenset({"survey", "thanks"}))
    assert messages.sweep(engine, TIMING, off, now=late).total == 0


def test_a_survey_answer_by_notify_is_stored_and_a_bad_reply_gets_one_clarification(
        client, staff, manager, engine):
    loan, number = returned_and_surveyed(client, staff, engine)
    assert notify_inbound(client, number, "It was great, thanks").status_code == 204
    (again,) = outbox(engine, loan_id=loan["id"], kind="survey_again")
    assert again.key == f"loan:{loan['id']}:survey_again" and again.to == number
    assert "1 (not at all) to 5 (a lot)" in again.body
    assert stored_answer(engine, loan["id"]) == (None, True)
    # A second reply out of range gets nothing: one clarification, never more.
    assert notify_inbound(client, number, "9").status_code == 204
    assert notify_inbound(client, number, "no idea").status_code == 204
    # The receipt, the survey and one clarification.
    assert len(outbox(engine, loan_id=loan["id"])) == 3
    # Spaces and punctuation are tolerated; the first answer stays.
    assert notify_inbound(client, number, " 4. ").status_code == 204
    assert notify_inbound(client, number, "5").status_code == 204
    assert stored_answer(engine, loan["id"]) == (4, True)
    assert client.get(f"{API}/loans/{loan['id']}", headers=staff).json()["survey_answer"] == 4
    # Answers wait for no one; the words they wrote do.
    with session_for(engine, read_only=True) as session:
        kinds = [r.kind for r in session.scalars(select(Reply).order_by(Reply.id))]
        overview = messages.messages_overview(session)
    assert kinds == ["other", "other", "other", "survey", "survey"]
    assert sorted(r["body"] for r in overview["replies"]) == [
        "9", "It was great, thanks", "no idea"]
    assert len(outbox(engine, loan_id=loan["id"])) == 3
    # The report sets the answers against the surveys sent.
    report = client.get(f"{API}/reports/stock", headers=manager, params={
        "location": "LDN", "from": date.today().isoformat(),
        "to": (date.today() + timedelta(days=3)).isoformat()}).json()
    figures = {f["key"]: f["value"] for s in report["sections"] for f in s["figures"]}
    tables = {t["key"]: t["rows"] for s in report["sections"] for t in s["tables"]}
    assert (figures["surveys_sent"], figures["survey_answers"]) == (1, 1)
    assert tables["survey_distribution"] == [[1, 0], [2, 0], [3, 0], [4, 1], [5, 0]]


def test_a_welsh_survey_by_twilio_belongs_to_the_latest_survey_sent_to_the_number(
        client, staff, engine):
    number = mobile()
    older, _ = returned_and_surveyed(client, staff, engine, mobile=number, language="cy")
    # The same person borrows again and brings it back: a second survey, later.
    rid = older["recipient_id"]
    response = issue(client, staff, make_device(client, staff, "tablet"), rid)
    assert response.status_code == 201, response.text
    newer = response.json()
    client.post(f"{API}/loans/{newer['id']}/return", json={"condition": "A"}, headers=staff)
    messages.run_once(engine, LogProvider(), TIMING,
                      now=moment(date.today() + timedelta(days=2)))
    assert outbox(engine, loan_id=newer["id"], kind="survey")[0].status == "sent"
    twilio_inbound(client, number, "Dwi ddim yn siwr", "SM-s1")
    (again,) = outbox(engine, kind="survey_again")
    assert again.loan_id == newer["id"] and again.language == "cy"
    assert again.body.startswith("Mae'n ddrwg gennym")
    twilio_inbound(client, number, "5!", "SM-s2")
    twilio_inbound(client, number, "5!", "SM-s2")  # Twilio repeats itself: kept once
    assert stored_answer(engine, newer["id"]) == (5, True)
    assert stored_answer(engine, older["id"]) == (None, False)


def test_a_reply_after_a_newer_text_is_not_taken_for_the_survey(client, staff, engine):
    number = mobile()
    surveyed, _ = returned_and_surveyed(client, staff, engine, mobile=number)
    response = issue(client, staff, make_device(client, staff), surveyed["recipient_id"])
    assert response.status_code == 201, response.text
    messages.run_once(engine, LogProvider(), TIMING,
                      now=moment(date.today() + timedelta(days=2)))
    assert [m.kind for m in outbox(engine, to=number)] == [
        "loan_receipt", "survey", "loan_receipt"]
    # Words written after the receipt are about the new loan: no survey clarification.
    assert notify_inbound(client, number, "Thanks, see you on Tuesday").status_code == 204
    assert [m.kind for m in outbox(engine, to=number)] == [
        "loan_receipt", "survey", "loan_receipt"]
    assert stored_answer(engine, surveyed["id"]) == (None, False)
    # A plain number still answers the survey.
    assert notify_inbound(client, number, "3").status_code == 204
    assert stored_answer(engine, surveyed["id"]) == (3, False)


# --- MORE / MWY ---------------------------------------------------------------------------------

def reminded(client, staff, engine, kind="laptop", **recipient) -> tuple[dict, str]:
    """A loan whose due-soon reminder was sent: the loan and the number."""
    recipient.setdefault("mobile", mobile())
    rid = make_recipient(client, staff, **recipient)
    response = issue(client, staff, make_device(client, staff, kind), rid)
    assert response.status_code == 201, response.text
    loan = response.json()
    due = date.fromisoformat(loan["due_on"])
    # Two days before (whatever the day), sent at the next time texts may go.
    messages.sweep(engine, TIMING, now=moment(due - timedelta(days=2), sending=False))
    messages.dispatch(engine, LogProvider(), TIMING, now=moment(due - timedelta(days=2)))
    (reminder,) = outbox(engine, loan_id=loan["id"], kind="due_soon")
    assert reminder.status == "sent"
    return loan, recipient["mobile"]


def test_more_by_text_is_shown_to_staff_and_one_click_renews_and_texts_the_new_date(
        client, staff, engine):
    loan, number = reminded(client, staff, engine)
    assert notify_inbound(client, number, "more!").status_code == 204
    asked = client.get(f"{API}/loans/{loan['id']}", headers=staff).json()
    assert asked["more_time_requested_at"] is not None and asked["renewals"] == 0
    listed = client.get(f"{API}/loans", params={"status": "more_time"}, headers=staff).json()
    assert [item["id"] for item in listed["items"]] == [loan["id"]]
    assert "1 asked for more time by text" in client.get("/", headers=staff).text
    page = client.get(f"/loans/{loan['id']}", headers=staff).text
    assert "Asked for more time" in page and f'action="/loans/{loan["id"]}/more-time"' in page
    # No text yet: staff decide.
    assert [m.kind for m in outbox(engine, loan_id=loan["id"])] == ["loan_receipt", "due_soon"]

    client.get("/login")
    form = {**staff, "x-csrftoken": client.cookies.get(CSRF_COOKIE)}
    response = client.post(f"/loans/{loan['id']}/more-time", headers=form,
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    after = client.get(f"{API}/loans/{loan['id']}", headers=staff).json()
    assert after["renewals"] == 1 and after["more_time_requested_at"] is None
    new_due = date.fromisoformat(after["due_on"])
    assert new_due > date.fromisoformat(loan["due_on"])
    (text,) = outbox(engine, loan_id=loan["id"], kind="more_time")
    assert text.key == f"loan:{loan['id']}:more_time:{new_due.isoformat()}"
    assert text.status == "queued" and text.to == number
    assert str(new_due.day) in text.body and "Camden office" in text.body
    # A second click (another desk, a double click) renews nothing and texts nothing.
    again = client.post(f"/loans/{loan['id']}/more-time", headers=form)
    assert again.status_code == 422 and "no request for more time" in again.text
    assert client.get(f"{API}/loans/{loan['id']}", headers=staff).json()["renewals"] == 1
    assert len(outbox(engine, loan_id=loan["id"], kind="more_time")) == 1
    assert "0 asked for more time by text" in client.get("/", headers=staff).text


def test_mwy_the_policy_would_refuse_gets_one_kind_text_to_contact_the_office(
        client, staff, engine):
    loan, number = reminded(client, staff, engine, language="cy")
    for _ in range(2):  # the default policy allows a laptop two renewals
        response = client.post(f"{API}/loans/{loan['id']}/renew", json={}, headers=staff)
        assert response.status_code == 200, response.text
    twilio_inbound(client, number, "Mwy.", "SM-m1")
    twilio_inbound(client, number, "MWY", "SM-m2")  # asked twice: answered once
    after = client.get(f"{API}/loans/{loan['id']}", headers=staff).json()
    assert after["more_time_requested_at"] is None  # nothing for staff to click
    (text,) = outbox(engine, loan_id=loan["id"], kind="more_time_refused")
    assert text.language == "cy" and text.status == "queued" and "Camden office" in text.body
    english = render("more_time_refused", "en", name="Sam", device="laptop",
                              on=date(2026, 12, 1), place="Camden office")
    for word in ("renew", "limit", "policy", "rule", "twice", "times"):
        assert word not in english.lower() and word not in text.body.lower()
    assert "MORE" not in english and "MWY" not in text.body
    # Both replies are kept for staff to read.
    with session_for(engine, read_only=True) as session:
        assert [r.kind for r in session.scalars(select(Reply))] == ["more", "more"]


def test_more_with_no_loan_out_or_after_a_waitlist_offer_marks_nothing(client, staff,
                                                                      engine):
    stranger = mobile()
    assert notify_inbound(client, stranger, "MORE").status_code == 204
    waiting = mobile()
    rid = make_recipient(client, staff, mobile=waiting)
    lent = issue(client, staff, make_device(client, staff), rid).json()
    response = client.post(f"{API}/waitlist", json={"recipient_id": rid, "kind": "tablet",
                                                    "location": "LDN"}, headers=staff)
    assert response.status_code == 201, response.text
    make_device(client, staff, "tablet")  # offered to them
    messages.run_once(engine, LogProvider(), TIMING, now=when_queued_may_go(engine))
    assert notify_inbound(client, waiting, "more please").status_code == 204  # words: staff
    assert notify_inbound(client, waiting, "More").status_code == 204
    # The latest text was the offer: more time to collect it is for staff, not the loan.
    assert client.get(f"{API}/loans/{lent['id']}", headers=staff).json()[
        "more_time_requested_at"] is None
    assert [m.kind for m in outbox(engine) if m.kind.startswith("more")] == []
    with session_for(engine, read_only=True) as session:
        replies = session.scalars(select(Reply).order_by(Reply.id)).all()
    assert [(r.kind, r.recipient_id) for r in replies] == [
        ("more", None), ("other", rid), ("more", rid)]


def test_the_api_grants_more_time_in_one_step_and_only_when_asked(client, staff, engine):
    loan, number = reminded(client, staff, engine, kind="tablet")
    path = f"{API}/loans/{loan['id']}/more-time"
    refused = client.post(path, headers=staff)
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["field"] == "more_time_requested_at"
    assert outbox(engine, kind="more_time") == []
    twilio_inbound(client, number, "More", "SM-a1")
    granted = client.post(path, headers=staff)
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert body["renewals"] == 1 and body["more_time_requested_at"] is None
    (text,) = outbox(engine, kind="more_time")
    assert text.loan_id == loan["id"] and "tablet" in text.body and "MORE" in text.body
    assert client.post(f"{API}/loans/999999/more-time", headers=staff).status_code == 404
