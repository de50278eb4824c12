"""HTTP routes for recipients. Thin: the rules live in the service. A recipient's detail,
which crosses the domains above this one, is served by `lending.details`."""

from typing import Annotated

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inventory.api import DbSession, Limit, Offset
from inventory.schemas import Page
from lending.recipients import service
from lending.recipients.models import RecipientStatus
from lending.recipients.schemas import (
    DeclarationCreate,
    DeclarationRead,
    RecipientCreate,
    RecipientRead,
    RecipientSummary,
    RecipientUpdate,
    RecipientUpdated,
)


class RecipientController(Controller):
    path = "/recipients"
    tags = ["recipients"]

    @post("/", sync_to_thread=True)
    def create_recipient(self, db_session: DbSession, state: State,
                         data: JSONBody[RecipientCreate]) -> RecipientRead:
        recipient = service.create_recipient(db_session, data, state.policy)
        return RecipientRead(**service.recipient_row(db_session, recipient))

    @get("/", sync_to_thread=True)
    def list_recipients(
        self,
        db_session: DbSession,
        q: Annotated[str | None, QueryParameter(max_length=120)] = None,
        location: Annotated[str | None, QueryParameter(max_length=16)] = None,
        status: FromQuery[RecipientStatus | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[RecipientSummary]:
        return service.search_recipients(db_session, q=q, location=location, status=status,
                                         limit=limit, offset=offset)

    @patch("/{recipient_id:int}", sync_to_thread=True)
    def update_recipient(self, db_session: DbSession, state: State, request: Request,
                         recipient_id: FromPath[int], data: JSONBody[RecipientUpdate]
                         ) -> RecipientUpdated:
        recipient, reviews = service.update_recipient(
            db_session, recipient_id, data, state.policy, request.user, state.settings.zone)
        return RecipientUpdated(**service.recipient_row(db_session, recipient),
                                reviews=reviews)

    @post("/{recipient_id:int}/declarations", sync_to_thread=True, opt={"role": "manager"})
    def record_declaration(self, db_session: DbSession, request: Request,
                           recipient_id: FromPath[int], data: JSONBody[DeclarationCreate]
                           ) -> DeclarationRead:
        """Managers: a loan declared under a declared_only licence condition."""
        declaration = service.record_declaration(db_session, recipient_id, data, request.user)
        return DeclarationRead(**service.declaration_row(declaration))
