"""Printing QR labels."""

from typing import Any

from litestar import Controller, Request, Response, get, post
from sqlmodel import Session

from inventory import service as inventory
from inventory.api import DbSession
from lending.pages.forms import (
    FORM_ERRORS,
    form_fields,
    form_problems,
)
from lending.pages.rendering import (
    Form,
    render,
    settings_of,
)
from lending.pages.wording import (
    LABEL_TEMPLATES,
)
from lending.printing import service as printing
from lending.printing.schemas import LabelRequest


class LabelPages(Controller):
    @get("/labels", sync_to_thread=True)
    def labels(self, request: Request, db_session: DbSession) -> Response:
        return self._labels_page(request, db_session, values={"start": 1})

    def _labels_page(self, request: Request, db_session: Session, status_code: int = 200,
                     **context: Any) -> Response:
        return render(request, "labels.html", status_code=status_code,
                      templates=LABEL_TEMPLATES,
                      unlabelled_count=len(inventory.unlabelled_devices(db_session)),
                      **context)

    @post("/labels", sync_to_thread=True, status_code=200)
    def print_labels(self, request: Request, db_session: DbSession, data: Form) -> Response:
        values = form_fields(data, ("template", "start", "tags"))
        values["unlabelled"] = data.get("unlabelled") == "yes"
        try:
            wanted = LabelRequest(template=values.get("template", ""),
                                  start=values.get("start", 1),
                                  tags=str(values.get("tags", "")).replace(",", " ").split(),
                                  unlabelled=values["unlabelled"])
            pdf, _ = printing.print_labels(db_session, settings_of(request), wanted)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return Response(pdf, media_type="application/pdf", headers={
                "Content-Disposition": f'inline; filename="labels-{wanted.template}.pdf"'})
        return self._labels_page(request, db_session, status_code=422, errors=problems,
                                 values=values)


# --- errors, templates, wiring --------------------------------------------------------------
