"""The desk: the home page and the scan box."""

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.response import Redirect
from sqlmodel import Session

from inventory import service as inventory
from inventory.schemas import DeviceFilter
from inventory.service import NotFound
from lending.loans import service as loans
from lending.pages.rendering import (
    go_to,
    render,
    settings_of,
)
from lending.pages.wording import (
    STATUS_LABELS,
)


class DeskPages(Controller):
    @get("/", sync_to_thread=True)
    def home(self, request: Request, db_session: Session) -> Response:
        counts = [{"status": status, "label": STATUS_LABELS[status], "total": total}
                  for status, total in inventory.count_by_status(db_session).items()]
        overdue = loans.list_loans(db_session, settings_of(request).today(), status="overdue",
                                   limit=10)
        return render(request, "home.html", counts=counts, overdue=overdue)

    @get("/scan/camera", sync_to_thread=True)
    def camera(self, request: Request) -> Response:
        """A phone's camera reads the label; without a camera or a barcode reader in the
        browser, the page is a plain scan box."""
        return render(request, "camera.html")

    @get("/scan", sync_to_thread=True)
    def scan(self, request: Request, db_session: Session, tag: str = "") -> Response:
        """What was typed or scanned: a tag, a label's URL, or anything else to search for."""
        raw = tag.strip()
        if not raw:
            return go_to(request, "/", "Type or scan a tag first.", "error")
        wanted = inventory.normalise_tag(raw)
        try:
            device = inventory.get_device(db_session, wanted)
            return Redirect(f"/d/{device.asset_tag}", status_code=303)
        except NotFound:
            if inventory.tag_is_mistyped(wanted):
                return Redirect(f"/d/{wanted}", status_code=303)
        needle = wanted if "/D/" in raw.upper() else raw
        found = inventory.list_devices(db_session, DeviceFilter(q=needle[:80], limit=2))
        if found["total"] == 1:
            return Redirect(f"/d/{found['items'][0]['asset_tag']}", status_code=303)
        return Redirect(f"/devices?{urlencode({'q': needle[:80]})}", status_code=303)


# --- devices --------------------------------------------------------------------------------
