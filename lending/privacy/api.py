"""Subject access over HTTP: everything held about one recipient, for managers."""


from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from inventory.api import DbSession
from lending.privacy import service
from lending.privacy.schemas import SubjectAccessExport

NO_STORE = {"Cache-Control": "no-store"}


class SubjectAccessController(Controller):
    path = "/recipients"
    tags = ["recipients"]
    opt = {"role": "manager"}

    @get("/{recipient_id:int}/export", sync_to_thread=True)
    def export_recipient(self, db_session: DbSession, state: State,
                         recipient_id: FromPath[int]) -> Response[SubjectAccessExport]:
        export = service.export_recipient(db_session, recipient_id, state.settings.today())
        return Response(export, headers=NO_STORE)

    @get("/{recipient_id:int}/export.pdf", sync_to_thread=True, media_type="application/pdf")
    def export_recipient_pdf(self, db_session: DbSession, state: State,
                             recipient_id: FromPath[int]) -> Response[bytes]:
        export = service.export_recipient(db_session, recipient_id, state.settings.today())
        pdf = service.export_pdf(export, state.settings.organisation)
        return Response(pdf, media_type="application/pdf", headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="recipient-{recipient_id}.pdf"'})
