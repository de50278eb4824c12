"""Giving data: the "Give data" page for a recipient, and the one-time slip that shows a
voucher's code when it is not sent by text."""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from sqlmodel import Session

from inventory.api import DbSession
from lending.pages.forms import FORM_ERRORS, form_fields, form_problems
from lending.pages.rendering import Form, go_to, render, settings_of
from lending.recipients.service import get_recipient
from lending.vouchers import service as vouchers
from lending.vouchers.schemas import VoucherIssue


class VoucherPages(Controller):
    def _give_page(self, request: Request, db_session: Session, recipient_id: int,
                   status_code: int = 200, **context: Any) -> Response:
        person = get_recipient(db_session, recipient_id)
        stock = vouchers.voucher_stock(db_session, location=person.home.code,
                                       status="available")
        return render(request, "give_data.html", status_code=status_code, person=person,
                      networks=[n for n in stock["networks"] if n["available"]],
                      **{"errors": {}, "values": {}} | context)

    @get("/recipients/{recipient_id:int}/data", sync_to_thread=True)
    def give_data(self, request: Request, db_session: DbSession, recipient_id: FromPath[int]
                  ) -> Response:
        return self._give_page(request, db_session, recipient_id)

    @post("/recipients/{recipient_id:int}/data", sync_to_thread=True)
    def issue(self, request: Request, db_session: DbSession, recipient_id: FromPath[int],
              data: Form) -> Response:
        values = form_fields(data, ("network", "override_reason"))
        values["send_sms"] = data.get("slip") != "yes"
        settings = settings_of(request)
        try:
            voucher, code = vouchers.issue_voucher(
                db_session, recipient_id, VoucherIssue.model_validate(values),
                request.app.state.policy, settings.zone, vouchers.code_box(settings.secret_key),
                actor=request.user)
        except FORM_ERRORS as error:
            status = getattr(error, "status_code", 422)
            return self._give_page(request, db_session, recipient_id, status_code=status,
                                   errors=form_problems(error), values=values)
        if code is None:
            return go_to(request, f"/recipients/{recipient_id}",
                         f"Data given: {voucher.data_gb:g} GB on {voucher.network}. The code is "
                         "on its way by text.")
        response = render(request, "voucher_slip.html", voucher=voucher, code=code,
                          person=get_recipient(db_session, recipient_id))
        # Shown once: never kept by a browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
        return response
