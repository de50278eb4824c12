"""HTTP routes for stocktakes. Thin: the rules live in `lending.stocktakes.service`."""

from typing import Annotated, Literal

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inventory.api import DbSession, Limit, Offset
from lending.accounts.models import Role
from lending.stocktakes import service
from lending.stocktakes.schemas import (
    ResolveMissing,
    ScanCreate,
    ScanResult,
    StocktakePage,
    StocktakeRead,
    StocktakeResult,
    StocktakeStart,
)


class StocktakeController(Controller):
    path = "/stocktakes"
    tags = ["stocktakes"]

    @post("/", sync_to_thread=True)
    def start_stocktake(self, db_session: DbSession, data: JSONBody[StocktakeStart]
                        ) -> StocktakeRead:
        stocktake = service.start_stocktake(db_session, data)
        return StocktakeRead(**service.stocktake_row(db_session, stocktake))

    @get("/", sync_to_thread=True)
    def list_stocktakes(
        self,
        db_session: DbSession,
        location: Annotated[str | None, QueryParameter(max_length=16)] = None,
        status: FromQuery[Literal["open", "closed"] | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> StocktakePage:
        return StocktakePage(**service.list_stocktakes(
            db_session, location=location, status=status, limit=limit, offset=offset))

    @get("/{stocktake_id:int}", sync_to_thread=True)
    def get_stocktake(self, db_session: DbSession, state: State, stocktake_id: FromPath[int]
                      ) -> StocktakeResult:
        stocktake = service.get_stocktake(db_session, stocktake_id)
        return StocktakeResult(**service.stocktake_result(db_session, stocktake,
                                                          state.settings.today()))

    @post("/{stocktake_id:int}/scans", sync_to_thread=True, status_code=200)
    def record_scan(self, db_session: DbSession, stocktake_id: FromPath[int],
                    data: JSONBody[ScanCreate]
                    ) -> ScanResult:
        return ScanResult(**service.record_scan(db_session, stocktake_id, data.tag))

    @post("/{stocktake_id:int}/close", sync_to_thread=True, status_code=200)
    def close_stocktake(self, db_session: DbSession, state: State, stocktake_id: FromPath[int]
                        ) -> StocktakeResult:
        stocktake = service.close_stocktake(db_session, stocktake_id)
        return StocktakeResult(**service.stocktake_result(db_session, stocktake,
                                                          state.settings.today()))

    @post("/{stocktake_id:int}/missing/{asset_tag:str}", sync_to_thread=True, status_code=200,
          opt={"role": Role.manager})
    def resolve_missing(self, db_session: DbSession, state: State, request: Request,
                        stocktake_id: FromPath[int], asset_tag: FromPath[str],
                        data: JSONBody[ResolveMissing]
                        ) -> StocktakeResult:
        service.resolve_missing(db_session, stocktake_id, asset_tag, data, request.user)
        stocktake = service.get_stocktake(db_session, stocktake_id)
        return StocktakeResult(**service.stocktake_result(db_session, stocktake,
                                                          state.settings.today()))
