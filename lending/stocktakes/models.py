"""Stocktakes: an office's shelf counted by scanning, and what the count found."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from inventory.models import DeviceStatus

# Where a device whose home is the office should be during a count: on the shelf.
SHELF_STATUSES = (DeviceStatus.available.value, DeviceStatus.awaiting_wipe.value,
                  DeviceStatus.in_repair.value)


class StocktakeStatus(StrEnum):
    open = "open"
    closed = "closed"


class ItemOutcome(StrEnum):
    """What closing made of a device: scanned and expected, expected and not scanned,
    scanned and not expected, or out on loan (listed apart, never missing)."""

    found = "found"
    missing = "missing"
    unexpected = "unexpected"
    on_loan = "on_loan"


class Resolution(StrEnum):
    lost = "lost"
    moved = "moved"


class Stocktake(SQLModel, table=True):
    __tablename__ = "stocktakes"
    __table_args__ = (
        # One open count per office: two people starting one at once get the same count,
        # never two that each see half the scans.
        Index("uq_stocktakes_one_open_per_location", "location_id", unique=True,
              sqlite_where=text("status = 'open'"),
              postgresql_where=text("status = 'open'")),
        Index("ix_stocktakes_location_closed_at", "location_id", "closed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="locations.id")
    status: str = Field(default=StocktakeStatus.open.value, max_length=10)
    started_at: datetime = Field(sa_type=DateTime(timezone=True))
    started_by: str = Field(max_length=254)
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    closed_by: str | None = Field(default=None, max_length=254)
    # The result, kept as counted at closing.
    expected: int | None = None
    found: int | None = None
    missing: int | None = None
    unexpected: int | None = None
    on_loan: int | None = None


class StocktakeItem(SQLModel, table=True):
    """One device in a stocktake: a scan while it is open (recorded once however often it
    arrives), and the outcome, status and home the device had when the count closed."""

    __tablename__ = "stocktake_items"
    __table_args__ = (
        UniqueConstraint("stocktake_id", "device_id", name="uq_stocktake_items_device"),
        Index("ix_stocktake_items_device_id", "device_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stocktake_id: int = Field(foreign_key="stocktakes.id")
    device_id: int = Field(foreign_key="devices.id")
    scanned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    scanned_by: str | None = Field(default=None, max_length=254)
    outcome: str | None = Field(default=None, max_length=12)
    device_status: str | None = Field(default=None, max_length=16)
    home_location_id: int | None = Field(default=None, foreign_key="locations.id")
    due_on: date | None = None
    resolution: str | None = Field(default=None, max_length=10)
    resolved_by: str | None = Field(default=None, max_length=254)
    resolved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    moved_to_location_id: int | None = Field(default=None, foreign_key="locations.id")
