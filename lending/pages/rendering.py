"""What every page shares: rendering, redirects with a one-time message, pagination,
error pages, and the template and CSRF settings."""

import logging
import secrets
from datetime import UTC, datetime
from math import ceil
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import phonenumbers
from jinja2 import pass_context
from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import Body
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from sqlmodel import Session

from inventory import service as inventory
from inventory.models import DeviceKind, DeviceStatus
from inventory.schemas import MAX_OFFSET
from inventory.service import InventoryError
from lending import errors as api_errors
from lending.accounts import service as accounts
from lending.accounts.models import Role
from lending.pages.forms import (
    DATE_NAMES,
    FLASH_COOKIE,
    pack_flash,
    unpack_flash,
)
from lending.pages.wording import (
    CONDITIONS,
    KIND_LABELS,
    LABEL_TEMPLATES,
    PURPOSES,
    RESTRICTION_LABELS,
    RESTRICTIONS,
    STATUS_LABELS,
    WIPE_METHODS,
)
from lending.settings import Settings

log = logging.getLogger("lending.web")

TEMPLATES_DIR = Path(__file__).parent.parent / "web" / "templates"
PAGE_SIZE = 25
CSRF_COOKIE = "lending_csrf"

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def user_of(request: Request):
    return request.scope.get("user")


def is_manager(request: Request) -> bool:
    user = user_of(request)
    return bool(user) and accounts.has_role(user, Role.manager)


def is_admin(request: Request) -> bool:
    user = user_of(request)
    return bool(user) and accounts.has_role(user, Role.admin)


def render(request: Request, template: str, status_code: int = 200, **context: Any
           ) -> Template:
    """A page, with what every page shows: who is signed in and any one-time message."""
    settings = settings_of(request)
    cookies = []
    flash = None
    if FLASH_COOKIE in request.cookies:
        flash = unpack_flash(request.cookies.get(FLASH_COOKIE), settings.secret_key)
        cookies.append(Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/"))
    base = {"user": user_of(request), "is_manager": is_manager(request),
            "is_admin": is_admin(request), "flash": flash,
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


def go_to(request: Request, url: str, message: str | None = None, kind: str = "success"
        ) -> Redirect:
    return go(url, message, secret=settings_of(request).secret_key, kind=kind)


def page_number(page: str | None) -> int:
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
    # Page numbers as the design system shows them: first, last, and two either side of
    # this one, with a gap (None) where numbers are left out.
    shown = sorted({1, pages, *range(max(page - 2, 1), min(page + 2, pages) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return {"page": page, "pages": pages, "total": total, "first": min(first, total),
            "numbers": numbers, "urls": {number: url(number) for number in shown},
            "last": min(page * PAGE_SIZE, total),
            "previous": url(page - 1) if page > 1 else None,
            "next": url(page + 1) if page < pages else None}


def history_line(entry: dict[str, Any]) -> str:
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

def location_choices(db_session: Session) -> list[Any]:
    return list(inventory.list_locations(db_session))


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


def mobile_as_written(number: str | None) -> str:
    """+447700900123 as people write it: 07700 900123 (a UK number in its national format,
    any other in its international one)."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, "GB")
    except phonenumbers.NumberParseException:
        return number
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if parsed.country_code == 44
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, style)


def chosen_filters(base: str, values: dict[str, str], words: dict[str, tuple[str, Any]],
                   keep: dict[str, str] | None = None) -> dict[str, Any]:
    """What the MoJ filter shows of the filters in use: for each, its heading, its value in
    words and the address of the same list without it (back on the first page); and the
    address with none of them. `words` maps a filter to (heading, {value: words} or None);
    `keep` is what the list keeps whatever the filters (a tab, an order)."""
    kept = {key: value for key, value in (keep or {}).items() if value}
    used = {key: value for key, value in values.items() if value and key in words}

    def address(params: dict[str, str]) -> str:
        query = urlencode(params)
        return f"{base}?{query}" if query else base

    tags = []
    for key, value in used.items():
        heading, texts = words[key]
        tags.append({"heading": heading, "text": (texts or {}).get(value, value),
                     "href": address({**kept, **{k: v for k, v in used.items() if k != key}})})
    return {"tags": tags, "clear_href": address(kept), "keep": kept}


def sort_links(base: str, params: dict[str, str], order: str, columns: dict[str, str]
               ) -> dict[str, dict[str, str]]:
    """Headers that sort a paginated list on the server: for each column (its name to the
    order key), the address that sorts by it (the other way if it already is) and its
    aria-sort. Every other parameter is kept; the list starts again on its first page."""
    kept = {key: value for key, value in params.items() if value and key != "sort"}
    links = {}
    for name, key in columns.items():
        now = ("ascending" if order == key else "descending" if order == f"-{key}"
               else "none")
        wanted = f"-{key}" if now == "ascending" else key
        links[name] = {"href": f"{base}?{urlencode({**kept, 'sort': wanted})}",
                       "aria_sort": now}
    return links


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

    @pass_context
    def days_late(context: Any, due_on: Any) -> int:
        """Whole days past the due date, today in the service's time zone."""
        return max((context["request"].app.state.settings.today() - due_on).days, 0)

    env.filters["days_late"] = days_late
    env.filters["mobile"] = mobile_as_written
    env.filters["sentence"] = lambda text: (str(text)[:1].upper() + str(text)[1:]) if text else ""
    env.filters["day"] = lambda value: value.strftime("%a %-d %b %Y") if value else ""
    env.filters["status_label"] = lambda value: STATUS_LABELS.get(str(value), str(value))
    env.filters["kind_label"] = lambda value: KIND_LABELS.get(str(value), str(value))
    env.globals.update(KIND_LABELS=KIND_LABELS, STATUS_LABELS=STATUS_LABELS,
                       CONDITIONS=CONDITIONS, WIPE_METHODS=WIPE_METHODS,
                       DEVICE_STATUSES=[s.value for s in DeviceStatus],
                       DEVICE_KINDS=[k.value for k in DeviceKind],
                       LABEL_TEMPLATES=LABEL_TEMPLATES, PURPOSES=PURPOSES,
                       DATE_NAMES=DATE_NAMES, RESTRICTIONS=RESTRICTIONS,
                       RESTRICTION_LABELS=RESTRICTION_LABELS)


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine,
                          engine_callback=_filters)


def csrf_config(settings: Settings) -> CSRFConfig:
    """Every form post carries a token matching its cookie; the API (bearer tokens) and
    machine routes are left out."""
    return CSRFConfig(secret=settings.secret_key or secrets.token_urlsafe(32),
                      cookie_name=CSRF_COOKIE, cookie_httponly=True, cookie_samesite="lax",
                      cookie_secure=settings.base_url.startswith("https://"),
                      exclude=["^/api/", "^/health", "^/schema"])
