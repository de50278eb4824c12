"""HTTP routes for the waitlist. Thin: the rules live in `lending.waitlist.service`."""

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from eligibility import Kind
from inventory.api import DbSession, Limit, Offset
from inventory.schemas import Page
from lending.db import MAX_ID
from lending.waitlist import service
from lending.waitlist.models import RequestStatus
from lending.waitlist.schemas import (
    CancelRequest,
    MoveUp,
    OffersExpired,
    WaitlistCreate,
    WaitlistRequestRead,
)


class WaitlistController(Controller):
    path = "/waitlist"
    tags = ["waitlist"]

    @post("/", sync_to_thread=True)
    def add_waitlist_request(self, db_session: DbSession, state: State,
                             data: JSONBody[WaitlistCreate]) -> WaitlistRequestRead:
        request = service.add_request(db_session, data, state.policy, state.settings.zone)
        return service.request_row(db_session, request)

    @get("/", sync_to_thread=True)
    def list_waitlist_requests(
        self,
        db_session: DbSession,
        location: Annotated[str | None, QueryParameter(max_length=16)] = None,
        kind: FromQuery[Kind | None] = None,
        status: FromQuery[RequestStatus | None] = None,
        recipient_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[WaitlistRequestRead]:
        return service.list_requests(db_session, location=location, kind=kind,
                                     status=status, recipient_id=recipient_id, limit=limit,
                                     offset=offset)

    @get("/{request_id:int}", sync_to_thread=True)
    def get_waitlist_request(self, db_session: DbSession, request_id: FromPath[int]
                             ) -> WaitlistRequestRead:
        return service.request_row(db_session, service.get_request(db_session, request_id))

    @post("/{request_id:int}/move-up", sync_to_thread=True, status_code=200,
          opt={"role": "manager"})
    def move_waitlist_request_up(self, db_session: DbSession, request: Request,
                                 request_id: FromPath[int], data: JSONBody[MoveUp]
                                 ) -> WaitlistRequestRead:
        moved = service.move_up(db_session, request_id, data, request.user)
        return service.request_row(db_session, moved)

    @post("/{request_id:int}/cancel", sync_to_thread=True, status_code=200)
    def cancel_waitlist_request(self, db_session: DbSession, request_id: FromPath[int],
                                data: JSONBody[CancelRequest | None] = None
                                ) -> WaitlistRequestRead:
        cancelled = service.cancel_request(db_session, request_id, data or CancelRequest())
        return service.request_row(db_session, cancelled)

    @post("/expire-offers", sync_to_thread=True, status_code=200)
    def expire_waitlist_offers(self, db_session: DbSession) -> OffersExpired:
        return service.expire_offers(db_session)
