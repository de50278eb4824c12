"""HTTP routes for recipients. Thin: the rules live in the service."""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlmodel import Session

from inventory.schemas import MAX_OFFSET
from lending.recipients import service
from lending.recipients.models import RecipientStatus
from lending.recipients.schemas import (
    RecipientCreate,
    RecipientRead,
    RecipientUpdate,
)


class RecipientController(Controller):
    path = "/recipients"
    tags = ["recipients"]

    @post("/", sync_to_thread=True)
    def create_recipient(self, db_session: Session, state: State, data: RecipientCreate
                         ) -> RecipientRead:
        recipient = service.create_recipient(db_session, data, state.policy)
        return RecipientRead(**service.recipient_row(db_session, recipient))

    @get("/", sync_to_thread=True)
    def list_recipients(
        self,
        db_session: Session,
        q: Annotated[str | None, Parameter(max_length=120)] = None,
        location: Annotated[str | None, Parameter(max_length=16)] = None,
        status: RecipientStatus | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        return service.search_recipients(db_session, q=q, location=location, status=status,
                                         limit=limit, offset=offset)

    @get("/{recipient_id:int}", sync_to_thread=True)
    def get_recipient(self, db_session: Session, state: State, recipient_id: int,
                      recipient_detail: Callable[[Session, int, date], dict[str, Any]]
                      ) -> dict[str, Any]:
        return recipient_detail(db_session, recipient_id, state.settings.today())

    @patch("/{recipient_id:int}", sync_to_thread=True)
    def update_recipient(self, db_session: Session, state: State, request: Request,
                         recipient_id: int, data: RecipientUpdate) -> RecipientRead:
        recipient = service.update_recipient(db_session, recipient_id, data, state.policy,
                                             request.user)
        return RecipientRead(**service.recipient_row(db_session, recipient))
