"""The desk: the home page and the scan box."""

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from litestar.response import Redirect

from inventory import service as inventory
from inventory.api import DbSession
from inventory.schemas import DeviceFilter
from inventory.service import NotFound
from lending.loans.desk import desk_summary
from lending.pages.rendering import (
    go_to,
    is_manager,
    render,
    settings_of,
)


class DeskPages(Controller):
    @get("/", sync_to_thread=True)
    def home(self, request: Request, db_session: DbSession) -> Response:
        """The user's own office first; a manager may look at any office, or all of them."""
        user = request.user
        wanted = (request.query_params.get("office") or "").upper()[:16]
        if not is_manager(request):
            wanted = ""
        every = wanted == "ALL"
        summary = desk_summary(db_session, settings_of(request).today(),
                               office=None if every else wanted or None,
                               home_id=None if every else user.location_id)
        return render(request, "home.html", desk=summary)

    @get("/scan/camera", sync_to_thread=True)
    def camera(self, request: Request) -> Response:
        """A phone's camera reads the label; without a camera or a barcode reader in the
        browser, the page is a plain scan box."""
        return render(request, "camera.html")

    @get("/scan", sync_to_thread=True)
    def scan(self, request: Request, db_session: DbSession, tag: FromQuery[str] = "") -> Response:
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
