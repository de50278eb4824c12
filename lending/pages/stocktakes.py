"""Stocktakes: start a count for an office, scan its shelf, close it and settle what is
missing. The scan box works like the desk's: a USB scanner types the tag and Enter, and
the page answers at once, green, amber or red, with the box ready for the next scan. The
camera page counts the same way: each label a phone's camera reads is posted as a count,
and the page comes back with the answer and the camera looking for the next label."""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from sqlmodel import Session

from inventory import service as inventory
from inventory.api import DbSession
from inventory.service import Conflict, NotFound
from lending.accounts.models import Role
from lending.pages.forms import FORM_ERRORS, form_fields, form_problems
from lending.pages.rendering import (
    PAGE_SIZE,
    Form,
    go_to,
    history_line,
    location_choices,
    page_number,
    pagination,
    render,
    settings_of,
)
from lending.stocktakes import service as stocktakes
from lending.stocktakes.schemas import ResolveMissing, StocktakeStart


class StocktakePages(Controller):
    @get("/stocktakes", sync_to_thread=True)
    def stocktakes(self, request: Request, db_session: DbSession,
                   page: FromQuery[str] = "1") -> Response:
        return self._list_page(request, db_session, page_number(page))

    def _list_page(self, request: Request, db_session: Session, number: int = 1,
                   status_code: int = 200, **context: Any) -> Response:
        result = stocktakes.list_stocktakes(db_session, limit=PAGE_SIZE,
                                            offset=(number - 1) * PAGE_SIZE)
        return render(request, "stocktakes.html", status_code=status_code,
                      stocktakes=result["items"],
                      location_options=[(location.code, location.name)
                                        for location in location_choices(db_session)],
                      pages=pagination("/stocktakes", {}, number, result["total"]), **context)

    @post("/stocktakes", sync_to_thread=True)
    def start(self, request: Request, db_session: DbSession, data: Form) -> Response:
        values = form_fields(data, ("location",))
        try:
            wanted = StocktakeStart.model_validate(values)
            stocktake = stocktakes.start_stocktake(db_session, wanted)
        except Conflict:
            # One is open for that office already: carry on with it.
            location = inventory.get_location(db_session, values["location"])
            current = stocktakes.open_stocktake_of(db_session, location.id)
            return go_to(request, f"/stocktakes/{current.id}",
                         f"A stocktake of {location.name} is already open, started by "
                         f"{current.started_by}: carry on scanning into it.")
        except FORM_ERRORS as error:
            return self._list_page(request, db_session, status_code=422,
                                   errors=form_problems(error), values=values)
        return go_to(request, f"/stocktakes/{stocktake.id}",
                     "Stocktake started: scan every device on the shelf.")

    def _stocktake_page(self, request: Request, db_session: Session, stocktake_id: int,
                        status_code: int = 200, **context: Any) -> Response:
        stocktake = stocktakes.get_stocktake(db_session, stocktake_id)
        result = stocktakes.stocktake_result(db_session, stocktake,
                                             settings_of(request).today())
        for line in result["missing"]:
            event = line["last_event"]
            line["last_event_text"] = history_line(event) if event else ""
        others = [loc for loc in location_choices(db_session) if loc.code != result["location"]]
        return render(request, "stocktake.html", status_code=status_code, stocktake=result,
                      recent=stocktakes.recent_scans(db_session, stocktake.id),
                      offices=others, **context)

    @get("/stocktakes/{stocktake_id:int}", sync_to_thread=True)
    def stocktake(self, request: Request, db_session: DbSession,
                  stocktake_id: FromPath[int]) -> Response:
        return self._stocktake_page(request, db_session, stocktake_id)

    @staticmethod
    def _count(db_session: Session, stocktake_id: int, data: Form) -> dict[str, Any]:
        """One scan, from the scan box or the camera, counted by the stocktakes service."""
        tag = str(data.get("tag", "")).strip()
        if not tag:
            return {"tone": "red", "message": "Scan or type a tag first."}
        try:
            return stocktakes.record_scan(db_session, stocktake_id, tag[:200])
        except (NotFound, Conflict) as error:
            db_session.rollback()
            return {"tone": "red", "message": error.message}

    @post("/stocktakes/{stocktake_id:int}/scan", sync_to_thread=True, status_code=200)
    def scan(self, request: Request, db_session: DbSession, stocktake_id: FromPath[int], data: Form
             ) -> Response:
        answer = self._count(db_session, stocktake_id, data)
        return self._stocktake_page(request, db_session, stocktake_id, answer=answer)

    def _camera_page(self, request: Request, db_session: Session, stocktake_id: int,
                     **context: Any) -> Response:
        stocktake = stocktakes.get_stocktake(db_session, stocktake_id)
        return render(request, "stocktake_camera.html",
                      stocktake=stocktakes.stocktake_row(db_session, stocktake), **context)

    @get("/stocktakes/{stocktake_id:int}/camera", sync_to_thread=True)
    def camera(self, request: Request, db_session: DbSession,
               stocktake_id: FromPath[int]) -> Response:
        """The camera in counting mode: each label read is counted into this stocktake."""
        return self._camera_page(request, db_session, stocktake_id)

    @post("/stocktakes/{stocktake_id:int}/camera", sync_to_thread=True, status_code=200)
    def camera_count(self, request: Request, db_session: DbSession,
                     stocktake_id: FromPath[int], data: Form) -> Response:
        """A label the camera read (or a tag typed under it), counted like the scan box's;
        the camera page comes back with the answer and starts looking again."""
        answer = self._count(db_session, stocktake_id, data)
        return self._camera_page(request, db_session, stocktake_id, answer=answer)

    @post("/stocktakes/{stocktake_id:int}/close", sync_to_thread=True)
    def close(self, request: Request, db_session: DbSession,
              stocktake_id: FromPath[int]) -> Response:
        stocktake = stocktakes.close_stocktake(db_session, stocktake_id)
        return go_to(request, f"/stocktakes/{stocktake.id}",
                     f"Stocktake closed: {stocktake.found} found, {stocktake.missing} missing, "
                     f"{stocktake.unexpected} unexpected.")

    @post("/stocktakes/{stocktake_id:int}/missing/{asset_tag:str}", sync_to_thread=True,
          opt={"role": Role.manager})
    def resolve(self, request: Request, db_session: DbSession, stocktake_id: FromPath[int],
                asset_tag: FromPath[str], data: Form) -> Response:
        values = form_fields(data, ("action", "location", "notes"))
        try:
            stocktakes.resolve_missing(db_session, stocktake_id, asset_tag,
                                       ResolveMissing.model_validate(values), request.user)
        except FORM_ERRORS as error:
            problem = next(iter(form_problems(error).values()))
            return go_to(request, f"/stocktakes/{stocktake_id}",
                         f"{asset_tag}: {problem}", "error")
        done = ("marked lost" if values.get("action") == "lost"
                else f"moved to {str(values.get('location', '')).upper()}")
        return go_to(request, f"/stocktakes/{stocktake_id}", f"{asset_tag} {done}.")
