"""The SMS providers: `log` (sends nothing), GOV.UK Notify and Twilio, over httpx.

A provider turns one text into one `Outcome`, and can look a text up after an answer was
lost. Neither provider takes an idempotency key, so the dispatcher never resends a text
whose fate is unknown without looking it up first (see `service.dispatch`).

Every answer is sorted into one of four outcomes: `sent` (accepted, with the provider's
id), `retry` (certainly not accepted: 429, a refused connection), `unknown` (perhaps
accepted: 5xx, a timeout; look it up before any resend) and `failed` (never retry).
"""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx
import jwt

from notifications.models import ErrorCode
from notifications.texts import without_codes

log = logging.getLogger("notifications")

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "lending-notifications/0.1"


@dataclass(frozen=True)
class Outgoing:
    """A text as a provider sees it: no names, no ids of ours but the opaque reference."""

    reference: str
    to: str
    body: str


@dataclass(frozen=True)
class Outcome:
    result: str  # "sent", "retry", "unknown" or "failed"
    provider_id: str | None = None
    provider_status: str | None = None
    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when the provider said
    throttled: bool = False  # the provider asked us to slow down (429)


SENT, RETRY, UNKNOWN, FAILED = "sent", "retry", "unknown", "failed"


class Provider(Protocol):
    name: str

    def send(self, message: Outgoing) -> Outcome: ...

    def look_up(self, message: Outgoing, provider_id: str | None,
                since: datetime) -> Outcome | None:
        """The text as the provider has it (`sent` with its id), None if the provider
        never accepted it (so it may be sent), or `unknown` if the provider could not say."""
        ...

    def close(self) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _transport_outcome(error: httpx.TransportError) -> Outcome:
    # A refused or failed connection never carried the request; anything later might have.
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Outcome(RETRY, error=f"connection: {type(error).__name__}")
    return Outcome(UNKNOWN, error=f"no answer: {type(error).__name__}")


class LogProvider:
    """Records the text in the log and sends nothing: for development and the demo."""

    name = "log"

    def send(self, message: Outgoing) -> Outcome:
        # A voucher's code is money: the log shows the text with the code masked.
        log.info("SMS (not sent) to %s: %s", message.to, without_codes(message.body))
        return Outcome(SENT, provider_id=f"log-{message.reference}", provider_status="logged")

    def look_up(self, message: Outgoing, provider_id: str | None,
                since: datetime) -> Outcome | None:
        return None  # nothing left the building, so sending again duplicates nothing

    def close(self) -> None:
        pass


# Notify's statuses that mean the text will not arrive; any other means it is on its way.
NOTIFY_FAILURES = frozenset({"permanent-failure", "temporary-failure", "technical-failure"})


class NotifyProvider:
    """GOV.UK Notify: one template whose body is `((body))`, a fresh token per request."""

    name = "notify"

    def __init__(self, api_key: str, template_id: str,
                 base_url: str = "https://api.notifications.service.gov.uk",
                 timeout: float | httpx.Timeout = TIMEOUT) -> None:
        # Split as Notify's own client splits it: {name}-{service id}-{secret}.
        self.service_id = api_key[-73:-37]
        self.secret = api_key[-36:]
        if not self.service_id or not self.secret:
            raise ValueError("a Notify API key is {name}-{service id}-{secret key}")
        self.template_id = template_id
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def _headers(self) -> dict[str, str]:
        token = jwt.encode({"iss": self.service_id, "iat": int(time.time())}, self.secret,
                           algorithm="HS256", headers={"typ": "JWT", "alg": "HS256"})
        return {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}

    def send(self, message: Outgoing) -> Outcome:
        payload = {"phone_number": message.to, "template_id": self.template_id,
                   "personalisation": {"body": message.body}, "reference": message.reference}
        try:
            response = self.client.post("/v2/notifications/sms", json=payload,
                                        headers=self._headers())
        except httpx.TransportError as error:
            return _transport_outcome(error)
        if response.status_code == 201:
            return Outcome(SENT, provider_id=str(response.json()["id"]),
                           provider_status="created")
        return self._error(response)

    def _error(self, response: httpx.Response) -> Outcome:
        status = response.status_code
        try:
            first = response.json()["errors"][0]
            kind, text = str(first.get("error", "")), str(first.get("message", ""))
        except (ValueError, KeyError, IndexError, TypeError):
            kind, text = "", response.text[:200]
        error = f"Notify {status} {kind}: {text}"[:400]
        if status == 429:
            return Outcome(RETRY, error=error, retry_after=_retry_after(response),
                           throttled=True)
        if status >= 500:
            return Outcome(UNKNOWN, error=error, retry_after=_retry_after(response))
        if status in (401, 403):
            return Outcome(FAILED, error_code=ErrorCode.auth, error=error)
        if status == 400 and kind in ("ValidationError", "BadRequestError"):
            # The body is ours and was checked; what varies per text, and Notify refuses,
            # is the number (or a team key's limit on who may be texted).
            return Outcome(FAILED, error_code=ErrorCode.invalid_number, error=error)
        return Outcome(FAILED, error_code=ErrorCode.rejected, error=error)

    def look_up(self, message: Outgoing, provider_id: str | None,
                since: datetime) -> Outcome | None:
        try:
            response = self.client.get(
                "/v2/notifications",
                params={"reference": message.reference, "template_type": "sms"},
                headers=self._headers())
        except httpx.TransportError as error:
            return Outcome(UNKNOWN, error=f"look-up: {type(error).__name__}")
        if response.status_code != 200:
            return Outcome(UNKNOWN, error=f"look-up: Notify {response.status_code}")
        found = [item for item in response.json().get("notifications", [])
                 if item.get("reference") == message.reference]
        alive = [item for item in found if item.get("status") not in NOTIFY_FAILURES]
        if not alive:
            return None  # never accepted, or accepted and given up on: either way, send
        return Outcome(SENT, provider_id=str(alive[0]["id"]),
                       provider_status=str(alive[0].get("status")))

    def close(self) -> None:
        self.client.close()


