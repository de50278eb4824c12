"""HTTP routes for text messages: the outbox for staff, and the routes the SMS providers
call. Thin: the rules live in `lending.messages.service` and `notifications`.

The provider routes carry no staff token: Notify's are checked by the bearer token we gave
it (`LENDING_NOTIFY_CALLBACK_TOKEN`), Twilio's by `X-Twilio-Signature` over the public URL
(`LENDING_BASE_URL` and the path, never the Host header) and the posted form. A request
that fails the check is refused (401 or 403) before its body is read, and records nothing.
"""

import json
from typing import Annotated
from urllib.parse import parse_qsl

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.params import FromPath, FromQuery, QueryParameter, RawBody

from inventory.api import DbSession, Limit, Offset
from inventory.schemas import Page
from lending.db import MAX_ID
from lending.loans import service as loans
from lending.loans.schemas import LoanRead
from lending.messages import service
from lending.messages.schemas import MessageRead
from notifications import callbacks
from notifications import service as outbox
from notifications.models import MessageStatus

PUBLIC = {"exclude_from_auth": True}
Id = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]


def _json(body: bytes) -> dict:
    try:
        payload = json.loads(body or b"null")
    except ValueError as error:
        raise ClientException("the body is not JSON") from error
    if not isinstance(payload, dict):
        raise ClientException("the body is not a JSON object")
    return payload


def _notify_payload(request: Request, body: bytes) -> dict:
    settings = request.app.state.settings
    if not callbacks.verify_notify_token(request.headers.get("authorization"),
                                         settings.notify_callback_token):
        raise NotAuthorizedException("the callback's bearer token is not the one given "
                                     "to Notify")
    return _json(body)


def _twilio_form(request: Request, body: bytes, path: str) -> dict[str, str]:
    settings = request.app.state.settings
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as error:
        raise PermissionDeniedException("the Twilio signature does not match") from error
    if not callbacks.verify_twilio_signature(settings.base_url + path, pairs,
                                             request.headers.get("x-twilio-signature"),
                                             settings.twilio_auth_token):
        raise PermissionDeniedException("the Twilio signature does not match")
    return dict(pairs)


def _parsed(parse, payload):
    try:
        return parse(payload)
    except (KeyError, ValueError, TypeError) as error:
        raise ClientException(f"not the provider's format: {error}") from error


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @get("/", sync_to_thread=True)
    def list_notifications(self, db_session: DbSession, recipient_id: Id = None,
                           loan_id: Id = None,
                           status: FromQuery[MessageStatus | None] = None,
                           limit: Limit = 50, offset: Offset = 0) -> Page[MessageRead]:
        rows, total = outbox.list_messages(
            db_session, recipient_id=recipient_id, loan_id=loan_id,
            status=status.value if status else None, limit=limit, offset=offset)
        return Page[MessageRead](items=[MessageRead.model_validate(row) for row in rows],
                                 total=total, limit=limit, offset=offset)

    @post("/callbacks/notify", sync_to_thread=True, status_code=204, opt=PUBLIC)
    def notify_receipt(self, request: Request, state: State, body: RawBody) -> None:
        payload = _notify_payload(request, body)
        service.record_receipt(state.engine, _parsed(callbacks.parse_notify_receipt, payload))

    @post("/callbacks/twilio", sync_to_thread=True, status_code=204, opt=PUBLIC)
    def twilio_receipt(self, request: Request, state: State, body: RawBody) -> None:
        form = _twilio_form(request, body, service.CALLBACK_PATHS["receipt_twilio"])
        service.record_receipt(state.engine, _parsed(callbacks.parse_twilio_receipt, form))

    @post("/inbound/notify", sync_to_thread=True, status_code=204, opt=PUBLIC)
    def notify_inbound(self, request: Request, state: State, body: RawBody) -> None:
        payload = _notify_payload(request, body)
        service.receive_reply(state.engine, _parsed(callbacks.parse_notify_inbound, payload),
                              state.policy, service.Timing.of(state.settings))

    @post("/inbound/twilio", sync_to_thread=True, status_code=204, opt=PUBLIC)
    def twilio_inbound(self, request: Request, state: State, body: RawBody) -> None:
        form = _twilio_form(request, body, service.CALLBACK_PATHS["inbound_twilio"])
        service.receive_reply(state.engine, _parsed(callbacks.parse_twilio_inbound, form),
                              state.policy, service.Timing.of(state.settings))


class MoreTimeController(Controller):
    """Granting a request for more time made by text: with the loans, but here, as it
    renews and texts in one step."""

    path = "/loans"
    tags = ["loans"]

    @post("/{loan_id:int}/more-time", sync_to_thread=True, status_code=200)
    def grant_more_time(self, db_session: DbSession, state: State,
                        loan_id: FromPath[int]) -> LoanRead:
        loan = service.grant_more_time(db_session, loan_id, state.policy,
                                       service.Timing.of(state.settings))
        return loans.loan_view(db_session, loan, state.settings.today())
