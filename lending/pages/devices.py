"""Device pages: the list, adding and importing, a device's page, its wipe and status."""

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from pydantic import ValidationError
from sqlmodel import Session

from inventory import service as inventory
from inventory.api import DbSession, DeviceExtras
from inventory.models import PLAN_KINDS, TRANSITIONS, Device, DeviceStatus
from inventory.schemas import DeviceCreate, DeviceFilter, DeviceUpdate, StatusChange, WipeCreate
from inventory.service import ImportRejected, NotFound
from lending.loans import service as loans
from lending.pages.forms import (
    FORM_ERRORS,
    every_field,
    form_fields,
    form_problems,
    validation_errors,
)
from lending.pages.rendering import (
    PAGE_SIZE,
    Form,
    Upload,
    chosen_filters,
    go_to,
    history_line,
    location_choices,
    page_number,
    pagination,
    render,
)
from lending.pages.wording import (
    DEVICE_FORM_FIELDS,
    KIND_LABELS,
    MOVES,
    STATUS_LABELS,
)
from lending.recipients import service as recipients
from lending.recipients.models import RecipientStatus


class DevicePages(Controller):
    @get("/devices", sync_to_thread=True)
    def devices(self, request: Request, db_session: DbSession, q: FromQuery[str] = "",
                status: FromQuery[str] = "", kind: FromQuery[str] = "",
                location: FromQuery[str] = "", page: FromQuery[str] = "1") -> Response:
        number = page_number(page)
        filters = {"q": q.strip(), "status": status, "kind": kind, "location": location}
        problems: dict[str, str] = {}
        try:
            query = DeviceFilter(**{k: v for k, v in filters.items() if v},
                                 limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        except ValidationError as error:
            problems = validation_errors(error)
            query = DeviceFilter(limit=PAGE_SIZE)
        result = inventory.list_devices(db_session, query)
        offices = location_choices(db_session)
        chosen = chosen_filters("/devices", filters, {
            "q": ("Search", None), "status": ("Status", STATUS_LABELS),
            "kind": ("Kind", KIND_LABELS),
            "location": ("Office", {office.code: office.name for office in offices})})
        return render(request, "devices.html", devices=result["items"], values=filters,
                      errors=problems, locations=offices, chosen=chosen,
                      pages=pagination("/devices", filters, number, result["total"]),
                      filtered=any(filters.values()))

    @get("/devices/new", sync_to_thread=True)
    def new_device(self, request: Request, db_session: DbSession) -> Response:
        return render(request, "device_new.html", locations=location_choices(db_session),
                      values={"condition": "A"})

    @post("/devices/new", sync_to_thread=True)
    def create_device(self, request: Request, db_session: DbSession, data: Form) -> Response:
        values = form_fields(data, DEVICE_FORM_FIELDS)
        try:
            device = inventory.create_device(db_session, DeviceCreate.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, f"/d/{device.asset_tag}",
                       f"Added {device.make} {device.model} as {device.asset_tag}. "
                       "Write or print its label next.")
        return render(request, "device_new.html", status_code=422, errors=problems,
                      values=values, locations=location_choices(db_session))

    @get("/devices/import", sync_to_thread=True)
    def import_form(self, request: Request) -> Response:
        return render(request, "device_import.html", columns=inventory.IMPORT_COLUMNS,
                      required=inventory.REQUIRED_COLUMNS)

    @get("/devices/import/template.csv", sync_to_thread=True)
    def import_template(self) -> Response:
        """A CSV with every column the import reads and one example row, for a spreadsheet."""
        return Response(inventory.import_template(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 'attachment; filename="devices-template.csv"'})

    @post("/devices/import", sync_to_thread=True, request_max_body_size=20_000_000)
    def import_file(self, request: Request, db_session: DbSession, data: Upload) -> Response:
        upload = data.get("file")
        text = ""
        problems: list[dict[str, Any]] = []
        if isinstance(upload, UploadFile) and upload.filename:
            try:
                text = upload.file.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                problems = [{"line": 1, "field": "file", "message": "the file is not UTF-8 text: "
                             "save it from your spreadsheet as 'CSV UTF-8'"}]
        if not text and not problems:
            problems = [{"line": "", "field": "file", "message": "choose a CSV file to import"}]
        if not problems:
            try:
                tags = inventory.import_devices(db_session, text)
            except ImportRejected as error:
                problems = error.problems
            else:
                return go_to(request, "/devices",
                           f"Imported {len(tags)} device{'s' if len(tags) != 1 else ''} "
                           f"({tags[0]} to {tags[-1]}).")
        return render(request, "device_import.html", status_code=422, problems=problems,
                      filename=getattr(upload, "filename", ""),
                      columns=inventory.IMPORT_COLUMNS, required=inventory.REQUIRED_COLUMNS)

    # -- one device ---------------------------------------------------------------------------

    def _device_page(self, request: Request, db_session: Session, asset_tag: str,
                     device_extras: Callable[[Session, Device], dict[str, Any]],
                     status_code: int = 200, **context: Any) -> Response:
        try:
            device = inventory.get_device(db_session, asset_tag)
        except NotFound as error:
            return render(request, "device_missing.html", status_code=404,
                          message=error.message, tag=inventory.normalise_tag(asset_tag))
        row = inventory.device_row(db_session, device)
        extras = device_extras(db_session, device)
        moves = []
        if device.status != DeviceStatus.on_loan:
            moves = [(target, MOVES[target][0])
                     for target in sorted(TRANSITIONS[DeviceStatus(device.status)])
                     if target in MOVES]
        recipient_q = request.query_params.get("recipient_q", "").strip()
        matches = None
        if recipient_q and device.status == DeviceStatus.available:
            matches = recipients.search_recipients(db_session, q=recipient_q[:120],
                                                   status=RecipientStatus.active, limit=10)
        return render(request, "device.html", status_code=status_code, device=row,
                      wipes=inventory.list_wipes(db_session, device), loan=extras["loan"],
                      plan_changes=[inventory.plan_change_row(change) for change
                                    in inventory.list_plan_changes(db_session, device)]
                      if device.kind in PLAN_KINDS else [],
                      history=[{"at": e["at"], "actor": e["actor"],
                                "text": history_line(e)} for e in extras["history"]],
                      moves=moves, recipient_q=recipient_q, matches=matches,
                      **context)

    @get("/d/{asset_tag:str}", sync_to_thread=True)
    def device(self, request: Request, db_session: DbSession, asset_tag: FromPath[str],
               device_extras: DeviceExtras) -> Response:
        return self._device_page(request, db_session, asset_tag, device_extras)

    @post("/d/{asset_tag:str}/wipe", sync_to_thread=True)
    def record_wipe(self, request: Request, db_session: DbSession, asset_tag: FromPath[str],
                    data: Form, device_extras: DeviceExtras) -> Response:
        values = form_fields(data, ("method", "notes"))
        values["account_lock_removed"] = data.get("account_lock_removed") == "yes"
        try:
            wipe = WipeCreate.model_validate(values)
            device = inventory.record_wipe(db_session, asset_tag, wipe, request.user.email)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, f"/d/{device.asset_tag}",
                       f"Wipe recorded: {device.asset_tag} is back in stock and available.")
        return self._device_page(request, db_session, asset_tag, device_extras,
                                 status_code=422, errors=problems, values=values)

    @get("/d/{asset_tag:str}/edit", sync_to_thread=True)
    def edit_device(self, request: Request, db_session: DbSession,
                    asset_tag: FromPath[str]) -> Response:
        device = inventory.get_device(db_session, asset_tag)
        row = inventory.device_row(db_session, device)
        return render(request, "device_edit.html", device=row, values=row,
                      locations=location_choices(db_session))

    @post("/d/{asset_tag:str}/edit", sync_to_thread=True)
    def update_device(self, request: Request, db_session: DbSession, asset_tag: FromPath[str],
                      data: Form) -> Response:
        """Every field is sent: a field left blank is cleared (the service refuses to clear
        the ones a device must have)."""
        values = every_field(data, tuple(DeviceUpdate.model_fields))
        try:
            device = inventory.update_device(db_session, asset_tag,
                                             DeviceUpdate.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, f"/d/{device.asset_tag}",
                         f"Saved the changes to {device.asset_tag}.")
        device = inventory.get_device(db_session, asset_tag)
        return render(request, "device_edit.html", status_code=422, errors=problems,
                      device=inventory.device_row(db_session, device), values=values,
                      locations=location_choices(db_session))

    @get("/d/{asset_tag:str}/status", sync_to_thread=True)
    def confirm_status(self, request: Request, db_session: DbSession, asset_tag: FromPath[str],
                       to: FromQuery[str] = "") -> Response:
        device = inventory.get_device(db_session, asset_tag)
        if to not in MOVES:
            return go_to(request, f"/d/{device.asset_tag}", "Choose what to do with the device.",
                       "error")
        return render(request, "confirm_status.html", device=device, to=to,
                      question=MOVES[to][0], button=MOVES[to][1])

    @post("/d/{asset_tag:str}/status", sync_to_thread=True)
    def change_status(self, request: Request, db_session: DbSession, asset_tag: FromPath[str],
                      data: Form) -> Response:
        device = inventory.get_device(db_session, asset_tag)
        values = form_fields(data, ("status", "notes"))
        try:
            change = StatusChange.model_validate(values)
            loans.move_by_hand(db_session, device.asset_tag, change)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, f"/d/{device.asset_tag}",
                       f"{device.asset_tag} is now {STATUS_LABELS[change.status.value].lower()}.")
        to = str(data.get("status", ""))
        return render(request, "confirm_status.html", status_code=409, device=device, to=to,
                      question=MOVES.get(to, ("", ""))[0], button=MOVES.get(to, ("", ""))[1],
                      errors=problems, values=values)

    # -- issuing ------------------------------------------------------------------------------
