"""HTTP routes for the waitlist. Thin: the rules live in `lending.waitlist.service`."""

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlmodel import Session

from eligibility import Kind
from inventory.schemas import MAX_OFFSET
from lending.db import MAX_ID
from lending.waitlist import service
from lending.waitlist.models import RequestStatus
from lending.waitlist.schemas import CancelRequest, MoveUp, WaitlistCreate


class WaitlistController(Controller):
    path = "/waitlist"
    tags = ["waitlist"]

    @post("/", sync_to_thread=True)
    def add_waitlist_request(self, db_session: Session, state: State, data: WaitlistCreate
                             ) -> dict[str, Any]:
        request = service.add_request(db_session, data, state.policy, state.settings.zone)
        return service.request_row(db_session, request)

    @get("/", sync_to_thread=True)
    def list_waitlist_requests(
        self,
        db_session: Session,
        location: Annotated[str | None, Parameter(max_length=16)] = None,
        kind: Kind | None = None,
        status: RequestStatus | None = None,
        recipient_id: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        return service.list_requests(db_session, location=location, kind=kind,
                                     status=status, recipient_id=recipient_id, limit=limit,
                                     offset=offset)

    @get("/{request_id:int}", sync_to_thread=True)
    def get_waitlist_request(self, db_session: Session, request_id: int) -> dict[str, Any]:
        return service.request_row(db_session, service.get_request(db_session, request_id))

    @post("/{request_id:int}/move-up", sync_to_thread=True, status_code=200,
          opt={"role": "manager"})
    def move_waitlist_request_up(self, db_session: Session, request: Request,
                                 request_id: int, data: MoveUp) -> dict[str, Any]:
        moved = service.move_up(db_session, request_id, data, request.user)
        return service.request_row(db_session, moved)

    @post("/{request_id:int}/cancel", sync_to_thread=True, status_code=200)
    def cancel_waitlist_request(self, db_session: Session, request_id: int,
                                data: CancelRequest | None = None) -> dict[str, Any]:
        cancelled = service.cancel_request(db_session, request_id, data or CancelRequest())
        return service.request_row(db_session, cancelled)

    @post("/expire-offers", sync_to_thread=True, status_code=200)
    def expire_waitlist_offers(self, db_session: Session) -> dict[str, list[int]]:
        return service.expire_offers(db_session)
