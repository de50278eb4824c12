"""HTTP routes for locations and devices. Thin: every rule lives in `inventory.service`.

The application provides three dependencies: `db_session` (a session that knows who is
acting), `device_extras` (what other packages add to a device's detail: its loan and
its history) and `move_by_hand` (a hand move, which must go through a device's loan when it
has one), so this package stays ignorant of them.
"""

from collections.abc import Callable
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter, RawBody
from sqlmodel import Session

from inventory import service
from inventory.models import PLAN_KINDS, Device, DeviceKind, DeviceStatus
from inventory.schemas import (
    MAX_OFFSET,
    DeviceCreate,
    DeviceDetail,
    DeviceFilter,
    DeviceRead,
    DeviceUpdate,
    ImportResult,
    LocationCreate,
    LocationRead,
    Page,
    PlanChangeRead,
    PlanRenewal,
    StatusChange,
    WipeCreate,
)

# The application's session, and what it adds to a device's detail.
DbSession = NamedDependency[Session]
DeviceExtras = NamedDependency[Callable[[Session, Device], dict[str, Any]]]
# A move by hand, as the application rules it: lending refuses to move a device on loan.
MoveByHand = NamedDependency[Callable[[Session, str, StatusChange], Device]]
# Every list pages the same way.
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)]


class LocationController(Controller):
    path = "/locations"
    tags = ["inventory"]

    @post("/", sync_to_thread=True, opt={"role": "manager"})
    def create_location(self, db_session: DbSession, data: JSONBody[LocationCreate]
                        ) -> LocationRead:
        return LocationRead(**service.location_row(service.create_location(db_session, data)))

    @get("/", sync_to_thread=True)
    def list_locations(self, db_session: DbSession, limit: Limit = 500, offset: Offset = 0
                       ) -> Page[LocationRead]:
        # An organisation has a handful of offices: they are read whole and paged here.
        everything = service.list_locations(db_session)
        items = [service.location_row(loc) for loc in everything[offset:offset + limit]]
        return {"items": items, "total": len(everything), "limit": limit, "offset": offset}


class DeviceController(Controller):
    path = "/devices"
    tags = ["inventory"]

    @post("/", sync_to_thread=True)
    def create_device(self, db_session: DbSession, data: JSONBody[DeviceCreate]) -> DeviceRead:
        device = service.create_device(db_session, data)
        return DeviceRead(**service.device_row(db_session, device))

    @get("/", sync_to_thread=True)
    def list_devices(
        self,
        db_session: DbSession,
        status: FromQuery[DeviceStatus | None] = None,
        kind: FromQuery[DeviceKind | None] = None,
        location: FromQuery[str | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=80)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[DeviceRead]:
        # The service's rows, unchecked on this hot path: the tests check them against
        # DeviceRead.
        return service.list_devices(db_session, DeviceFilter(
            status=status, kind=kind, location=location, q=q, limit=limit, offset=offset))

    @post("/import", sync_to_thread=True, request_max_body_size=20_000_000)
    def import_devices(self, db_session: DbSession, body: RawBody) -> ImportResult:
        """A CSV file (`text/csv`) with a header row of the device fields."""
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise service.Invalid("the file is not UTF-8 text", "file") from error
        tags = service.import_devices(db_session, text)
        return ImportResult(created=len(tags), asset_tags=tags)

    @get("/{asset_tag:str}", sync_to_thread=True)
    def get_device(self, db_session: DbSession, asset_tag: FromPath[str],
                   device_extras: DeviceExtras) -> DeviceDetail:
        device = service.get_device(db_session, asset_tag)
        detail = service.device_row(db_session, device)
        detail["wipes"] = [
            {"method": w.method, "account_lock_removed": w.account_lock_removed,
             "performed_by": w.performed_by, "performed_at": w.performed_at, "notes": w.notes}
            for w in service.list_wipes(db_session, device)]
        detail["plan_changes"] = [service.plan_change_row(change) for change
                                  in service.list_plan_changes(db_session, device)
                                  ] if device.kind in PLAN_KINDS else []
        detail.update(device_extras(db_session, device))
        return detail

    @patch("/{asset_tag:str}", sync_to_thread=True)
    def update_device(self, db_session: DbSession, asset_tag: FromPath[str],
                      data: JSONBody[DeviceUpdate]) -> DeviceRead:
        device = service.update_device(db_session, asset_tag, data)
        return DeviceRead(**service.device_row(db_session, device))

    @post("/{asset_tag:str}/status", sync_to_thread=True, status_code=200)
    def change_device_status(self, db_session: DbSession, asset_tag: FromPath[str],
                             data: JSONBody[StatusChange], move_by_hand: MoveByHand
                             ) -> DeviceRead:
        device = move_by_hand(db_session, asset_tag, data)
        return DeviceRead(**service.device_row(db_session, device))

    @post("/{asset_tag:str}/wipe", sync_to_thread=True, status_code=200)
    def record_device_wipe(self, db_session: DbSession, request: Request,
                           asset_tag: FromPath[str], data: JSONBody[WipeCreate]) -> DeviceRead:
        device = service.record_wipe(db_session, asset_tag, data, request.user.email)
        return DeviceRead(**service.device_row(db_session, device))

    @post("/{asset_tag:str}/plan", sync_to_thread=True, status_code=201)
    def renew_device_plan(self, db_session: DbSession, request: Request,
                          asset_tag: FromPath[str], data: JSONBody[PlanRenewal]
                          ) -> PlanChangeRead:
        change = service.renew_plan(db_session, asset_tag, data, request.user.email)
        return PlanChangeRead(**service.plan_change_row(change))
