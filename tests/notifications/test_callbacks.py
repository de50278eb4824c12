"""Telling genuine provider callbacks from forged ones, and reading replies."""

import pytest
from twilio.request_validator import RequestValidator

from notifications.callbacks import (
    classify_reply,
    e164,
    parse_notify_inbound,
    parse_twilio_inbound,
    parse_twilio_receipt,
    twilio_signature,
    verify_notify_token,
    verify_twilio_signature,
)
from notifications.models import ReplyKind

URL = "https://lending.example.org/api/v1/notifications/callbacks/twilio"
TOKEN = "12345678901234567890123456789012"
FORM = {"MessageSid": "SM123", "MessageStatus": "delivered", "AccountSid": "AC1",
        "From": "+447700900999", "To": "+447700900123", "ErrorCode": ""}


def test_twilio_signatures_made_by_twilios_own_validator_are_accepted():
    signature = RequestValidator(TOKEN).compute_signature(URL, FORM)
    assert verify_twilio_signature(URL, FORM, signature, TOKEN)
    assert twilio_signature(URL, FORM.items(), TOKEN) == signature
    assert RequestValidator(TOKEN).validate(URL, FORM, twilio_signature(URL, FORM.items(),
                                                                        TOKEN))


@pytest.mark.parametrize("change", [
    {"MessageStatus": "failed"}, {"Extra": "1"}, {"To": "+447700900124"}])
def test_a_changed_twilio_callback_is_refused(change):
    signature = RequestValidator(TOKEN).compute_signature(URL, FORM)
    assert not verify_twilio_signature(URL, {**FORM, **change}, signature, TOKEN)


def test_a_twilio_signature_for_another_url_or_token_is_refused():
    signature = RequestValidator(TOKEN).compute_signature(URL, FORM)
    assert not verify_twilio_signature(URL + "?x=1", FORM, signature, TOKEN)
    assert not verify_twilio_signature(URL, FORM, signature, "0" * 32)
    assert not verify_twilio_signature(URL, FORM, None, TOKEN)
    assert not verify_twilio_signature(URL, FORM, signature, "")


def test_notify_callbacks_carry_our_bearer_token():
    assert verify_notify_token("Bearer s3cret-token", "s3cret-token")
    assert verify_notify_token("bearer s3cret-token", "s3cret-token")
    assert not verify_notify_token("Bearer s3cret-tokeN", "s3cret-token")
    assert not verify_notify_token("Basic s3cret-token", "s3cret-token")
    assert not verify_notify_token(None, "s3cret-token")
    assert not verify_notify_token("Bearer ", "")


@pytest.mark.parametrize("text, kind", [
    ("STOP", ReplyKind.stop), ("stop", ReplyKind.stop), (" Stop. ", ReplyKind.stop),
    ("S.T.O.P!", ReplyKind.stop), ("stopall", ReplyKind.stop), ("Unsubscribe", ReplyKind.stop),
    ("cancel", ReplyKind.stop), ("END", ReplyKind.stop), ("quit", ReplyKind.stop),
    ("Stopio", ReplyKind.stop), ("start", ReplyKind.start), ("Yes!", ReplyKind.start),
    ("unstop", ReplyKind.start), ("more", ReplyKind.more), ("MWY", ReplyKind.more),
    ("More?", ReplyKind.more), ("stop texting me at work please", ReplyKind.other),
    ("Can I keep it till Friday", ReplyKind.other), ("", ReplyKind.other),
])
def test_replies_are_classified(text, kind):
    assert classify_reply(text) == kind


def test_inbound_texts_are_read_from_either_provider():
    notify = parse_notify_inbound({
        "id": "a1", "source_number": "447700900123", "destination_number": "07700900000",
        "message": "STOP", "date_received": "2026-12-01T10:00:00.000000Z"})
    assert (notify.provider_id, notify.from_number, notify.body) == ("a1", "+447700900123",
                                                                     "STOP")
    assert notify.received_at.tzinfo is not None
    twilio = parse_twilio_inbound({"MessageSid": "SM9", "AccountSid": "AC1",
                                   "From": "+447700900123", "To": "+447700900999",
                                   "Body": "more"})
    assert (twilio.provider, twilio.from_number, twilio.body) == ("twilio", "+447700900123",
                                                                  "more")
    receipt = parse_twilio_receipt(FORM)
    assert (receipt.provider_id, receipt.status, receipt.error_code) == (
        "SM123", "delivered", None)


def test_numbers_become_e164():
    assert e164("07700 900123") == "+447700900123"
    assert e164("447700900123") == "+447700900123"
    assert e164("00447700900123") == "+447700900123"
    assert e164("+447700900123") == "+447700900123"
