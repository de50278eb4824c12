"""The staff web UI: server-rendered pages for the desk and for managers.

Thin, like the API: every page reads and every form writes through the same service
functions as the HTTP API, and validates through the same schemas. What is here is only
presentation: which page, which fields, which words, and where to go next.
"""

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from math import ceil
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from jinja2 import pass_context
from litestar import Controller, Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import Cookie, State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from pydantic import ValidationError
from sqlmodel import Session

from eligibility import KINDS
from inventory import service as inventory
from inventory.models import TRANSITIONS, Device, DeviceKind, DeviceStatus, WipeMethod
from inventory.schemas import MAX_OFFSET, DeviceCreate, DeviceFilter, StatusChange, WipeCreate
from inventory.service import ImportRejected, InventoryError, NotFound
from labels import TEMPLATES
from lending import errors as api_errors
from lending.accounts import service as accounts
from lending.accounts.api import SESSION_COOKIE, role_guard
from lending.accounts.models import Role, TokenKind
from lending.loans import service as loans
from lending.loans.schemas import LoanCreate, LoseLoan, RenewLoan, ReturnLoan
from lending.printing import service as printing
from lending.printing.schemas import LabelRequest
from lending.recipients import service as recipients
from lending.recipients.models import RecipientStatus
from lending.recipients.schemas import OverrideCreate, RecipientCreate
from lending.settings import Settings
from lending.web.forms import (
    FLASH_COOKIE,
    FORM_ERRORS,
    as_list,
    form_fields,
    form_problems,
    pack_flash,
    safe_next,
    service_errors,
    split_list,
    unpack_flash,
    validation_errors,
)

log = logging.getLogger("lending.web")

HERE = Path(__file__).parent
PAGE_SIZE = 25
CSRF_COOKIE = "lending_csrf"

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

STATUS_LABELS = {
    "available": "Available", "on_loan": "On loan", "awaiting_wipe": "Awaiting wipe",
    "in_repair": "In repair", "lost": "Lost", "retired": "Retired",
    # loans
    "active": "Active", "overdue": "Overdue", "returned": "Returned",
    # decisions
    "eligible": "Eligible", "ineligible": "Not eligible", "needs_review": "Needs review",
    "closed": "Closed",
}
# Label stock as people know it; the first is the default on a device page.
LABEL_TEMPLATES = [(name, template.description)
                   for name, template in TEMPLATES.items()]
KIND_LABELS = {"laptop": "Laptop", "phone": "Phone", "tablet": "Tablet", "sim": "Data SIM",
               "hotspot": "Hotspot"}
CONDITIONS = {"A": "A: as new", "B": "B: light wear", "C": "C: worn but working",
              "D": "D: damaged, needs repair"}
WIPE_METHODS = {WipeMethod.factory_reset.value: "Factory reset",
                WipeMethod.nist_clear.value: "Overwrite (NIST 800-88 Clear)",
                WipeMethod.nist_purge.value: "Cryptographic erase (NIST 800-88 Purge)"}
# What a person may move a device to by hand, and how the choice is put to them.
MOVES = {
    DeviceStatus.in_repair.value: ("Send for repair", "Send for repair"),
    DeviceStatus.awaiting_wipe.value: ("Found, or back from repair: it needs a wipe",
                                       "Mark as needing a wipe"),
    DeviceStatus.lost.value: ("Missing from stock: mark it lost", "Mark as lost"),
    DeviceStatus.retired.value: ("Retire it for good (this cannot be undone)", "Retire"),
}
DEVICE_FORM_FIELDS = tuple(DeviceCreate.model_fields)


# --- plumbing -------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _user(request: Request):
    return request.scope.get("user")


def _is_manager(request: Request) -> bool:
    user = _user(request)
    return bool(user) and accounts.has_role(user, Role.manager)


