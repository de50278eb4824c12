"""HTTP routes for loans. Thin: the rules live in `lending.loans.service`."""

from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inventory.api import DbSession, Limit, Offset
from inventory.models import DeviceKind
from inventory.schemas import Page
from lending.db import MAX_ID
from lending.loans import service
from lending.loans.schemas import (
    FoundDevice,
    IssuedLoan,
    LoanCreate,
    LoanRead,
    LoseLoan,
    RenewLoan,
    ReturnLoan,
)

# The orders a list of loans may be sorted in, as the service defines them.
LoanOrder = Literal[tuple(service.LOAN_ORDERS)]  # type: ignore[valid-type]


class LoanController(Controller):
    path = "/loans"
    tags = ["loans"]

    @post("/", sync_to_thread=True)
    def issue_loan(self, db_session: DbSession, state: State, request: Request,
                   data: JSONBody[LoanCreate]) -> IssuedLoan:
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
        db_session: DbSession,
        state: State,
        status: FromQuery[Literal["active", "overdue", "returned", "lost", "more_time"]
                          | None] = None,
        recipient_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        asset_tag: Annotated[str | None, QueryParameter(max_length=20)] = None,
        location: Annotated[str | None, QueryParameter(
            max_length=16, description="the recipient's office code")] = None,
        kind: FromQuery[DeviceKind | None] = None,
        min_days_late: Annotated[int | None, QueryParameter(
            ge=1, le=36500, description="at least this many days past due (implies overdue)")
        ] = None,
        max_days_late: Annotated[int | None, QueryParameter(
            ge=1, le=36500, description="at most this many days past due (implies overdue)")
        ] = None,
        sort: FromQuery[LoanOrder] = "-id",
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[LoanRead]:
        return service.list_loans(db_session, state.settings.today(), status=status,
                                  recipient_id=recipient_id, asset_tag=asset_tag,
                                  location=location, kind=kind.value if kind else None,
                                  min_days_late=min_days_late, max_days_late=max_days_late,
                                  order=sort, limit=limit, offset=offset)

    @get("/{loan_id:int}", sync_to_thread=True)
    def get_loan(self, db_session: DbSession, state: State, loan_id: FromPath[int]
                 ) -> LoanRead:
        service.get_loan(db_session, loan_id)
        return service.loan_row(db_session, loan_id, state.settings.today())

    @post("/{loan_id:int}/renew", sync_to_thread=True, status_code=200)
    def renew_loan(self, db_session: DbSession, state: State, loan_id: FromPath[int],
                   data: JSONBody[RenewLoan | None] = None) -> LoanRead:
        loan = service.renew_loan(db_session, loan_id, data or RenewLoan(), state.policy,
                                  state.settings.zone)
        return service.loan_view(db_session, loan, state.settings.today())

    @post("/{loan_id:int}/return", sync_to_thread=True, status_code=200)
    def return_loan(self, db_session: DbSession, state: State, loan_id: FromPath[int],
                    data: JSONBody[ReturnLoan]) -> LoanRead:
        loan = service.return_loan(db_session, loan_id, data)
        return service.loan_view(db_session, loan, state.settings.today())

    @post("/{loan_id:int}/lost", sync_to_thread=True, status_code=200)
    def record_loan_lost(self, db_session: DbSession, state: State, loan_id: FromPath[int],
                         data: JSONBody[LoseLoan | None] = None) -> LoanRead:
        loan = service.record_loss(db_session, loan_id, data or LoseLoan())
        return service.loan_view(db_session, loan, state.settings.today())

    @post("/{loan_id:int}/found", sync_to_thread=True, status_code=200)
    def record_loan_found(self, db_session: DbSession, state: State, loan_id: FromPath[int],
                          data: JSONBody[FoundDevice | None] = None) -> LoanRead:
        loan = service.record_found(db_session, loan_id, data or FoundDevice())
        return service.loan_view(db_session, loan, state.settings.today())

    @get("/{loan_id:int}/agreement.pdf", sync_to_thread=True, media_type="application/pdf")
    def get_loan_agreement(self, db_session: DbSession, state: State, loan_id: FromPath[int],
                           easy_read: FromQuery[bool | None] = None,
                           language: FromQuery[Literal["en", "cy"] | None] = None
                           ) -> Response[bytes]:
        """With the starter sheet; in the recipient's language and layout unless asked."""
        pdf = service.agreement_of(db_session, loan_id, state.settings.organisation,
                                   state.settings.zone, state.settings.today(),
                                   easy_read=easy_read, language=language,
                                   resources_file=state.settings.starter_sheet_file)
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="loan-{loan_id}-agreement.pdf"'})
