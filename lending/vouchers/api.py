"""HTTP routes for data vouchers. Thin: the rules live in `lending.vouchers.service`."""

from typing import Annotated, Literal

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter, RawBody

from inventory.api import DbSession
from inventory.service import Invalid
from lending.vouchers import service
from lending.vouchers.schemas import IssuedVoucher, VoucherImported, VoucherIssue, VoucherStock


class VoucherController(Controller):
    path = "/vouchers"
    tags = ["vouchers"]

    @post("/import", sync_to_thread=True, request_max_body_size=20_000_000)
    def import_vouchers(self, db_session: DbSession, state: State, body: RawBody
                        ) -> VoucherImported:
        """A CSV file (`text/csv`): `location, network, code, data_gb, expires_on`."""
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise Invalid("the file is not UTF-8 text", "file") from error
        created = service.import_vouchers(db_session, text,
                                          service.code_box(state.settings.secret_key),
                                          state.settings.today())
        return {"created": created}

    @get("/", sync_to_thread=True)
    def list_voucher_stock(
        self,
        db_session: DbSession,
        location: Annotated[str | None, QueryParameter(max_length=20)] = None,
        network: Annotated[str | None, QueryParameter(max_length=40)] = None,
        status: FromQuery[Literal["available", "issued", "expired"] | None] = None,
    ) -> VoucherStock:
        """Counts and gigabytes by network: never the codes."""
        return service.voucher_stock(db_session, location, network, status)


class RecipientVoucherController(Controller):
    path = "/recipients"
    tags = ["vouchers"]

    @post("/{recipient_id:int}/vouchers", sync_to_thread=True)
    def issue_voucher(self, db_session: DbSession, state: State, request: Request,
                      recipient_id: FromPath[int], data: JSONBody[VoucherIssue | None] = None
                      ) -> IssuedVoucher:
        voucher, code = service.issue_voucher(
            db_session, recipient_id, data or VoucherIssue(), state.policy,
            state.settings.zone, service.code_box(state.settings.secret_key),
            actor=request.user)
        return service.voucher_row(voucher) | {"code": code}