TWILIO_UNSUBSCRIBED = 21610
TWILIO_INVALID_TO = {21211, 21612, 21614}
TWILIO_TOO_MANY = 20429
TWILIO_FAILURES = frozenset({"failed", "undelivered", "canceled"})


def _twilio_time(value: str | None) -> datetime:
    """Twilio's RFC 2822 times ("Tue, 01 Dec 2026 10:00:00 +0000"); the epoch if absent."""
    try:
        return parsedate_to_datetime(value) if value else datetime.min.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


class TwilioProvider:
    """Twilio's Messages API: form-encoded, basic auth, delivery receipts to `status_url`."""

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, sender: str,
                 base_url: str = "https://api.twilio.com", status_url: str | None = None,
                 timeout: float | httpx.Timeout = TIMEOUT) -> None:
        self.account_sid = account_sid
        self.sender = sender
        self.status_url = status_url
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                   auth=(account_sid, auth_token))
        self.messages_path = f"/2010-04-01/Accounts/{account_sid}/Messages"

    def send(self, message: Outgoing) -> Outcome:
        form = {"To": message.to, "Body": message.body}
        # A messaging service's id starts MG; anything else is a number to send from.
        form["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        if self.status_url:
            form["StatusCallback"] = self.status_url
        try:
            response = self.client.post(f"{self.messages_path}.json", data=form,
                                        headers={"User-Agent": USER_AGENT})
        except httpx.TransportError as error:
            return _transport_outcome(error)
        if response.status_code in (200, 201):
            body = response.json()
            return Outcome(SENT, provider_id=str(body["sid"]),
                           provider_status=str(body.get("status", "queued")))
        return self._error(response)

    def _error(self, response: httpx.Response) -> Outcome:
        status = response.status_code
        try:
            body = response.json()
            code, text = int(body.get("code") or 0), str(body.get("message", ""))
        except (ValueError, TypeError, AttributeError):
            code, text = 0, response.text[:200]
        error = f"Twilio {status} {code}: {text}"[:400]
        if status == 429 or code == TWILIO_TOO_MANY:
            return Outcome(RETRY, error=error, retry_after=_retry_after(response),
                           throttled=True)
        if status >= 500:
            return Outcome(UNKNOWN, error=error, retry_after=_retry_after(response))
        if code == TWILIO_UNSUBSCRIBED:
            return Outcome(FAILED, error_code=ErrorCode.unsubscribed, error=error)
        if code in TWILIO_INVALID_TO:
            return Outcome(FAILED, error_code=ErrorCode.invalid_number, error=error)
        if status in (401, 403):
            return Outcome(FAILED, error_code=ErrorCode.auth, error=error)
        return Outcome(FAILED, error_code=ErrorCode.rejected, error=error)

    def look_up(self, message: Outgoing, provider_id: str | None,
                since: datetime) -> Outcome | None:
        """By the stored sid; without one (the answer was lost), among the texts to the same
        number since the claim, by their body: Twilio keeps no reference of ours."""
        try:
            if provider_id:
                response = self.client.get(f"{self.messages_path}/{provider_id}.json")
                if response.status_code == 404:
                    return None
                items = [response.json()] if response.status_code == 200 else None
            else:
                # Newest first. Not filtered by DateSent: a text Twilio still queues has none.
                response = self.client.get(f"{self.messages_path}.json",
                                           params={"To": message.to, "PageSize": 50})
                items = (response.json().get("messages", [])
                         if response.status_code == 200 else None)
        except httpx.TransportError as error:
            return Outcome(UNKNOWN, error=f"look-up: {type(error).__name__}")
        if items is None:
            return Outcome(UNKNOWN, error=f"look-up: Twilio {response.status_code}")
        earliest = since - timedelta(minutes=5)  # clocks differ
        alive = [item for item in items
                 if item.get("body") == message.body
                 and item.get("status") not in TWILIO_FAILURES
                 and _twilio_time(item.get("date_created")) >= earliest]
        if not alive:
            return None
        return Outcome(SENT, provider_id=str(alive[0]["sid"]),
                       provider_status=str(alive[0].get("status")))

    def close(self) -> None:
        self.client.close()


def new_reference() -> str:
    return uuid.uuid4().hex


def make_provider(name: str, *, notify_api_key: str = "", notify_template_id: str = "",
                  notify_base_url: str = "https://api.notifications.service.gov.uk",
                  twilio_account_sid: str = "", twilio_auth_token: str = "",
                  twilio_from: str = "", twilio_base_url: str = "https://api.twilio.com",
                  twilio_status_url: str | None = None) -> Provider:
    """The provider `name` ("log", "notify" or "twilio") from plain settings."""
    if name == "notify":
        return NotifyProvider(notify_api_key, notify_template_id, notify_base_url)
    if name == "twilio":
        return TwilioProvider(twilio_account_sid, twilio_auth_token, twilio_from,
                              twilio_base_url, twilio_status_url)
    if name == "log":
        return LogProvider()
    raise ValueError(f"unknown SMS provider {name!r}: log, notify or twilio")
