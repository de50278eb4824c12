"""HTTP routes for loans. Thin: the rules live in `lending.loans.service`."""

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlmodel import Session

from inventory.schemas import MAX_OFFSET
from lending.db import MAX_ID
from lending.loans import service
from lending.loans.schemas import FoundDevice, LoanCreate, LoseLoan, RenewLoan, ReturnLoan


class LoanController(Controller):
    path = "/loans"
    tags = ["loans"]

    @post("/", sync_to_thread=True)
    def issue_loan(self, db_session: Session, state: State, request: Request,
                   data: LoanCreate) -> dict[str, Any]:
        loans = service.issue_loan(db_session, data, state.policy, state.settings.zone,
                                   actor=request.user)
        today = state.settings.today()
        body = service.loan_view(db_session, loans[0], today)
        if len(loans) > 1:
            body["sim_loan"] = service.loan_view(db_session, loans[1], today)
        return body

    @get("/", sync_to_thread=True)
    def list_loans(
        self,
        db_session: Session,
        state: State,
        status: Literal["active", "overdue", "returned", "lost"] | None = None,
        recipient_id: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        asset_tag: Annotated[str | None, Parameter(max_length=20)] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        return service.list_loans(db_session, state.settings.today(), status=status,
                                  recipient_id=recipient_id, asset_tag=asset_tag,
                                  limit=limit, offset=offset)

    @get("/{loan_id:int}", sync_to_thread=True)
    def get_loan(self, db_session: Session, state: State, loan_id: int) -> dict[str, Any]:
        service.get_loan(db_session, loan_id)
        return service.loan_row(db_session, loan_id, state.settings.today())

    @post("/{loan_id:int}/renew", sync_to_thread=True, status_code=200)
    def renew_loan(self, db_session: Session, state: State, loan_id: int,
                   data: RenewLoan | None = None) -> dict[str, Any]:
        loan = service.renew_loan(db_session, loan_id, data or RenewLoan(), state.policy,
                                  state.settings.zone)
        return service.loan_view(db_session, loan, state.settings.today())

    @post("/{loan_id:int}/return", sync_to_thread=True, status_code=200)
    def return_loan(self, db_session: Session, state: State, loan_id: int, data: ReturnLoan
                    ) -> dict[str, Any]:
        loan = service.return_loan(db_session, loan_id, data)
        return service.loan_view(db_session, loan, state.settings.today())

    @post("/{loan_id:int}/lost", sync_to_thread=True, status_code=200)
    def record_loan_lost(self, db_session: Session, state: State, loan_id: int,
                         data: LoseLoan | None = None) -> dict[str, Any]:
        loan = service.record_loss(db_session, loan_id, data or LoseLoan())
        return service.loan_view(db_session, loan, state.settings.today())

    @post("/{loan_id:int}/found", sync_to_thread=True, status_code=200)
    def record_loan_found(self, db_session: Session, state: State, loan_id: int,
                          data: FoundDevice | None = None) -> dict[str, Any]:
        loan = service.record_found(db_session, loan_id, data or FoundDevice())
        return service.loan_view(db_session, loan, state.settings.today())

    @get("/{loan_id:int}/agreement.pdf", sync_to_thread=True, media_type="application/pdf")
    def get_loan_agreement(self, db_session: Session, state: State, loan_id: int
                           ) -> Response[bytes]:
        pdf = service.agreement_of(db_session, loan_id, state.settings.organisation,
                                   state.settings.zone, state.settings.today())
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="loan-{loan_id}-agreement.pdf"'})
