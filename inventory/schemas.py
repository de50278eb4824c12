"""API input and output for stock, and the rules that make an identifier valid."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from inventory.models import DeviceKind, DeviceSource, DeviceStatus, WipeMethod

# The furthest a list may be paged: a database driver overflows past 2**63, and no table
# here holds more rows than an id can count.
MAX_OFFSET = 2**31 - 1

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NATIONS = ("ENG", "WLS", "SCT", "NIR")


def split_field(message: str) -> tuple[str | None, str]:
    """A pydantic message as (field, message). Model validators that check several fields
    name the one at fault first ("imei2: ..."), since pydantic cannot place them itself."""
    message = re.sub(r"^(Value|Assertion) error, ", "", message)
    head, sep, rest = message.partition(": ")
    if sep and re.fullmatch(r"[a-z_][a-z0-9_.]*", head):
        return head, rest
    return None, message


# What each device field is called in a sentence for staff. A problem names the column as
# the file has it too, so these need not repeat the column's name.
DEVICE_FIELD_NAMES = {
    "kind": "kind", "make": "make", "model": "model", "location": "office code",
    "asset_tag": "asset tag", "serial_number": "serial number", "imei": "IMEI",
    "imei2": "second IMEI", "iccid": "ICCID", "msisdn": "SIM phone number",
    "network": "network", "plan_allowance_gb": "data allowance (GB)",
    "plan_starts_on": "plan start date", "plan_ends_on": "plan end date",
    "purchased_on": "purchase date", "purchase_cost": "purchase cost",
    "condition": "condition", "notes": "notes", "source": "source",
    "source_name": "source name",
}
# An example of a good value, for the messages about numbers and patterns.
_EXAMPLES = {"plan_allowance_gb": "20", "purchase_cost": "129.99", "asset_tag": "00042-K"}
# What a field's pattern asks for, in words (the patterns are on the fields below).
_PATTERN_WORDS = {
    "condition": "must be A, B, C or D (A is as new, D is damaged)",
    "asset_tag": "may hold only letters, digits and dashes",
    "code": "may hold only letters, digits, dashes and underscores",
}


def _number(value: Any) -> str:
    """A limit as people write it: 100,000 rather than 100000.0."""
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value):,}"


def plain_message(field: str, detail: Any) -> str:
    """A pydantic error about one field, in words a member of staff can act on: what the
    field must hold, with an example, never the validator's own text. The limits come from
    the error (so from the field's own definition), the words from the tables above."""
    name = DEVICE_FIELD_NAMES.get(field, field.rsplit(".", 1)[-1].replace("_", " "))
    kind, context = detail["type"], detail.get("ctx") or {}
    example = _EXAMPLES.get(field)
    like = f", like {example}" if example else ""
    if kind == "missing" or (kind == "string_too_short" and context.get("min_length") == 1):
        return f"the {name} is missing"
    if kind == "string_too_short":
        return f"the {name} must be at least {context['min_length']} characters"
    if kind == "string_too_long":
        verb = "are" if name == "notes" else "is"
        return f"the {name} {verb} too long: use at most {context['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return f"the {name} {_PATTERN_WORDS.get(field, 'is not written as expected')}{like}"
    if kind in ("enum", "literal_error"):
        choices = str(context.get("expected", "")).replace("'", "")
        given = detail.get("input")
        said = f", not {given!r}" if isinstance(given, str) and given.strip() else ""
        return f"the {name} must be one of {choices}{said}"
    if kind.startswith(("float_", "decimal_", "int_")) and kind.endswith(
            ("_parsing", "_type")) or kind == "finite_number":
        return f"the {name} must be a number{like or ', like 12.5'}"
    if kind in ("greater_than_equal", "greater_than"):
        limit = context.get("ge", context.get("gt"))
        if limit == 0 and kind == "greater_than_equal":
            return f"the {name} cannot be below 0"
        return f"the {name} must be {'at least' if 'ge' in context else 'above'} " \
               f"{_number(limit)}"
    if kind in ("less_than_equal", "less_than"):
        limit = context.get("le", context.get("lt"))
        return f"the {name} must be {'at most' if 'le' in context else 'below'} " \
               f"{_number(limit)}"
    if kind == "decimal_max_places":
        return f"the {name} may have at most {context['decimal_places']} decimal " \
               f"places{like}"
    if kind.startswith(("date_", "datetime_")):
        return f"the {name} must be a date written year-month-day, like 2026-03-27"
    if kind in ("value_error", "assertion_error"):
        # The service's own validators already speak plainly ("an IMEI is 15 digits");
        # the field is named when the words do not name it.
        _, message = split_field(str(detail.get("msg", "")))
        return message if name.lower() in message.lower() else f"{name}: {message}"
    if kind == "extra_forbidden":
        return f"{name} is not a field this takes"
    return f"the {name} is not valid here"


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def check_imei(value: str) -> str:
    value = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{15}", value):
        raise ValueError("an IMEI is 15 digits")
    if not luhn_valid(value):
        raise ValueError("this IMEI fails its check digit: probably mistyped")
    return value


def check_iccid(value: str) -> str:
    value = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"89\d{17,18}", value):
        raise ValueError("an ICCID is 19 or 20 digits starting 89")
    if not luhn_valid(value):
        raise ValueError("this ICCID fails its check digit: probably mistyped")
    return value


