"""Subject access over HTTP: everything held about one recipient, for managers."""

from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlmodel import Session

from lending.privacy import service

NO_STORE = {"Cache-Control": "no-store"}


class SubjectAccessController(Controller):
    path = "/recipients"
    tags = ["recipients"]
    opt = {"role": "manager"}

    @get("/{recipient_id:int}/export", sync_to_thread=True)
    def export_recipient(self, db_session: Session, state: State, recipient_id: int
                         ) -> Response[dict[str, Any]]:
        export = service.export_recipient(db_session, recipient_id, state.settings.today())
        return Response(export, headers=NO_STORE)

    @get("/{recipient_id:int}/export.pdf", sync_to_thread=True, media_type="application/pdf")
    def export_recipient_pdf(self, db_session: Session, state: State, recipient_id: int
                             ) -> Response[bytes]:
        export = service.export_recipient(db_session, recipient_id, state.settings.today())
        pdf = service.export_pdf(export, state.settings.organisation)
        return Response(pdf, media_type="application/pdf", headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="recipient-{recipient_id}.pdf"'})
