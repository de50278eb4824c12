"""What every page needs from a form: its errors by field, a safe place to go next, and a
one-time message (a flash) carried across the redirect that follows an action."""

import base64
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from eligibility import EligibilityError
from inventory.schemas import split_field
from inventory.service import InventoryError

# The errors a form submission may meet: its schema's, and the services' own.
FORM_ERRORS = (ValidationError, InventoryError, EligibilityError)

FLASH_COOKIE = "lending_flash"


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after signing in: never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in target):
        return default
    return target


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Field name -> the first message about it, in words a person can act on."""
    found: dict[str, str] = {}
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"])
        named, message = split_field(detail["msg"])
        field = field or named or "form"
        found.setdefault(field, _plain(detail, field, message))
    return found


def _plain(detail: Any, field: str, message: str) -> str:
    """A validator's message in words a person can act on, naming what to enter."""
    kind, context = detail["type"], detail.get("ctx") or {}
    what = field.rsplit(".", 1)[-1].replace("_", " ")
    if kind == "missing" or (kind == "string_too_short" and context.get("min_length") == 1):
        return f"Enter the {DATE_NAMES.get(what.replace(' ', '_'), what).lower()}"
    if kind == "string_too_short":
        return f"Enter at least {context.get('min_length')} characters"
    if kind == "string_too_long":
        return f"Use {context.get('max_length')} characters or fewer"
    if kind.startswith(("date_", "datetime_")):
        return date_message(field.rsplit(".", 1)[-1], detail.get("input"))
    if kind.startswith(("float_", "decimal_", "int_")) and "parsing" in kind:
        return "Enter a number"
    if kind == "extra_forbidden":
        return "this field is not expected here"
    return message


def form_problems(error: Exception) -> dict[str, str]:
    """What a form's submission got wrong, by field, whether the schema or the service
    refused it (one of FORM_ERRORS)."""
    if isinstance(error, ValidationError):
        return validation_errors(error)
    return service_errors(error)


def service_errors(error: Exception) -> dict[str, str]:
    """A service error (it carries `.message` and `.field`) as errors by field."""
    message = getattr(error, "message", str(error))
    return {getattr(error, "field", None) or "form": message}


def form_fields(data: dict[str, Any], names: tuple[str, ...] | set[str]) -> dict[str, Any]:
    """The named fields of a submitted form; blank ones are left out (not given)."""
    picked = {}
    for name in names:
        value = data.get(name)
        if value is None and f"{name}-year" in data:
            value = date_from_parts(data, name)
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, "", []):
            picked[name] = value
    return picked


def every_field(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of an edit form, blank ones too: on an edit form a field left
    blank is a field cleared."""
    picked = {}
    for name in names:
        value = data.get(name)
        if value is None and f"{name}-year" in data:
            value = date_from_parts(data, name)
        if value is not None:
            picked[name] = value.strip() if isinstance(value, str) else value
    return picked


def date_from_parts(data: dict[str, Any], name: str) -> str:
    """The design system's date input (name-day, name-month, name-year) as one ISO date;
    blank when all three are, and left as typed (to be refused) when it is no date."""
    day, month, year = (str(data.get(f"{name}-{part}") or "").strip()
                        for part in ("day", "month", "year"))
    if not (day or month or year):
        return ""
    if day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4:
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return f"{year}-{month}-{day}"


# The dates typed in the design system's date input, named as its error messages name them
# ("Due date must be a real date"). The error summary links these to their day box.
DATE_NAMES = {"due_on": "Due date", "renew_due_on": "Due date", "declared_on": "Declaration date",
              "plan_starts_on": "Plan start date", "plan_ends_on": "Plan end date",
              "purchased_on": "Purchase date", "date_from": "Start date",
              "date_to": "End date"}


def date_message(field: str, typed: Any) -> str:
    """What is wrong with a date that is no date, as the design system words it: what it
    must include when a box was left blank, else that it must be a real date. `typed` is
    what `date_from_parts` made of the boxes (year-month-day, as typed)."""
    name = DATE_NAMES.get(field)
    if name is None:
        return "Enter a real date, for example 27 3 2027"
    parts = str(typed or "").split("-")
    if len(parts) == 3:
        year, month, day = parts
        missing = [part for part, text in (("day", day), ("month", month), ("year", year))
                   if not text.strip()]
        if missing:
            return f"{name} must include a {' and '.join(missing)}"
        if year.isdigit() and len(year) != 4:
            return "Year must include 4 numbers"
    return f"{name} must be a real date"


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value if str(item).strip()]
    return [str(value)] if str(value).strip() else []


def split_list(text: str | None) -> list[str]:
    """'charger, case' or one per line, as ['charger', 'case']."""
    return [item.strip() for item in re.split(r"[,\n]", text or "") if item.strip()]


# --- flash messages ------------------------------------------------------------------------


def _signature(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]


def pack_flash(message: str, kind: str, secret: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps([kind, message]).encode()).decode()
    return f"{body}.{_signature(body, secret)}"


def unpack_flash(value: str | None, secret: str) -> dict[str, str] | None:
    if not value or "." not in value:
        return None
    body, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _signature(body, secret)):
        return None
    try:
        kind, message = json.loads(base64.urlsafe_b64decode(body.encode()))
    except (ValueError, TypeError):
        return None
    return {"kind": str(kind), "message": str(message)}
