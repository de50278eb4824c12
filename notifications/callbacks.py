"""What providers post to us: delivery receipts and received texts, how to tell they are
genuine, and what a reply asks for."""

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from notifications.models import ReplyKind


@dataclass(frozen=True)
class Receipt:
    """A provider's word on a text it accepted: its id and its raw status."""

    provider: str
    provider_id: str
    status: str
    error_code: str | None = None


@dataclass(frozen=True)
class Inbound:
    provider: str
    provider_id: str
    from_number: str
    body: str
    received_at: datetime


def verify_notify_token(authorization: str | None, expected_token: str) -> bool:
    """Notify posts back the bearer token we gave it when setting up the callback."""
    if not expected_token or not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected_token.encode())


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """Base64 of HMAC-SHA1, keyed with the auth token, over the full URL followed by each
    parameter's name and value, sorted by name (and, for a repeated name, by value)."""
    payload = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio_signature(url: str, params: Mapping[str, str] | Iterable[tuple[str, str]],
                            signature: str | None, auth_token: str) -> bool:
    """`url` is the public URL Twilio called, from configuration: never rebuilt from a Host
    header, which a caller controls."""
    if not signature or not auth_token:
        return False
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    expected = twilio_signature(url, pairs, auth_token)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def e164(number: str) -> str:
    """A UK number as providers write it ("447700900123", "07700 900123") in E.164."""
    digits = re.sub(r"[^\d+]", "", number)
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return "+44" + digits[1:]
    return "+" + digits


def _timestamp(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_notify_receipt(payload: Mapping) -> Receipt:
    """Notify's delivery receipt (JSON); a KeyError or ValueError for a malformed one."""
    return Receipt("notify", str(payload["id"]), str(payload["status"]))


def parse_twilio_receipt(form: Mapping[str, str]) -> Receipt:
    return Receipt("twilio", form["MessageSid"], form["MessageStatus"],
                   form.get("ErrorCode") or None)


def parse_notify_inbound(payload: Mapping) -> Inbound:
    return Inbound("notify", str(payload["id"]), e164(str(payload["source_number"])),
                   str(payload.get("message", "")), _timestamp(payload.get("date_received")))


def parse_twilio_inbound(form: Mapping[str, str]) -> Inbound:
    return Inbound("twilio", form["MessageSid"], e164(form["From"]), form.get("Body", ""),
                   datetime.now(UTC))


STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOPIO"})
START_WORDS = frozenset({"START", "YES", "UNSTOP", "DECHRAU"})
MORE_WORDS = frozenset({"MORE", "MWY"})


def classify_reply(text: str) -> ReplyKind:
    """STOP, START or MORE when that word is the whole reply, in any case, with any
    punctuation or spacing ("Stop.", " s t o p ", "STOP!!"); anything else is for staff."""
    letters = re.sub(r"[\W\d_]+", "", text).upper()
    if letters in STOP_WORDS:
        return ReplyKind.stop
    if letters in START_WORDS:
        return ReplyKind.start
    if letters in MORE_WORDS:
        return ReplyKind.more
    return ReplyKind.other
