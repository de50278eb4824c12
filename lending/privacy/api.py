"""Subject access over HTTP: everything held about one recipient, for managers."""


from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import Stream

from inventory.api import DbSession
from lending.privacy import service
from lending.privacy.schemas import SubjectAccessExport

NO_STORE = {"Cache-Control": "no-store"}


class SubjectAccessController(Controller):
    path = "/recipients"
    tags = ["recipients"]
    opt = {"role": "manager"}

    @get("/{recipient_id:int}/export", sync_to_thread=True, media_type="application/json",
         responses={200: ResponseSpec(data_container=SubjectAccessExport,
                                      description="everything held about the recipient",
                                      generate_examples=False)})
    def export_recipient(self, request: Request, state: State,
                         recipient_id: FromPath[int]) -> Stream:
        """Streamed as it is read, however much is held: no list is capped."""
        user = request.user
        chunks = service.stream_export(state.engine, recipient_id, state.settings.today(),
                                       user.email, user.id)
        return Stream(chunks, media_type="application/json", headers=NO_STORE)

    @get("/{recipient_id:int}/export.pdf", sync_to_thread=True, media_type="application/pdf")
    def export_recipient_pdf(self, db_session: DbSession, state: State,
                             recipient_id: FromPath[int]) -> Response[bytes]:
        export = service.start_export(db_session, recipient_id, state.settings.today())
        pdf = service.export_pdf(export, state.settings.organisation)
        return Response(pdf, media_type="application/pdf", headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="recipient-{recipient_id}.pdf"'})
