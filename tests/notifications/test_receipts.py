"""Delivery receipts and replies: each counted once, however often a provider repeats it."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lending.db import session_for
from notifications.callbacks import (
    Inbound,
    Receipt,
    parse_notify_receipt,
    parse_twilio_receipt,
)
from notifications.models import Message, Reply
from notifications.schemas import MessageRead, ReplyRead
from notifications.service import (
    dispatch,
    list_messages,
    list_replies,
    mark_replies_read,
    numbers_to_fix,
    record_receipt,
    record_reply,
)
from tests.notifications.standins import Answer
from tests.notifications.test_dispatch import NOW, NUMBER, messages, queue


def receive(engine, receipt: Receipt) -> bool:
    with session_for(engine, actor="notify") as session:
        return record_receipt(session, receipt, now=NOW + timedelta(minutes=1))


def notify_receipt(notification_id: str, status: str) -> Receipt:
    return parse_notify_receipt({
        "id": notification_id, "reference": "x", "to": NUMBER, "status": status,
        "created_at": "2026-12-01T10:00:00Z", "completed_at": "2026-12-01T10:00:05Z",
        "sent_at": "2026-12-01T10:00:01Z", "notification_type": "sms",
        "template_id": "t", "template_version": 1})


def test_a_notify_receipt_counts_once(engine, notify, notify_standin):
    queue(engine, 1)
    dispatch(engine, notify, now=NOW)
    notification_id = notify_standin.accepted[0]["id"]
    assert receive(engine, notify_receipt(notification_id, "delivered"))
    assert not receive(engine, notify_receipt(notification_id, "delivered"))
    assert not receive(engine, notify_receipt(notification_id, "permanent-failure"))
    assert not receive(engine, notify_receipt("not-ours", "delivered"))
    [row] = messages(engine)
    assert (row.status, row.provider_status) == ("delivered", "delivered")


def test_a_permanent_failure_flags_the_number(engine, notify, notify_standin):
    queue(engine, 1)
    dispatch(engine, notify, now=NOW)
    assert receive(engine, notify_receipt(notify_standin.accepted[0]["id"],
                                          "permanent-failure"))
    [row] = messages(engine)
    assert (row.status, row.error_code) == ("failed", "invalid_number")


def test_a_temporary_failure_is_sent_again_once(engine, notify, notify_standin):
    queue(engine, 1)
    dispatch(engine, notify, now=NOW)
    first_id = notify_standin.accepted[0]["id"]
    notify_standin.accepted[0]["status"] = "temporary-failure"
    assert receive(engine, notify_receipt(first_id, "temporary-failure"))
    assert not receive(engine, notify_receipt(first_id, "temporary-failure"))  # a repeat
    [row] = messages(engine)
    assert row.status == "queued" and row.provider_id is None
    assert dispatch(engine, notify, now=NOW + timedelta(hours=2)).sent == 1
    assert dispatch(engine, notify, now=NOW + timedelta(days=1)).sent == 0
    assert len(notify_standin.accepted) == 2
    [row] = messages(engine)
    assert row.status == "sent" and row.provider_id == notify_standin.accepted[1]["id"]
    assert row.attempts == 2


@pytest.mark.parametrize("statuses, final, error_code", [
    (["sent", "delivered", "delivered"], "delivered", None),
    (["undelivered:30006"], "failed", "invalid_number"),
    (["failed:21610"], "failed", "unsubscribed"),
    (["undelivered:30003"], "queued", None),
])
def test_twilio_receipts(engine, twilio, twilio_standin, statuses, final, error_code):
    queue(engine, 1)
    dispatch(engine, twilio, now=NOW)
    sid = twilio_standin.accepted[0]["sid"]
    for status in statuses:
        name, _, code = status.partition(":")
        receive(engine, parse_twilio_receipt({"MessageSid": sid, "MessageStatus": name,
                                              "ErrorCode": code, "AccountSid": "AC",
                                              "From": "+447700900999", "To": NUMBER}))
    [row] = messages(engine)
    assert (row.status, row.error_code) == (final, error_code)


def test_replies_are_kept_once_and_classified(engine):
    inbound = Inbound("notify", "in-1", NUMBER, "Stop!", datetime(2026, 12, 1, tzinfo=UTC))
    with session_for(engine) as session:
        reply = record_reply(session, inbound, recipient_id=4)
        assert reply is not None and reply.kind == "stop"
        session.commit()
    with session_for(engine) as session:
        assert record_reply(session, inbound) is None
        record_reply(session, Inbound("twilio", "SM2", NUMBER, "can I have till friday?",
                                      datetime(2026, 12, 2, tzinfo=UTC)))
        session.commit()
    with session_for(engine, read_only=True) as session:
        kinds = session.scalars(select(Reply.kind).order_by(Reply.id)).all()
    assert kinds == ["stop", "other"]


def test_the_outbox_is_listed_by_loan_and_status(engine, notify):
    queue(engine, 3)
    dispatch(engine, notify, now=NOW, limit=2)
    with session_for(engine, read_only=True) as session:
        rows, total = list_messages(session, loan_id=1)
        assert total == 1 and rows[0].loan_id == 1
        rows, total = list_messages(session, status="queued")
        assert total == 1
        rows, total = list_messages(session, limit=2)
        assert total == 3 and [row.id for row in rows] == sorted(
            (row.id for row in rows), reverse=True)
        assert isinstance(rows[0], Message)
        shown = MessageRead.model_validate(rows[-1]).model_dump(mode="json")
        assert shown["status"] == "sent" and shown["sent_at"].startswith("2026-12-01T10:00")


def test_unread_replies_and_numbers_to_fix(engine, notify, notify_standin):
    queue(engine, 2, prefix="a")
    queue(engine, 1, prefix="b", to="+447700900456")
    refused = Answer(status=400, body={"errors": [{"error": "ValidationError",
                                                   "message": "Not a UK mobile number"}],
                                       "status_code": 400})
    notify_standin.answer(refused, refused)
    dispatch(engine, notify, now=NOW)
    with session_for(engine) as session:
        fix = numbers_to_fix(session)
        assert [row.to for row in fix] == [NUMBER]
        assert fix[0].error_code == "invalid_number"
        for number, provider_id in ((NUMBER, "r1"), ("+447700900456", "r2")):
            record_reply(session, Inbound("notify", provider_id, number, "hello", NOW))
        session.commit()
    with session_for(engine) as session:
        unread, total = list_replies(session, unread=True)
        assert total == 2
        assert ReplyRead.model_validate(unread[0]).body == "hello"
        assert mark_replies_read(session, [unread[0].id]) == 1
        assert mark_replies_read(session, [unread[0].id]) == 0
    with session_for(engine, read_only=True) as session:
        assert list_replies(session, unread=True)[1] == 1
        assert list_replies(session, from_number=NUMBER)[1] == 1
