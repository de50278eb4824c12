"""Every error leaves as `application/problem+json` (RFC 9457), naming the field at fault.

Services raise their own package's errors, each carrying `status_code`, `message` and
`field`; this module is the one place that turns them, and the framework's own errors,
into responses. A stack trace never reaches a client.
"""

import json
import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Redirect
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError

from inventory.schemas import split_field
from inventory.service import ImportRejected

log = logging.getLogger("lending")

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """The body of every error (RFC 9457), as the OpenAPI document describes it."""

    type: str = "about:blank"
    status: int
    title: str
    detail: str
    errors: list[dict[str, Any]] | None = None


# What any API route may answer besides its success: bad input, no or a weak credential, no
# such thing, a conflict, too large, too many tries, a busy database.
PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429, 503)


def problem_responses() -> dict[int, ResponseSpec]:
    return {status: ResponseSpec(data_container=Problem, media_type=PROBLEM,
                                 description=HTTPStatus(status).phrase,
                                 generate_examples=False)
            for status in PROBLEM_STATUSES}


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None,
            extra: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "status": status,
                            "title": HTTPStatus(status).phrase, "detail": detail}
    if errors:
        body["errors"] = errors
    # RFC 9457 extension members, e.g. an eligibility refusal's outcome and reasons.
    body.update(extra or {})
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/health", "/schema")) and (
        "text/html" in request.headers.get("accept", "")
        or request.method == "GET" and "application/json" not in request.headers.get(
            "accept", ""))


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        field, message = split_field(str(item.get("message", "")))
        key = item.get("key") or field or "body"
        errors.append({"field": key, "message": message, "source": item.get("source")})
    return errors


def _nul_in(value: Any, path: str) -> str | None:
    """The dotted path of the first text holding a NUL character, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        found = _nul_in(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


async def refuse_nul_characters(request: Request) -> Response | None:
    """No text may hold a NUL character: PostgreSQL cannot store one, and no name, note or
    identifier needs one. Refused up front (422 naming the field) on every way in."""
    for name, value in request.query_params.multi_items():
        if "\x00" in value:
            return problem(422, f"{name}: text may not contain NUL characters",
                           [{"field": name, "message": "text may not contain NUL characters"}])
    if "\x00" in request.url.path:
        return problem(404, f"nothing is at {request.url.path!r}")
    content_type = request.headers.get("content-type", "")
    # Uploads are read as a stream by the handler (a CSV import checks its own text).
    if request.method in ("GET", "HEAD", "OPTIONS") or content_type.startswith("multipart/"):
        return None
    # An upload is a file, read and checked by what imports it; reading a multipart body
    # here would leave nothing for the form parser, which would wait for it forever.
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return None
    body = await request.body()
    if b"\x00" not in body and b"\\u0000" not in body:
        return None
    field = "body"
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = parse_qs(body.decode("utf-8", "replace"))
    field = _nul_in(parsed, "") or field
    return problem(422, f"{field}: text may not contain NUL characters",
                   [{"field": field, "message": "text may not contain NUL characters"}])


def handle_http(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotAuthorizedException) and wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target)}")
    status = exc.status_code
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        if errors:
            summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            # Well-formed input with wrong values is 422; malformed input stays 400.
            return problem(422, summary, errors)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    if status == 404 and detail == "Not Found":
        detail = f"nothing is at {request.url.path}"
    return problem(status, detail, headers=headers)


def handle_service(_: Request, exc: Exception) -> Response:
    message = getattr(exc, "message", str(exc))
    field = getattr(exc, "field", None)
    errors = getattr(exc, "errors", None)
    if isinstance(exc, ImportRejected):
        errors = exc.problems
    elif field and not errors:
        errors = [{"field": field, "message": message}]
    return problem(getattr(exc, "status_code", 400), message, errors,
                   extra=getattr(exc, "extra", None), headers=getattr(exc, "headers", None))


def handle_eligibility(_: Request, exc: Exception) -> Response:
    """Facts or a kind the policy does not know: the input is at fault (422)."""
    field = getattr(exc, "fact", None)
    field = f"facts.{field}" if field else ("kind" if hasattr(exc, "kind") else None)
    message = str(exc).split(": ", 1)[-1] if field and field.startswith("facts.") else str(exc)
    if field is None:
        log.error("eligibility error reached the edge: %s", exc)
        return problem(500, "the eligibility policy could not be applied; it has been logged")
    return problem(422, f"{field}: {message}", [{"field": field, "message": message}])


def handle_integrity(_: Request, exc: IntegrityError) -> Response:
    log.warning("integrity error reached the edge: %s", str(exc.orig).splitlines()[0])
    return problem(409, "that conflicts with an existing record")


def handle_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, OperationalError):
        # The first line only: the rest is the statement, which may quote personal data.
        first = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        log.error("database unavailable on %s %s: %s", request.method, request.url.path,
                  first)
        busy = "locked" in first or "busy" in first
        return problem(503, "the database is busy with another change; try again shortly"
                       if busy else "the database is not answering; try again shortly",
                       headers={"Retry-After": "5" if busy else "30"})
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "something went wrong on our side; it has been logged")