# Ofcom keeps 07700 900000 to 07700 900999 for drama: never given to anyone, so safe for
# demos and smoke tests. `phonenumbers` calls them invalid; they are taken as UK mobiles.
UK_DRAMA_MOBILES = range(7700900000, 7700901000)


def is_uk_drama_mobile(number: phonenumbers.PhoneNumber) -> bool:
    """Whether a parsed number is in Ofcom's drama range of UK mobiles."""
    return (number.country_code == 44 and not number.italian_leading_zero
            and number.national_number in UK_DRAMA_MOBILES)


def normalise_uk_mobile(value: str) -> str:
    """A UK mobile number in E.164 (+447...), whatever way it was written. The drama range
    (07700 900000 to 900999) counts as mobile."""
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException as error:
        raise ValueError("not a phone number") from error
    if number.country_code != 44:
        raise ValueError("not a UK number (+44)")
    if is_uk_drama_mobile(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid UK mobile number")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise ValueError("not a mobile number (07...)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_OPTIONAL_FIELDS = frozenset({
    "asset_tag", "serial_number", "imei", "imei2", "iccid", "msisdn", "network",
    "plan_allowance_gb", "plan_starts_on", "plan_ends_on", "purchased_on", "purchase_cost",
    "source_name"})


def _blanks_to_none(data: Any) -> Any:
    """An empty optional form field or CSV cell means 'not given' (one pass over the row:
    imports validate thousands of rows, and one call per row beats one per field)."""
    if isinstance(data, dict):
        return {key: None if key in _OPTIONAL_FIELDS and isinstance(value, str)
                and not value.strip() else value for key, value in data.items()}
    return data


class ReadModel(BaseModel):
    """What an endpoint answers with. A field the answer has but the model lacks is an
    error, so that the OpenAPI document and the answers cannot drift apart unnoticed (the
    tests validate real answers against these)."""

    model_config = ConfigDict(extra="forbid")


Item = TypeVar("Item")


class Page(ReadModel, Generic[Item]):
    """One page of a list: every list endpoint answers with this shape. Here, in the lowest
    library, so that every package may use it."""

    items: list[Item]
    total: int = Field(description="how many match, over all pages")
    limit: int
    offset: int


Imei = Annotated[str, AfterValidator(check_imei)]
Iccid = Annotated[str, AfterValidator(check_iccid)]
UkMobile = Annotated[str, AfterValidator(normalise_uk_mobile)]
Condition = Annotated[str, Field(pattern=r"^[ABCD]$")]


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=120)
    address: str = Field(default="", max_length=400)
    nation: str = Field(default="ENG", description="ENG, WLS, SCT or NIR, for bank holidays")
    opening_days: list[str] = Field(default=["mon", "tue", "wed", "thu", "fri"])

    @field_validator("code")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("nation")
    @classmethod
    def _known_nation(cls, value: str) -> str:
        if value.upper() not in NATIONS:
            raise ValueError(f"must be one of {', '.join(NATIONS)}")
        return value.upper()

    @field_validator("opening_days")
    @classmethod
    def _known_days(cls, value: list[str]) -> list[str]:
        unknown = [day for day in value if day.lower() not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown day {unknown[0]!r}: use {', '.join(WEEKDAYS)}")
        if not value:
            raise ValueError("a location opens on at least one day")
        return sorted({day.lower() for day in value}, key=WEEKDAYS.index)


class LocationRead(ReadModel):
    code: str
    name: str
    address: str
    nation: str
    opening_days: list[str]


class DeviceFields(BaseModel):
    """What a person may set on a device; shared by create, update and import."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    make: str = Field(min_length=1, max_length=80)
    model: str = Field(min_length=1, max_length=80)
    location: str = Field(min_length=1, max_length=16, description="a location code")
    serial_number: str | None = Field(default=None, max_length=80)
    imei: Imei | None = None
    imei2: Imei | None = None
    iccid: Iccid | None = None
    msisdn: UkMobile | None = None
    network: str | None = Field(default=None, max_length=40)
    plan_allowance_gb: float | None = Field(default=None, ge=0, le=100_000)
    plan_starts_on: date | None = None
    plan_ends_on: date | None = None
    purchased_on: date | None = None
    purchase_cost: Decimal | None = Field(default=None, ge=0, le=1_000_000, decimal_places=2)
    condition: Condition = "A"
    notes: str = Field(default="", max_length=2000)
    source: DeviceSource = Field(default=DeviceSource.purchased,
                                 description="purchased, donated or partner")
    source_name: str | None = Field(default=None, max_length=120,
                                    description="the donor or partner, for devices not bought")

    _blanks = model_validator(mode="before")(_blanks_to_none)

    @field_validator("source", mode="before")
    @classmethod
    def _blank_source(cls, value: Any) -> Any:
        return DeviceSource.purchased if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _plan_dates_in_order(self) -> "DeviceFields":
        if self.plan_starts_on and self.plan_ends_on and self.plan_ends_on < self.plan_starts_on:
            raise ValueError("plan_ends_on: the plan cannot end before it starts")
        return self


# Kinds by what they may carry, looked up once (an import checks thousands of rows).
_NO_SECOND_IMEI = frozenset({DeviceKind.laptop, DeviceKind.tablet})
_SIM_KINDS = frozenset({DeviceKind.sim, DeviceKind.hotspot, DeviceKind.phone})


class DeviceCreate(DeviceFields):
    kind: DeviceKind
    asset_tag: str | None = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9-]+$")


    @model_validator(mode="after")
    def _identifiers_fit_kind(self) -> "DeviceCreate":
        if self.kind in _NO_SECOND_IMEI and self.imei2:
            raise ValueError("imei2: only phones and hotspots have a second IMEI")
        if self.kind is DeviceKind.sim and (self.imei or self.imei2):
            raise ValueError("imei: a SIM has an ICCID, not an IMEI")
        if self.kind not in _SIM_KINDS and (
            self.iccid or self.plan_allowance_gb is not None
        ):
            raise ValueError("iccid: only SIMs, hotspots and phones carry a SIM or a data plan")
        if self.imei and self.imei2 and self.imei == self.imei2:
            raise ValueError("imei2: the second IMEI must differ from the first")
        return self


class DeviceUpdate(BaseModel):
    """A partial update: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    make: str | None = Field(default=None, min_length=1, max_length=80)
    model: str | None = Field(default=None, min_length=1, max_length=80)
    location: str | None = Field(default=None, min_length=1, max_length=16)
    serial_number: str | None = Field(default=None, max_length=80)
    imei: Imei | None = None
    imei2: Imei | None = None
    iccid: Iccid | None = None
    msisdn: UkMobile | None = None
    network: str | None = Field(default=None, max_length=40)
    plan_allowance_gb: float | None = Field(default=None, ge=0, le=100_000)
    plan_starts_on: date | None = None
    plan_ends_on: date | None = None
    purchased_on: date | None = None
    purchase_cost: Decimal | None = Field(default=None, ge=0, le=1_000_000, decimal_places=2)
    condition: Condition | None = None
    notes: str | None = Field(default=None, max_length=2000)
    source: DeviceSource | None = None
    source_name: str | None = Field(default=None, max_length=120)

    _blanks = model_validator(mode="before")(_blanks_to_none)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: DeviceStatus
    notes: str = Field(default="", max_length=2000)


class WipeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    method: WipeMethod
    account_lock_removed: bool | None = Field(
        default=None, description="the Google or Apple account lock was removed; a phone or "
        "tablet said to still have its lock is not taken back into stock")
    notes: str = Field(default="", max_length=2000)


class DeviceRead(ReadModel):
    asset_tag: str
    kind: str
    make: str
    model: str
    status: str
    location: str
    serial_number: str | None
    imei: str | None
    imei2: str | None
    iccid: str | None
    msisdn: str | None
    network: str | None
    plan_allowance_gb: float | None
    plan_starts_on: date | None
    plan_ends_on: date | None
    purchased_on: date | None
    purchase_cost: Decimal | None
    condition: str
    notes: str
    labelled_at: datetime | None
    source: str = Field(description="purchased, donated or partner")
    source_name: str | None = Field(description="the donor or partner")


class PlanRenewal(BaseModel):
    """A renewal or top-up of a SIM's or hotspot's data plan."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ends_on: date = Field(description="the plan's new last day")
    starts_on: date | None = Field(default=None, description="default: unchanged")
    allowance_gb: float | None = Field(default=None, ge=0, le=100_000,
                                       description="default: unchanged")
    cost: Decimal | None = Field(default=None, ge=0, le=1_000_000, decimal_places=2,
                                 description="what the renewal cost, in pounds")
    notes: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _dates_in_order(self) -> "PlanRenewal":
        if self.starts_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on: the plan cannot end before it starts")
        return self


class PlanChangeRead(ReadModel):
    starts_on: date | None
    ends_on: date
    allowance_gb: float | None
    cost: Decimal | None
    recorded_by: str
    recorded_at: datetime
    notes: str


class WipeRead(ReadModel):
    method: str
    account_lock_removed: bool | None
    performed_by: str
    performed_at: datetime
    notes: str


class DeviceDetail(DeviceRead):
    """A device with its wipes, and what the application adds to it (`device_extras`):
    this package does not know those fields, so they are let through; the application
    documents them (in this service: the current `loan` and the `history`)."""

    model_config = ConfigDict(extra="allow")

    wipes: list[WipeRead]
    plan_changes: list[PlanChangeRead] = Field(
        default_factory=list, description="renewals and top-ups of the data plan, newest first")


class DeviceFilter(BaseModel):
    status: DeviceStatus | None = None
    kind: DeviceKind | None = None
    location: str | None = None
    q: str | None = Field(default=None, max_length=80)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class ImportResult(ReadModel):
    created: int
    asset_tags: list[str]
