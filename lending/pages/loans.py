"""Loan pages: lending a device (the issue form), the loan lists, a loan, its return,
renewal and loss."""

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from pydantic import ValidationError
from sqlmodel import Session

from inventory import service as inventory
from inventory.api import DbSession
from inventory.models import Device, DeviceKind, DeviceStatus
from inventory.service import InventoryError
from lending.decisions import service as decisions
from lending.loans import service as loans
from lending.loans.drafts import draft_agreement, draft_due_on
from lending.loans.schemas import LoanCreate, LoseLoan, RenewLoan, ReturnLoan
from lending.messages import service as messages
from lending.pages.forms import (
    FORM_ERRORS,
    as_list,
    form_fields,
    form_problems,
    service_errors,
    split_list,
    validation_errors,
)
from lending.pages.rendering import (
    PAGE_SIZE,
    Form,
    chosen_filters,
    go_to,
    location_choices,
    page_number,
    pagination,
    render,
    settings_of,
    sort_links,
)
from lending.pages.wording import (
    KIND_LABELS,
    LATE_BANDS,
    LOAN_TABS,
    STATUS_LABELS,
)
from lending.recipients import service as recipients


class IssuePages(Controller):
    def _issue_page(self, request: Request, db_session: Session, device: Device,
                    recipient_id: int, status_code: int = 200, decision: Any = None,
                    template: str = "issue.html", **context: Any) -> Response:
        state: State = request.app.state
        recipient = recipients.get_recipient(db_session, recipient_id)
        if decision is None:
            decision = decisions.check_eligibility(
                db_session, recipient.id, device.kind, state.policy, settings_of(request).today(),
                settings_of(request).zone)
        return render(request, template, status_code=status_code,
                      device=inventory.device_row(db_session, device),
                      recipient=recipients.recipient_row(db_session, recipient),
                      decision=decision,
                      loan_days=state.policy.loan_period_days(device.kind),
                      takes_sim=device.kind in loans.SIM_CARRIERS,
                      skills_question=state.policy.skills_question, **context)

    def _check_page(self, request: Request, db_session: Session, device: Device,
                    values: dict[str, Any], problems: dict[str, str] | None = None
                    ) -> Response:
        """Check your answers: what the loan will be, the agreement to print, then lend.
        What the form got wrong sends it back to the form."""
        try:
            wanted = LoanCreate.model_validate({**values, "agreement_accepted": True})
        except ValidationError as error:
            if not str(values.get("recipient_id", "")).isdigit():
                return go_to(request, f"/d/{device.asset_tag}#issue",
                             "Find the recipient first.", "error")
            shown = {**values, "accessories": ", ".join(values.get("accessories", []))}
            return self._issue_page(request, db_session, device, int(values["recipient_id"]),
                                    status_code=422, errors=validation_errors(error),
                                    values=shown)
        try:
            due_on = draft_due_on(db_session, wanted, request.app.state.policy,
                                  settings_of(request).today())
        except InventoryError as error:
            # The service judges the date (past, closed day, past the plan): back to the form.
            shown = {**values, "accessories": ", ".join(values.get("accessories", []))}
            return self._issue_page(request, db_session, device, wanted.recipient_id,
                                    status_code=error.status_code,
                                    errors=service_errors(error), values=shown)
        query = {key: value for key, value in {
            "recipient_id": wanted.recipient_id, "due_on": wanted.due_on or "",
            "accessories": ", ".join(wanted.accessories), "sim_tag": wanted.sim_tag or "",
            "override_reason": wanted.override_reason or ""}.items() if value}
        return self._issue_page(request, db_session, device, wanted.recipient_id,
                                template="issue_check.html",
                                status_code=422 if problems else 200, errors=problems or {},
                                values={**values, "accessories": wanted.accessories},
                                due_on=due_on, back_query=urlencode(query))

    @get("/d/{asset_tag:str}/issue", sync_to_thread=True)
    def issue_form(self, request: Request, db_session: DbSession, asset_tag: FromPath[str],
                   recipient_id: FromQuery[int | None] = None) -> Response:
        device = inventory.get_device(db_session, asset_tag)
        if recipient_id is None:
            return go_to(request, f"/d/{device.asset_tag}#issue", "Find the recipient first.",
                       "error")
        if device.status != DeviceStatus.available:
            return go_to(request, f"/d/{device.asset_tag}",
                       f"{device.asset_tag} is {STATUS_LABELS[device.status].lower()}, so it "
                       "cannot be lent now.", "error")
        # "Change" links on the check page come back with what was entered.
        values = form_fields(dict(request.query_params),
                             ("due_on", "accessories", "sim_tag", "override_reason"))
        return self._issue_page(request, db_session, device, recipient_id, values=values)

    @get("/d/{asset_tag:str}/agreement.pdf", sync_to_thread=True)
    def draft_agreement(self, request: Request, db_session: DbSession, asset_tag: FromPath[str]
                        ) -> Response:
        """The agreement as it will read, to print and read before the loan is made."""
        values = form_fields(dict(request.query_params),
                             ("recipient_id", "due_on", "sim_tag"))
        values["asset_tag"] = asset_tag
        values["accessories"] = split_list(request.query_params.get("accessories"))
        try:
            pdf = draft_agreement(db_session, LoanCreate.model_validate(values),
                                  request.app.state.policy, settings_of(request).organisation,
                                  settings_of(request).today())
        except FORM_ERRORS as error:
            problems = form_problems(error)
            return go_to(request, f"/d/{inventory.normalise_tag(asset_tag)}",
                         "The agreement could not be drawn up: "
                         + "; ".join(problems.values()), "error")
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": 'inline; filename="draft-loan-agreement.pdf"'})

    @post("/d/{asset_tag:str}/issue", sync_to_thread=True)
    def issue(self, request: Request, db_session: DbSession, asset_tag: FromPath[str], data: Form
              ) -> Response:
        device = inventory.get_device(db_session, asset_tag)
        values = form_fields(data, ("recipient_id", "due_on", "sim_tag", "override_reason"))
        values["asset_tag"] = device.asset_tag
        values["accessories"] = split_list(data.get("accessories"))
        values["purposes"] = as_list(data.get("purposes"))
        if data.get("wants_skills_help") in ("yes", "no"):
            values["wants_skills_help"] = data.get("wants_skills_help") == "yes"
        values["agreement_accepted"] = data.get("agreement_accepted") == "yes"
        if data.get("confirm") != "yes":
            return self._check_page(request, db_session, device, values)
        decision = None
        try:
            loan_request = LoanCreate.model_validate(values)
            made = loans.issue_loan(db_session, loan_request, request.app.state.policy,
                                    settings_of(request).zone, actor=request.user)
        except ValidationError as error:
            problems = validation_errors(error)
        except decisions.Ineligible as error:
            problems = {"decision": error.message}
            decision = {"outcome": error.decision.outcome,
                        "reasons": [r.model_dump() for r in error.decision.reasons],
                        "policy": error.decision.policy_version,
                        "overridable": error.decision.overridable}
        except InventoryError as error:
            problems = service_errors(error)
        else:
            row = loans.loan_row(db_session, made[0].id, settings_of(request).today())
            also = f" with SIM {values['sim_tag'].upper()}" if len(made) > 1 else ""
            return go_to(request, f"/loans/{row['id']}",
                       f"{row['asset_tag']}{also} lent to {row['recipient_name']}, due back "
                       f"{row['due_on']:%A %-d %B %Y}.")
        if "recipient_id" in problems and not str(values.get("recipient_id", "")).isdigit():
            return go_to(request, f"/d/{device.asset_tag}#issue", "Find the recipient first.",
                       "error")
        if set(problems) <= {"agreement_accepted"}:
            return self._check_page(request, db_session, device, values, problems)
        values["accessories"] = data.get("accessories", "")
        return self._issue_page(request, db_session, device, int(values["recipient_id"]),
                                status_code=422, decision=decision, errors=problems,
                                values=values)


