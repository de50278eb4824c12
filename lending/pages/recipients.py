"""Recipient pages: the list, adding one, a recipient's page, lending from it, and a
manager's override."""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from sqlmodel import Session

from eligibility import KINDS
from inventory import service as inventory
from inventory.api import DbSession
from inventory.service import NotFound
from lending.accounts.models import Role
from lending.decisions import service as decisions
from lending.decisions.schemas import OverrideCreate
from lending.details import recipient_detail
from lending.messages import service as messages
from lending.pages.forms import (
    FORM_ERRORS,
    every_field,
    form_fields,
    form_problems,
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
)
from lending.pages.wording import (
    KIND_LABELS,
)
from lending.recipients import service as recipients
from lending.recipients.models import RecipientStatus
from lending.recipients.schemas import DeclarationCreate, RecipientCreate, RecipientUpdate
from lending.vouchers.service import vouchers_of

DECLARATION_FIELDS = ("declared_to", "declared_on", "notes")


def _facts_from(data: dict[str, Any], questions: dict[str, str]) -> dict[str, bool]:
    answers = {}
    for fact in questions:
        answer = data.get(f"facts.{fact}")
        if answer in ("yes", "no"):
            answers[fact] = answer == "yes"
    return answers


class RecipientPages(Controller):
    @get("/recipients", sync_to_thread=True)
    def recipients(self, request: Request, db_session: DbSession, q: FromQuery[str] = "",
                   status: FromQuery[str] = "active", location: FromQuery[str] = "",
                   page: FromQuery[str] = "1") -> Response:
        """In order of name: a page of a long list sorted in the browser would mislead."""
        number = page_number(page)
        if status not in (*RecipientStatus.__members__, "all"):
            status = "active"
        wanted = RecipientStatus(status) if status in RecipientStatus.__members__ else None
        offices = location_choices(db_session)
        codes = {office.code for office in offices}
        filters = {"q": q.strip()[:120], "status": status,
                   "location": location.upper() if location.upper() in codes else ""}
        result = recipients.search_recipients(db_session, q=filters["q"] or None,
                                              location=filters["location"] or None,
                                              status=wanted, limit=PAGE_SIZE,
                                              offset=(number - 1) * PAGE_SIZE)
        chosen = chosen_filters("/recipients", {**filters, "status": (
            "" if status == "active" else status)}, {
            "q": ("Search", None), "status": ("Show", {"closed": "Closed", "all": "Everyone"}),
            "location": ("Office", {office.code: office.name for office in offices})})
        return render(request, "recipients.html", people=result["items"], values=filters,
                      locations=offices, chosen=chosen,
                      pages=pagination("/recipients", filters, number, result["total"]))

    @get("/recipients/new", sync_to_thread=True)
    def new_recipient(self, request: Request, db_session: DbSession) -> Response:
        return render(request, "recipient_new.html", locations=location_choices(db_session),
                      questions=request.app.state.policy.questions,
                      values={"language": "en", "facts": {}})

    @post("/recipients/new", sync_to_thread=True)
    def create_recipient(self, request: Request, db_session: DbSession, data: Form
                         ) -> Response:
        questions = request.app.state.policy.questions
        values = form_fields(data, ("name", "mobile", "language", "location", "reference"))
        values["restriction"] = data.get("restriction") or "none"
        values["easy_read"] = data.get("easy_read") == "yes"
        values["sms_opt_out"] = data.get("sms_opt_out") == "yes"
        values["facts"] = _facts_from(data, questions)
        try:
            recipient = recipients.create_recipient(
                db_session, RecipientCreate.model_validate(values), request.app.state.policy)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, f"/recipients/{recipient.id}",
                       f"Added {recipient.name}. You can lend them a device now.")
        return render(request, "recipient_new.html", status_code=422, errors=problems,
                      values=values, locations=location_choices(db_session), questions=questions)

    def _recipient_page(self, request: Request, db_session: Session, recipient_id: int,
                        status_code: int = 200, **context: Any) -> Response:
        detail = recipient_detail(db_session, recipient_id, settings_of(request).today())
        return render(request, "recipient.html", status_code=status_code, person=detail,
                      questions=request.app.state.policy.questions, kinds=KINDS,
                      vouchers=vouchers_of(db_session, recipient_id),
                      texts=messages.messages_of(db_session, recipient_id=recipient_id),
                      replies=messages.replies_of(db_session, recipient_id), **context)

    @get("/recipients/{recipient_id:int}", sync_to_thread=True)
    def recipient(self, request: Request, db_session: DbSession, recipient_id: FromPath[int]
                  ) -> Response:
        return self._recipient_page(request, db_session, recipient_id)

    @get("/recipients/{recipient_id:int}/edit", sync_to_thread=True)
    def edit_recipient(self, request: Request, db_session: DbSession, recipient_id: FromPath[int]
                       ) -> Response:
        person = recipients.recipient_row(
            db_session, recipients.get_recipient(db_session, recipient_id))
        return render(request, "recipient_edit.html", person=person, values=person,
                      locations=location_choices(db_session),
                      questions=request.app.state.policy.questions)

    @post("/recipients/{recipient_id:int}/edit", sync_to_thread=True)
    def update_recipient(self, request: Request, db_session: DbSession, recipient_id: FromPath[int],
                         data: Form) -> Response:
        """Clearing or loosening a licence condition, or reopening a record, needs a manager
        and a reason: the service says so (403 or 422), and the page shows it beside the
        reason."""
        questions = request.app.state.policy.questions
        values = every_field(data, ("name", "mobile", "language", "location", "reference",
                                    "status", "reason", "restriction"))
        values["easy_read"] = data.get("easy_read") == "yes"
        values["sms_opt_out"] = data.get("sms_opt_out") == "yes"
        values["facts"] = {fact: None for fact in questions} | _facts_from(data, questions)
        status_code = 422
        try:
            recipient, _reviews = recipients.update_recipient(
                db_session, recipient_id, RecipientUpdate.model_validate(values),
                request.app.state.policy, actor=request.user, zone=settings_of(request).zone)
        except FORM_ERRORS as error:
            problems = form_problems(error)
            status_code = getattr(error, "status_code", 422)
        else:
            return go_to(request, f"/recipients/{recipient.id}",
                         f"Saved the changes to {recipient.name}'s details.")
        person = recipients.recipient_row(
            db_session, recipients.get_recipient(db_session, recipient_id))
        return render(request, "recipient_edit.html", status_code=status_code,
                      errors=problems, person=person,
                      values={**values, "facts": {k: v for k, v in values["facts"].items()
                                                  if v is not None}},
                      locations=location_choices(db_session), questions=questions)

    @get("/lend", sync_to_thread=True)
    def lend(self, request: Request, db_session: DbSession, recipient_id: FromQuery[int],
             tag: FromQuery[str] = ""
             ) -> Response:
        """From a recipient's page: the tag typed or scanned, on to the issue page."""
        if not tag.strip():
            return go_to(request, f"/recipients/{recipient_id}#lend",
                       "Type or scan the tag of the device to lend.", "error")
        try:
            device = inventory.get_device(db_session, tag)
        except NotFound as error:
            return go_to(request, f"/recipients/{recipient_id}#lend", error.message, "error")
        return Redirect(f"/d/{device.asset_tag}/issue?recipient_id={recipient_id}",
                        status_code=303)

    @post("/recipients/{recipient_id:int}/override", sync_to_thread=True,
          opt={"role": Role.manager})
    def override(self, request: Request, db_session: DbSession, recipient_id: FromPath[int],
                 data: Form) -> Response:
        values = form_fields(data, ("kind", "reason"))
        state: State = request.app.state
        try:
            record = decisions.override_eligibility(
                db_session, recipient_id, OverrideCreate.model_validate(values), request.user,
                state.policy, settings_of(request).today(), settings_of(request).zone)
        except FORM_ERRORS as error:
            problems = form_problems(error)
            if isinstance(error, decisions.Ineligible):
                problems = {"reason": error.message}
        else:
            return go_to(request, f"/recipients/{recipient_id}",
                       f"Override recorded: one {KIND_LABELS[record.kind].lower()} may be lent "
                       "within the next 7 days.")
        return self._recipient_page(request, db_session, recipient_id, status_code=422,
                                    errors={f"override_{k}": v for k, v in problems.items()},
                                    values=values)

    @post("/recipients/{recipient_id:int}/declarations", sync_to_thread=True,
          opt={"role": Role.manager})
    def record_declaration(self, request: Request, db_session: DbSession,
                           recipient_id: FromPath[int], data: Form) -> Response:
        """A manager records to whom and when a loan was declared; the signed-in manager is
        who recorded it. The service refuses one the licence condition does not ask for."""
        values = form_fields(data, DECLARATION_FIELDS)
        try:
            declaration = recipients.record_declaration(
                db_session, recipient_id, DeclarationCreate.model_validate(values), request.user)
        except FORM_ERRORS as error:
            problems = form_problems(error)
            status_code = getattr(error, "status_code", 422)
        else:
            return go_to(request, f"/recipients/{recipient_id}#declarations",
                         f"Declaration to {declaration.declared_to} recorded: it covers "
                         "their next loan.")
        if "declared_to" in problems and not values.get("declared_to"):
            problems["declared_to"] = "Enter to whom it was declared"
        # What the form has no field for (the licence condition) is said at its top.
        problems = {(k if k in DECLARATION_FIELDS else "declaration"): v
                    for k, v in problems.items()}
        return self._recipient_page(request, db_session, recipient_id, status_code=status_code,
                                    errors=problems, values=values)


# --- loans ----------------------------------------------------------------------------------
