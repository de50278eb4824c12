from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from inventory.api import DbSession
from inventory.service import Invalid, get_device
from lending.printing import service
from lending.printing.schemas import LabelRequest, check_template


class LabelController(Controller):
    path = "/"
    tags = ["labels"]

    @post("/labels", sync_to_thread=True, status_code=200, media_type="application/pdf")
    def print_label_sheet(self, db_session: DbSession, request: Request,
                          data: JSONBody[LabelRequest]) -> Response[bytes]:
        pdf, count = service.print_labels(db_session, request.app.state.settings, data)
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="labels-{data.template}.pdf"',
            "X-Label-Count": str(count)})

    @get("/labels/alignment/{template:str}", sync_to_thread=True,
         media_type="application/pdf")
    def print_alignment_page(self, request: Request, template: FromPath[str]
                             ) -> Response[bytes]:
        try:
            check_template(template)
        except ValueError as error:
            raise Invalid(str(error), "template") from error
        return Response(service.alignment_page(request.app.state.settings, template),
                        media_type="application/pdf")

    @get("/devices/{asset_tag:str}/qr.svg", sync_to_thread=True, media_type="image/svg+xml")
    def device_qr_svg(self, db_session: DbSession, request: Request, asset_tag: FromPath[str]
                      ) -> Response[str]:
        device = get_device(db_session, asset_tag)
        return Response(service.device_qr_svg(request.app.state.settings, device.asset_tag),
                        media_type="image/svg+xml")

    @get("/devices/{asset_tag:str}/qr.png", sync_to_thread=True, media_type="image/png")
    def device_qr_png(self, db_session: DbSession, request: Request, asset_tag: FromPath[str]
                      ) -> Response[bytes]:
        device = get_device(db_session, asset_tag)
        return Response(service.device_qr_png(request.app.state.settings, device.asset_tag),
                        media_type="image/png")
