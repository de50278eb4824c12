"""The stock report as it leaves the service: the same figures for JSON, CSV, PDF and page.

Every figure and every table carries a one-line definition, so that a reader of any of
the formats knows exactly what was counted. Figures hold counts, never names.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from inventory.schemas import ReadModel

Unit = Literal["count", "days", "percent", "pence", "gigabytes", "weeks"]
Cell = str | int | float | None


class Figure(BaseModel):
    key: str
    label: str
    # Documented as one JSON number: "integer or number" would make a whole number match
    # both branches of a oneOf, which a strict client rejects.
    value: int | float | None = Field(description="null when there is nothing to measure",
                                      json_schema_extra={"type": ["number", "null"],
                                                         "oneOf": None})
    unit: Unit
    display: str = Field(description="the value as the PDF and the page show it")
    definition: str


class Table(BaseModel):
    key: str
    title: str
    definition: str
    columns: list[str]
    rows: list[list[Cell]] = Field(json_schema_extra={"items": {"items": {
        "type": ["string", "number", "null"]}, "type": "array"}})


class Section(BaseModel):
    key: str
    title: str
    note: str | None = None
    figures: list[Figure] = []
    tables: list[Table] = []


class ReportPeriod(BaseModel):
    date_from: date = Field(description="first day counted (local date), the `from` filter")
    date_to: date = Field(description="last day counted (local date), the `to` filter")
    location: str | None = Field(description="location code, or null for every location")
    today: date
    generated_at: datetime
    timezone: str


class StockReport(BaseModel):
    title: str
    period: ReportPeriod
    sections: list[Section]

    def section(self, key: str) -> Section:
        return next(section for section in self.sections if section.key == key)

    def figure(self, key: str) -> Figure:
        return next(figure for section in self.sections for figure in section.figures
                    if figure.key == key)

    def table(self, key: str) -> Table:
        return next(table for section in self.sections for table in section.tables
                    if table.key == key)


class StoredReport(ReadModel):
    """A weekly report kept in the reports folder."""

    name: str = Field(description="the file name, which sorts by date; "
                      "GET /api/v1/reports/{name} serves it")
    date_from: date = Field(description="first day the report covers (local date)")
    date_to: date = Field(description="last day the report covers (local date)")
    size_bytes: int
    created_at: datetime = Field(description="when the file was written")
