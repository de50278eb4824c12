"""API input and output for stocktakes."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StocktakeStart(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    location: str = Field(min_length=1, max_length=16, description="a location code")


class ScanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tag: str = Field(min_length=1, max_length=200,
                     description="an asset tag, or a label's URL as a scanner reads it")


class ResolveMissing(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["lost", "moved"]
    location: str | None = Field(default=None, max_length=16,
                                 description="for `moved`: the office it is at now")
    notes: str = Field(default="", max_length=2000)


class Counts(BaseModel):
    expected: int
    found: int
    missing: int
    unexpected: int
    on_loan: int


class StocktakeRead(BaseModel):
    id: int
    location: str
    location_name: str
    status: Literal["open", "closed"]
    started_at: datetime
    started_by: str
    closed_at: datetime | None = None
    closed_by: str | None = None
    counted: int = Field(description="devices scanned")
    counts: Counts | None = Field(default=None, description="the result, once closed")


class StocktakePage(BaseModel):
    items: list[StocktakeRead]
    total: int
    limit: int
    offset: int


class DeviceLine(BaseModel):
    asset_tag: str
    kind: str
    make: str
    model: str
    status: str


class LastEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    changes: dict


class MissingLine(DeviceLine):
    last_event: LastEvent | None = None
    resolution: Literal["lost", "moved"] | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    moved_to: str | None = None


class UnexpectedLine(DeviceLine):
    location: str = Field(description="the office it belongs to")
    reason: Literal["elsewhere", "on_loan", "not_in_stock"]
    due_on: date | None = None


class OnLoanLine(DeviceLine):
    due_on: date | None = None
    overdue: bool = False


class StocktakeResult(StocktakeRead):
    """A stocktake with its result: `found` a count, the other outcomes listed (empty
    while the count is open)."""

    found: int = 0
    found_items: list[DeviceLine] = []
    missing: list[MissingLine] = []
    unexpected: list[UnexpectedLine] = []
    on_loan: list[OnLoanLine] = []


class ScanResult(BaseModel):
    expected: bool = Field(description="the device is one this count expects on the shelf")
    outcome: Literal["expected", "on_loan", "elsewhere", "not_in_stock"]
    already_counted: bool
    tone: Literal["green", "amber"]
    message: str
    asset_tag: str
    device: DeviceLine
    counted: int