def render(request: Request, template: str, status_code: int = 200, **context: Any
           ) -> Template:
    """A page, with what every page shows: who is signed in and any one-time message."""
    settings = _settings(request)
    cookies = []
    flash = None
    if FLASH_COOKIE in request.cookies:
        flash = unpack_flash(request.cookies.get(FLASH_COOKIE), settings.secret_key)
        cookies.append(Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/"))
    base = {"user": _user(request), "is_manager": _is_manager(request), "flash": flash,
            "organisation": settings.organisation, "errors": {}, "values": {},
            "path": request.url.path}
    return Template(template_name=template, context={**base, **context},
                    status_code=status_code, cookies=cookies,
                    headers={"Cache-Control": "no-store"})


def go(url: str, message: str | None = None, *, secret: str, kind: str = "success"
       ) -> Redirect:
    """See other (303): the browser follows with a GET, so a reload never re-posts."""
    cookies = []
    if message:
        cookies.append(Cookie(key=FLASH_COOKIE, value=pack_flash(message, kind, secret),
                              path="/", httponly=True, samesite="lax", max_age=120))
    return Redirect(url, status_code=303, cookies=cookies)


def _go(request: Request, url: str, message: str | None = None, kind: str = "success"
        ) -> Redirect:
    return go(url, message, secret=_settings(request).secret_key, kind=kind)


def _page_number(page: str | None) -> int:
    """A page number as typed in an address: anything that is not one is the first page,
    and one past any list (past what a database can count) is the last there could be."""
    try:
        return min(max(int(page or 1), 1), MAX_OFFSET // PAGE_SIZE)
    except ValueError:
        return 1


def pagination(base: str, params: dict[str, Any], page: int, total: int) -> dict[str, Any]:
    pages = max(ceil(total / PAGE_SIZE), 1)
    kept = {key: value for key, value in params.items() if value}

    def url(number: int) -> str:
        query = urlencode({**kept, "page": number} if number > 1 else kept)
        return f"{base}?{query}" if query else base

    first = (page - 1) * PAGE_SIZE + 1
    return {"page": page, "pages": pages, "total": total, "first": min(first, total),
            "last": min(page * PAGE_SIZE, total),
            "previous": url(page - 1) if page > 1 else None,
            "next": url(page + 1) if page < pages else None}


def _history_line(entry: dict[str, Any]) -> str:
    changes = entry["changes"] or {}
    if entry["action"] == "create":
        return "Added to stock"
    if entry["action"] == "read":
        return "Viewed"
    parts = []
    for field, change in changes.items():
        if isinstance(change, list) and len(change) == 2:
            before, after = (STATUS_LABELS.get(str(v), v) if field == "status" else v
                             for v in change)
            parts.append(f"{field.replace('_', ' ')}: {before or '(none)'} → {after or '(none)'}")
    return "; ".join(parts) or entry["action"]


# --- signing in and out ---------------------------------------------------------------------


class SessionPages(Controller):
    @get("/login", sync_to_thread=True, opt={"exclude_from_auth": True})
    def login_form(self, request: Request, next: str | None = None) -> Response:
        return render(request, "login.html", next=safe_next(next))

    @post("/login", sync_to_thread=True, opt={"exclude_from_auth": True})
    def login(self, request: Request, db_session: Session, data: Form) -> Response:
        email = str(data.get("email", "")).strip()
        password = str(data.get("password", ""))
        target = safe_next(str(data.get("next", "")))
        problems = {}
        if not email:
            problems["email"] = "Enter your email address"
        if not password:
            problems["password"] = "Enter your password"
        if not problems:
            try:
                user = accounts.authenticate(db_session, email, password)
            except InventoryError:
                problems["password"] = ("That email and password do not match an active "
                                        "account. Check them and try again.")
        if problems:
            return render(request, "login.html", status_code=400, errors=problems,
                          values={"email": email}, next=target)
        db_session.info["actor"], db_session.info["actor_id"] = user.email, user.id
        _, secret = accounts.create_token(db_session, user, "browser", TokenKind.session)
        response = _go(request, target)
        response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", path="/",
                            max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
                            secure=request.url.scheme == "https")
        return response

    @post("/logout", sync_to_thread=True, opt={"exclude_from_auth": True})
    def logout(self, request: Request, db_session: Session) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            accounts.end_session(db_session, secret)
            request.app.state.recent_tokens.forget_all()
        response = _go(request, "/login", "You have signed out.")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


# --- the desk -------------------------------------------------------------------------------


class DeskPages(Controller):
    @get("/", sync_to_thread=True)
    def home(self, request: Request, db_session: Session) -> Response:
        counts = [{"status": status, "label": STATUS_LABELS[status], "total": total}
                  for status, total in inventory.count_by_status(db_session).items()]
        overdue = loans.list_loans(db_session, _settings(request).today(), status="overdue",
                                   limit=10)
        return render(request, "home.html", counts=counts, overdue=overdue)

    @get("/scan", sync_to_thread=True)
    def scan(self, request: Request, db_session: Session, tag: str = "") -> Response:
        """What was typed or scanned: a tag, a label's URL, or anything else to search for."""
        raw = tag.strip()
        if not raw:
            return _go(request, "/", "Type or scan a tag first.", "error")
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


def _locations(db_session: Session) -> list[Any]:
    return list(inventory.list_locations(db_session))


class DevicePages(Controller):
    @get("/devices", sync_to_thread=True)
    def devices(self, request: Request, db_session: Session, q: str = "", status: str = "",
                kind: str = "", location: str = "", page: str = "1") -> Response:
        number = _page_number(page)
        filters = {"q": q.strip(), "status": status, "kind": kind, "location": location}
        problems: dict[str, str] = {}
        try:
            query = DeviceFilter(**{k: v for k, v in filters.items() if v},
                                 limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        except ValidationError as error:
            problems = validation_errors(error)
            query = DeviceFilter(limit=PAGE_SIZE)
        result = inventory.list_devices(db_session, query)
        return render(request, "devices.html", devices=result["items"], values=filters,
                      errors=problems, locations=_locations(db_session),
                      pages=pagination("/devices", filters, number, result["total"]),
                      filtered=any(filters.values()))

    @get("/devices/new", sync_to_thread=True)
    def new_device(self, request: Request, db_session: Session) -> Response:
        return render(request, "device_new.html", locations=_locations(db_session),
                      values={"condition": "A"})

    @post("/devices/new", sync_to_thread=True)
    def create_device(self, request: Request, db_session: Session, data: Form) -> Response:
        values = form_fields(data, DEVICE_FORM_FIELDS)
        try:
            device = inventory.create_device(db_session, DeviceCreate.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return _go(request, f"/d/{device.asset_tag}",
                       f"Added {device.make} {device.model} as {device.asset_tag}. "
                       "Write or print its label next.")
        return render(request, "device_new.html", status_code=422, errors=problems,
                      values=values, locations=_locations(db_session))

    @get("/devices/import", sync_to_thread=True)
    def import_form(self, request: Request) -> Response:
        return render(request, "device_import.html", columns=inventory.IMPORT_COLUMNS,
                      required=inventory.REQUIRED_COLUMNS)

    @post("/devices/import", sync_to_thread=True, request_max_body_size=20_000_000)
    def import_file(self, request: Request, db_session: Session, data: Upload) -> Response:
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
                return _go(request, "/devices",
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
                      history=[{"at": e["at"], "actor": e["actor"],
                                "text": _history_line(e)} for e in extras["history"]],
                      moves=moves, recipient_q=recipient_q, matches=matches,
                      **context)

    @get("/d/{asset_tag:str}", sync_to_thread=True)
    def device(self, request: Request, db_session: Session, asset_tag: str,
               device_extras: Callable[[Session, Device], dict[str, Any]]) -> Response:
        return self._device_page(request, db_session, asset_tag, device_extras)

    @post("/d/{asset_tag:str}/wipe", sync_to_thread=True)
    def record_wipe(self, request: Request, db_session: Session, asset_tag: str, data: Form,
                    device_extras: Callable[[Session, Device], dict[str, Any]]) -> Response:
        values = form_fields(data, ("method", "notes"))
        values["account_lock_removed"] = data.get("account_lock_removed") == "yes"
        try:
            wipe = WipeCreate.model_validate(values)
            device = inventory.record_wipe(db_session, asset_tag, wipe, request.user.email)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return _go(request, f"/d/{device.asset_tag}",
                       f"Wipe recorded: {device.asset_tag} is back in stock and available.")
        return self._device_page(request, db_session, asset_tag, device_extras,
                                 status_code=422, errors=problems, values=values)

    @get("/d/{asset_tag:str}/status", sync_to_thread=True)
    def confirm_status(self, request: Request, db_session: Session, asset_tag: str,
                       to: str = "") -> Response:
        device = inventory.get_device(db_session, asset_tag)
        if to not in MOVES:
            return _go(request, f"/d/{device.asset_tag}", "Choose what to do with the device.",
                       "error")
        return render(request, "confirm_status.html", device=device, to=to,
                      question=MOVES[to][0], button=MOVES[to][1])

    @post("/d/{asset_tag:str}/status", sync_to_thread=True)
    def change_status(self, request: Request, db_session: Session, asset_tag: str,
                      data: Form) -> Response:
        device = inventory.get_device(db_session, asset_tag)
        values = form_fields(data, ("status", "notes"))
        try:
            change = StatusChange.model_validate(values)
            loans.move_by_hand(db_session, device.asset_tag, change)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return _go(request, f"/d/{device.asset_tag}",
                       f"{device.asset_tag} is now {STATUS_LABELS[change.status.value].lower()}.")
        to = str(data.get("status", ""))
        return render(request, "confirm_status.html", status_code=409, device=device, to=to,
                      question=MOVES.get(to, ("", ""))[0], button=MOVES.get(to, ("", ""))[1],
                      errors=problems, values=values)

    # -- issuing ------------------------------------------------------------------------------

    def _issue_page(self, request: Request, db_session: Session, device: Device,
                    recipient_id: int, status_code: int = 200, decision: Any = None,
                    **context: Any) -> Response:
        state: State = request.app.state
        recipient = recipients.get_recipient(db_session, recipient_id)
        if decision is None:
            decision = recipients.check_eligibility(
                db_session, recipient.id, device.kind, state.policy, _settings(request).today(),
                _settings(request).zone)
        return render(request, "issue.html", status_code=status_code,
                      device=inventory.device_row(db_session, device),
                      recipient=recipients.recipient_row(db_session, recipient),
                      decision=decision,
                      loan_days=state.policy.loan_period_days(device.kind),
                      takes_sim=device.kind in loans.SIM_CARRIERS, **context)

    @get("/d/{asset_tag:str}/issue", sync_to_thread=True)
    def issue_form(self, request: Request, db_session: Session, asset_tag: str,
                   recipient_id: int | None = None) -> Response:
        device = inventory.get_device(db_session, asset_tag)
        if recipient_id is None:
            return _go(request, f"/d/{device.asset_tag}#issue", "Find the recipient first.",
                       "error")
        if device.status != DeviceStatus.available:
            return _go(request, f"/d/{device.asset_tag}",
                       f"{device.asset_tag} is {STATUS_LABELS[device.status].lower()}, so it "
                       "cannot be lent now.", "error")
        return self._issue_page(request, db_session, device, recipient_id,
                                values={"agreement_accepted": False})

    @post("/d/{asset_tag:str}/issue", sync_to_thread=True)
    def issue(self, request: Request, db_session: Session, asset_tag: str, data: Form
              ) -> Response:
        device = inventory.get_device(db_session, asset_tag)
        values = form_fields(data, ("recipient_id", "due_on", "sim_tag", "override_reason"))
        values["asset_tag"] = device.asset_tag
        values["accessories"] = split_list(data.get("accessories"))
        values["agreement_accepted"] = data.get("agreement_accepted") == "yes"
        decision = None
        try:
            loan_request = LoanCreate.model_validate(values)
            made = loans.issue_loan(db_session, loan_request, request.app.state.policy,
                                    _settings(request).zone, actor=request.user)
        except ValidationError as error:
            problems = validation_errors(error)
        except recipients.Ineligible as error:
            problems = {"decision": error.message}
            decision = {"outcome": error.decision.outcome,
                        "reasons": [r.model_dump() for r in error.decision.reasons],
                        "policy": error.decision.policy_version,
                        "overridable": error.decision.overridable}
        except InventoryError as error:
            problems = service_errors(error)
        else:
            row = loans.loan_row(db_session, made[0].id, _settings(request).today())
            also = f" with SIM {values['sim_tag'].upper()}" if len(made) > 1 else ""
            return _go(request, f"/loans/{row['id']}",
                       f"{row['asset_tag']}{also} lent to {row['recipient_name']}, due back "
                       f"{row['due_on']:%A %-d %B %Y}.")
        if "recipient_id" in problems and not str(values.get("recipient_id", "")).isdigit():
            return _go(request, f"/d/{device.asset_tag}#issue", "Find the recipient first.",
                       "error")
        values["accessories"] = data.get("accessories", "")
        return self._issue_page(request, db_session, device, int(values["recipient_id"]),
                                status_code=422, decision=decision, errors=problems,
                                values=values)


# --- recipients -----------------------------------------------------------------------------


def _facts_from(data: dict[str, Any], questions: dict[str, str]) -> dict[str, bool]:
    answers = {}
    for fact in questions:
        answer = data.get(f"facts.{fact}")
        if answer in ("yes", "no"):
            answers[fact] = answer == "yes"
    return answers


class RecipientPages(Controller):
    @get("/recipients", sync_to_thread=True)
    def recipients(self, request: Request, db_session: Session, q: str = "",
                   status: str = "active", page: str = "1") -> Response:
        number = _page_number(page)
        wanted = RecipientStatus(status) if status in RecipientStatus.__members__ else None
        result = recipients.search_recipients(db_session, q=q.strip()[:120] or None,
                                              status=wanted, limit=PAGE_SIZE,
                                              offset=(number - 1) * PAGE_SIZE)
        filters = {"q": q.strip(), "status": status}
        return render(request, "recipients.html", people=result["items"], values=filters,
                      pages=pagination("/recipients", filters, number, result["total"]))

    @get("/recipients/new", sync_to_thread=True)
    def new_recipient(self, request: Request, db_session: Session) -> Response:
        return render(request, "recipient_new.html", locations=_locations(db_session),
                      questions=request.app.state.policy.questions,
                      values={"language": "en", "facts": {}})

    @post("/recipients/new", sync_to_thread=True)
    def create_recipient(self, request: Request, db_session: Session, data: Form
                         ) -> Response:
        questions = request.app.state.policy.questions
        values = form_fields(data, ("name", "mobile", "language", "location", "reference"))
        values["device_restriction"] = data.get("device_restriction") == "yes"
        values["sms_opt_out"] = data.get("sms_opt_out") == "yes"
        values["facts"] = _facts_from(data, questions)
        try:
            recipient = recipients.create_recipient(
                db_session, RecipientCreate.model_validate(values), request.app.state.policy)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return _go(request, f"/recipients/{recipient.id}",
                       f"Added {recipient.name}. You can lend them a device now.")
        return render(request, "recipient_new.html", status_code=422, errors=problems,
                      values=values, locations=_locations(db_session), questions=questions)

    def _recipient_page(self, request: Request, db_session: Session, recipient_id: int,
                        status_code: int = 200, **context: Any) -> Response:
        detail = recipients.recipient_detail(db_session, recipient_id, _settings(request).today())
        return render(request, "recipient.html", status_code=status_code, person=detail,
                      questions=request.app.state.policy.questions, kinds=KINDS, **context)

    @get("/recipients/{recipient_id:int}", sync_to_thread=True)
    def recipient(self, request: Request, db_session: Session, recipient_id: int
                  ) -> Response:
        return self._recipient_page(request, db_session, recipient_id)

    @get("/lend", sync_to_thread=True)
    def lend(self, request: Request, db_session: Session, recipient_id: int, tag: str = ""
             ) -> Response:
        """From a recipient's page: the tag typed or scanned, on to the issue page."""
        if not tag.strip():
            return _go(request, f"/recipients/{recipient_id}#lend",
                       "Type or scan the tag of the device to lend.", "error")
        try:
            device = inventory.get_device(db_session, tag)
        except NotFound as error:
            return _go(request, f"/recipients/{recipient_id}#lend", error.message, "error")
        return Redirect(f"/d/{device.asset_tag}/issue?recipient_id={recipient_id}",
                        status_code=303)

    @post("/recipients/{recipient_id:int}/override", sync_to_thread=True,
          opt={"role": Role.manager})
    def override(self, request: Request, db_session: Session, recipient_id: int, data: Form
                 ) -> Response:
        values = form_fields(data, ("kind", "reason"))
        state: State = request.app.state
        try:
            record = recipients.override_eligibility(
                db_session, recipient_id, OverrideCreate.model_validate(values), request.user,
                state.policy, _settings(request).today(), _settings(request).zone)
        except FORM_ERRORS as error:
            problems = form_problems(error)
            if isinstance(error, recipients.Ineligible):
                problems = {"reason": error.message}
        else:
            return _go(request, f"/recipients/{recipient_id}",
                       f"Override recorded: one {KIND_LABELS[record.kind].lower()} may be lent "
                       "within the next 7 days.")
        return self._recipient_page(request, db_session, recipient_id, status_code=422,
                                    errors={f"override_{k}": v for k, v in problems.items()},
                                    values=values)


# --- loans ----------------------------------------------------------------------------------

LOAN_TABS = (("active", "On time"), ("overdue", "Overdue"), ("returned", "Returned"),
             ("lost", "Lost"), ("", "All"))


class LoanPages(Controller):
    @get("/loans", sync_to_thread=True)
    def loans(self, request: Request, db_session: Session, status: str = "active",
              page: str = "1") -> Response:
        number = _page_number(page)
        wanted = status if status in dict(LOAN_TABS) else ""
        result = loans.list_loans(db_session, _settings(request).today(), status=wanted or None,
                                  limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        return render(request, "loans.html", items=result["items"], tabs=LOAN_TABS,
                      status=wanted, pages=pagination("/loans", {"status": wanted or "all"},
                                                      number, result["total"]))

    def _loan_page(self, request: Request, db_session: Session, loan_id: int,
                   status_code: int = 200, **context: Any) -> Response:
        loans.get_loan(db_session, loan_id)
        row = loans.loan_row(db_session, loan_id, _settings(request).today())
        return render(request, "loan.html", status_code=status_code, loan=row, **context)

    @get("/loans/{loan_id:int}", sync_to_thread=True)
    def loan(self, request: Request, db_session: Session, loan_id: int) -> Response:
        return self._loan_page(request, db_session, loan_id)

    @post("/loans/{loan_id:int}/return", sync_to_thread=True)
    def return_loan(self, request: Request, db_session: Session, loan_id: int, data: Form
                    ) -> Response:
        values = form_fields(data, ("condition", "notes"))
        values["missing_accessories"] = as_list(data.get("missing_accessories"))
        try:
            loan = loans.return_loan(db_session, loan_id, ReturnLoan.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            row = loans.loan_row(db_session, loan.id, _settings(request).today())
            after = ("it goes for repair" if loan.returned_condition == "D"
                     else "record its wipe before it is lent again")
            return _go(request, f"/d/{row['asset_tag']}",
                       f"{row['asset_tag']} returned by {row['recipient_name']}: {after}.")
        return self._loan_page(request, db_session, loan_id, status_code=422,
                               errors=problems, values=values)

    @post("/loans/{loan_id:int}/renew", sync_to_thread=True)
    def renew_loan(self, request: Request, db_session: Session, loan_id: int, data: Form
                   ) -> Response:
        values = form_fields(data, ("due_on",))
        try:
            loan = loans.renew_loan(db_session, loan_id, RenewLoan.model_validate(values),
                                    request.app.state.policy, _settings(request).zone)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return _go(request, f"/loans/{loan.id}",
                       f"Renewed: now due back {loan.due_on:%A %-d %B %Y}.")
        return self._loan_page(request, db_session, loan_id, status_code=422,
                               errors={f"renew_{k}": v for k, v in problems.items()},
                               values=values)

    @get("/loans/{loan_id:int}/lost", sync_to_thread=True)
    def confirm_lost(self, request: Request, db_session: Session, loan_id: int) -> Response:
        loans.get_loan(db_session, loan_id)
        row = loans.loan_row(db_session, loan_id, _settings(request).today())
        return render(request, "confirm_lost.html", loan=row)

    @post("/loans/{loan_id:int}/lost", sync_to_thread=True)
    def record_lost(self, request: Request, db_session: Session, loan_id: int, data: Form
                    ) -> Response:
        values = form_fields(data, ("notes", "police_reference"))
        values["stolen"] = data.get("stolen") == "yes"
        try:
            loan = loans.record_loss(db_session, loan_id, LoseLoan.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            row = loans.loan_row(db_session, loan.id, _settings(request).today())
            return _go(request, f"/d/{row['asset_tag']}",
                       f"{row['asset_tag']} recorded as {'stolen' if loan.stolen else 'lost'}.")
        row = loans.loan_row(db_session, loan_id, _settings(request).today())
        return render(request, "confirm_lost.html", status_code=422, loan=row,
                      errors=problems, values=values)


class LabelPages(Controller):
    @get("/labels", sync_to_thread=True)
    def labels(self, request: Request, db_session: Session) -> Response:
        return self._labels_page(request, db_session, values={"start": 1})

    def _labels_page(self, request: Request, db_session: Session, status_code: int = 200,
                     **context: Any) -> Response:
        return render(request, "labels.html", status_code=status_code,
                      templates=LABEL_TEMPLATES,
                      unlabelled_count=len(inventory.unlabelled_devices(db_session)),
                      **context)

    @post("/labels", sync_to_thread=True, status_code=200)
    def print_labels(self, request: Request, db_session: Session, data: Form) -> Response:
        values = form_fields(data, ("template", "start", "tags"))
        values["unlabelled"] = data.get("unlabelled") == "yes"
        try:
            wanted = LabelRequest(template=values.get("template", ""),
                                  start=values.get("start", 1),
                                  tags=str(values.get("tags", "")).replace(",", " ").split(),
                                  unlabelled=values["unlabelled"])
            pdf, _ = printing.print_labels(db_session, _settings(request), wanted)
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return Response(pdf, media_type="application/pdf", headers={
                "Content-Disposition": f'inline; filename="labels-{wanted.template}.pdf"'})
        return self._labels_page(request, db_session, status_code=422, errors=problems,
                                 values=values)


# --- errors, templates, wiring --------------------------------------------------------------


def html_error(request: Request, exc: Exception) -> Response:
    """Errors on a page are pages too: a person reads them, not a client."""
    if isinstance(exc, NotAuthorizedException):
        return api_errors.handle_http(request, exc)
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, exc.detail
        if status == 404:
            message = "There is nothing at this address. Check it, or start again from the desk."
        elif status == 400:
            message = "Something in the address was not understood. " + str(exc.detail)
    elif isinstance(exc, InventoryError):
        status, message = exc.status_code, exc.message
    else:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        status, message = 500, "Something went wrong on our side; it has been logged."
    return render(request, "error.html", status_code=status, message=message, status=status)


def _filters(engine: JinjaTemplateEngine) -> None:
    env = engine.engine

    @pass_context
    def when(context: Any, value: Any) -> str:
        """A moment, in the service's time zone."""
        if value is None:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        zone = context["request"].app.state.settings.zone
        return value.astimezone(zone).strftime("%-d %b %Y, %H:%M")

    env.filters["when"] = when
    env.filters["day"] = lambda value: value.strftime("%a %-d %b %Y") if value else ""
    env.filters["status_label"] = lambda value: STATUS_LABELS.get(str(value), str(value))
    env.filters["kind_label"] = lambda value: KIND_LABELS.get(str(value), str(value))
    env.globals.update(KIND_LABELS=KIND_LABELS, STATUS_LABELS=STATUS_LABELS,
                       CONDITIONS=CONDITIONS, WIPE_METHODS=WIPE_METHODS,
                       DEVICE_STATUSES=[s.value for s in DeviceStatus],
                       DEVICE_KINDS=[k.value for k in DeviceKind],
                       LABEL_TEMPLATES=LABEL_TEMPLATES)


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine,
                          engine_callback=_filters)


def csrf_config(settings: Settings) -> CSRFConfig:
    """Every form post carries a token matching its cookie; the API (bearer tokens) and
    machine routes are left out."""
    return CSRFConfig(secret=settings.secret_key or secrets.token_urlsafe(32),
                      cookie_name=CSRF_COOKIE, cookie_httponly=True, cookie_samesite="lax",
                      cookie_secure=settings.base_url.startswith("https://"),
                      exclude=["^/api/", "^/health", "^/schema"])


def route_handlers() -> list[Any]:
    pages = Router(path="/", route_handlers=[SessionPages, DeskPages, DevicePages,
                                             RecipientPages, LoanPages, LabelPages],
                   guards=[role_guard], include_in_schema=False,
                   exception_handlers={HTTPException: html_error, InventoryError: html_error,
                                       Exception: html_error})
    static = create_static_files_router(path="/static", directories=[HERE / "static"],
                                        include_in_schema=False)
    return [pages, static]
