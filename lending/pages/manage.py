"""Managers' pages: the waiting list (move a request up, cancel one) and the audit log."""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from pydantic import ValidationError
from sqlmodel import Session

from eligibility import KINDS
from inventory.api import DbSession
from lending.accounts.models import Role
from lending.audit import service as audit
from lending.audit.schemas import AuditQuery
from lending.pages.forms import FORM_ERRORS, form_fields, form_problems, validation_errors
from lending.pages.rendering import (
    PAGE_SIZE,
    Form,
    chosen_filters,
    go_to,
    location_choices,
    page_number,
    pagination,
    render,
)
from lending.waitlist import service as waitlist
from lending.waitlist.schemas import CancelRequest, MoveUp


class ManagerPages(Controller):
    opt = {"role": Role.manager}

    def _waitlist_page(self, request: Request, db_session: Session, status_code: int = 200,
                       **context: Any) -> Response:
        params = request.query_params
        filters = {"location": params.get("location", ""), "kind": params.get("kind", "")}
        if filters["kind"] not in KINDS:
            filters["kind"] = ""
        offices = location_choices(db_session)
        if filters["location"] not in {office.code for office in offices}:
            filters["location"] = ""
        result = waitlist.list_requests(db_session, location=filters["location"] or None,
                                        kind=filters["kind"] or None, limit=200)
        return render(request, "waitlist.html", status_code=status_code,
                      requests=result["items"], total=result["total"], filters=filters,
                      locations=offices, kinds=KINDS, **context)

    @get("/waitlist", sync_to_thread=True)
    def waitlist(self, request: Request, db_session: DbSession) -> Response:
        return self._waitlist_page(request, db_session)

    @post("/waitlist/{request_id:int}", sync_to_thread=True)
    def change_request(self, request: Request, db_session: DbSession, request_id: FromPath[int],
                       data: Form) -> Response:
        """Move up (with a reason) or cancel, as the button pressed says."""
        values = form_fields(data, ("reason",))
        try:
            if data.get("action") == "cancel":
                waitlist.cancel_request(db_session, request_id,
                                        CancelRequest.model_validate(values))
                done = f"Request {request_id} cancelled."
            else:
                waitlist.move_up(db_session, request_id, MoveUp.model_validate(values),
                                 request.user)
                done = f"Request {request_id} moved to the head of its queue."
        except FORM_ERRORS as error:
            problems = {f"reason-{request_id}": message
                        for message in form_problems(error).values()}
            return self._waitlist_page(request, db_session, status_code=422,
                                       errors=problems)
        return go_to(request, "/waitlist", done)

    @get("/audit", sync_to_thread=True)
    def audit_log(self, request: Request, db_session: DbSession) -> Response:
        params = request.query_params
        number = page_number(params.get("page"))
        filters = {name: params.get(name, "").strip()
                   for name in ("entity", "entity_id", "actor", "since", "until")}
        problems: dict[str, str] = {}
        try:
            query = AuditQuery(**{k: v for k, v in filters.items() if v}, limit=PAGE_SIZE,
                               offset=(number - 1) * PAGE_SIZE)
        except ValidationError as error:
            problems = validation_errors(error)
            query = AuditQuery(limit=PAGE_SIZE)
        result = audit.list_entries(db_session, query)
        chosen = chosen_filters("/audit", filters, {
            "entity": ("What", None), "entity_id": ("Which", None), "actor": ("Who", None),
            "since": ("From", None), "until": ("Before", None)})
        return render(request, "audit.html", status_code=422 if problems else 200,
                      entries=result["items"], values=filters, errors=problems, chosen=chosen,
                      pages=pagination("/audit", filters, number, result["total"]))