DEVICE_KINDS = [kind.value for kind in DeviceKind]


# --- recipients -----------------------------------------------------------------------------



class LoanPages(Controller):
    @get("/loans", sync_to_thread=True)
    def loans(self, request: Request, db_session: DbSession, status: FromQuery[str] = "active",
              location: FromQuery[str] = "", kind: FromQuery[str] = "", late: FromQuery[str] = "",
              sort: FromQuery[str] = "", page: FromQuery[str] = "1") -> Response:
        """One tab of loans, filtered by office and kind (and, when overdue, by how late),
        sorted on the server: a page of a long list sorted in the browser would mislead."""
        number = page_number(page)
        wanted = status if status in dict(LOAN_TABS) else ""
        offices = location_choices(db_session)
        filters = {"location": location.upper() if location.upper() in
                   {office.code for office in offices} else "",
                   "kind": kind if kind in DEVICE_KINDS else "",
                   "late": late if wanted == "overdue" and late in LATE_BANDS else ""}
        order = sort if sort in loans.LOAN_ORDERS else "-id"
        _, fewest, most = LATE_BANDS.get(filters["late"], ("", None, None))
        result = loans.list_loans(db_session, settings_of(request).today(), status=wanted or None,
                                  location=filters["location"] or None,
                                  kind=filters["kind"] or None, min_days_late=fewest,
                                  max_days_late=most, order=order,
                                  contact=wanted == "overdue",
                                  limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        tab = {"status": wanted or "all"}
        kept = {**tab, **filters, "sort": "" if order == "-id" else order}
        chosen = chosen_filters("/loans", filters, {
            "location": ("Office", {office.code: office.name for office in offices}),
            "kind": ("Kind", KIND_LABELS),
            "late": ("Days late", {key: band[0] for key, band in LATE_BANDS.items()})},
            keep={**tab, "sort": kept["sort"]})
        return render(request, "loans.html", items=result["items"], tabs=LOAN_TABS,
                      status=wanted, values=filters, chosen=chosen, locations=offices,
                      bands=[(key, band[0]) for key, band in LATE_BANDS.items()],
                      kinds=[(kind, KIND_LABELS[kind]) for kind in DEVICE_KINDS],
                      sorting=sort_links("/loans", {**tab, **filters}, order, {
                          "Loan": "id", "Recipient": "recipient", "Due": "due"}),
                      pages=pagination("/loans", kept, number, result["total"]))

    def _loan_page(self, request: Request, db_session: Session, loan_id: int,
                   status_code: int = 200, **context: Any) -> Response:
        loans.get_loan(db_session, loan_id)
        row = loans.loan_row(db_session, loan_id, settings_of(request).today())
        return render(request, "loan.html", status_code=status_code, loan=row,
                      texts=messages.messages_of(db_session, loan_id=loan_id), **context)

    @get("/loans/{loan_id:int}", sync_to_thread=True)
    def loan(self, request: Request, db_session: DbSession, loan_id: FromPath[int]) -> Response:
        return self._loan_page(request, db_session, loan_id)

    @post("/loans/{loan_id:int}/return", sync_to_thread=True)
    def return_loan(self, request: Request, db_session: DbSession, loan_id: FromPath[int],
                    data: Form) -> Response:
        values = form_fields(data, ("condition", "notes"))
        values["missing_accessories"] = as_list(data.get("missing_accessories"))
        if as_list(data.get("helped_with")):
            values["helped_with"] = as_list(data.get("helped_with"))
        try:
            loan = loans.return_loan(db_session, loan_id, ReturnLoan.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            row = loans.loan_row(db_session, loan.id, settings_of(request).today())
            after = ("it goes for repair" if loan.returned_condition == "D"
                     else "record its wipe before it is lent again")
            return go_to(request, f"/d/{row['asset_tag']}",
                       f"{row['asset_tag']} returned by {row['recipient_name']}: {after}.")
        return self._loan_page(request, db_session, loan_id, status_code=422,
                               errors=problems, values=values)

    @post("/loans/{loan_id:int}/renew", sync_to_thread=True)
    def renew_loan(self, request: Request, db_session: DbSession, loan_id: FromPath[int], data: Form
                   ) -> Response:
        values = form_fields(data, ("due_on",))
        try:
            loan = loans.renew_loan(db_session, loan_id, RenewLoan.model_validate(values),
                                    request.app.state.policy, settings_of(request).zone)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, f"/loans/{loan.id}",
                       f"Renewed: now due back {loan.due_on:%A %-d %B %Y}.")
        # The renew form has one field, the new date: every problem is shown beside it.
        return self._loan_page(request, db_session, loan_id, status_code=422,
                               errors={"renew_due_on": "; ".join(problems.values())},
                               values={"renew_due_on": values.get("due_on")})

    @post("/loans/{loan_id:int}/more-time", sync_to_thread=True)
    def grant_more_time(self, request: Request, db_session: DbSession,
                        loan_id: FromPath[int]) -> Response:
        """The one click on a request for more time by text: renew within the policy and
        text the new date."""
        settings = settings_of(request)
        try:
            loan = messages.grant_more_time(db_session, loan_id, request.app.state.policy,
                                            messages.Timing.of(settings))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, f"/loans/{loan.id}",
                         f"Renewed as they asked: now due back {loan.due_on:%A %-d %B %Y}. "
                         "They will get a text with the new date.")
        return self._loan_page(request, db_session, loan_id, status_code=422,
                               errors={"more_time": " ".join(problems.values())})

    @get("/loans/{loan_id:int}/lost", sync_to_thread=True)
    def confirm_lost(self, request: Request, db_session: DbSession, loan_id: FromPath[int]
                     ) -> Response:
        loans.get_loan(db_session, loan_id)
        row = loans.loan_row(db_session, loan_id, settings_of(request).today())
        return render(request, "confirm_lost.html", loan=row)

    @post("/loans/{loan_id:int}/lost", sync_to_thread=True)
    def record_lost(self, request: Request, db_session: DbSession, loan_id: FromPath[int],
                    data: Form) -> Response:
        values = form_fields(data, ("notes", "police_reference"))
        values["stolen"] = data.get("stolen") == "yes"
        try:
            loan = loans.record_loss(db_session, loan_id, LoseLoan.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            row = loans.loan_row(db_session, loan.id, settings_of(request).today())
            return go_to(request, f"/d/{row['asset_tag']}",
                       f"{row['asset_tag']} recorded as {'stolen' if loan.stolen else 'lost'}.")
        row = loans.loan_row(db_session, loan_id, settings_of(request).today())
        return render(request, "confirm_lost.html", status_code=422, loan=row,
                      errors=problems, values=values)
