"""Tables for stock: where it lives, what it is, and how it was wiped."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index
from sqlmodel import Field, SQLModel


class DeviceKind(StrEnum):
    laptop = "laptop"
    phone = "phone"
    tablet = "tablet"
    sim = "sim"
    hotspot = "hotspot"


class DeviceStatus(StrEnum):
    available = "available"
    on_loan = "on_loan"
    awaiting_wipe = "awaiting_wipe"
    in_repair = "in_repair"
    lost = "lost"
    retired = "retired"


class DeviceSource(StrEnum):
    """Where a device came from: bought, given, or lent by a partner organisation."""

    purchased = "purchased"
    donated = "donated"
    partner = "partner"


# Kinds that carry their own data plan, whose end bounds a loan.
PLAN_KINDS = ("sim", "hotspot")


class WipeMethod(StrEnum):
    factory_reset = "factory_reset"
    nist_clear = "nist_clear"
    nist_purge = "nist_purge"


# The legal moves of a device, in one place. `available` is reached only through a
# recorded wipe (or a repair that ends in a wipe), so an unwiped device is never lent.
TRANSITIONS: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    DeviceStatus.available: frozenset(
        {DeviceStatus.on_loan, DeviceStatus.in_repair, DeviceStatus.lost, DeviceStatus.retired}
    ),
    DeviceStatus.on_loan: frozenset(
        {DeviceStatus.awaiting_wipe, DeviceStatus.in_repair, DeviceStatus.lost}
    ),
    DeviceStatus.awaiting_wipe: frozenset(
        {DeviceStatus.available, DeviceStatus.in_repair, DeviceStatus.lost, DeviceStatus.retired}
    ),
    DeviceStatus.in_repair: frozenset(
        {DeviceStatus.awaiting_wipe, DeviceStatus.lost, DeviceStatus.retired}
    ),
    DeviceStatus.lost: frozenset({DeviceStatus.awaiting_wipe, DeviceStatus.retired}),
    DeviceStatus.retired: frozenset(),
}


def lifecycle_mermaid() -> str:
    """The device lifecycle as a Mermaid state diagram, drawn from TRANSITIONS alone, so that
    the diagram in docs/architecture.md is this table and nothing else (a test compares)."""
    order = list(DeviceStatus)
    lines = ["stateDiagram-v2", f"    [*] --> {DeviceStatus.available.value}"]
    for source in order:
        for target in sorted(TRANSITIONS[source], key=order.index):
            lines.append(f"    {source.value} --> {target.value}")
        if not TRANSITIONS[source]:
            lines.append(f"    {source.value} --> [*]")
    return "\n".join(lines) + "\n"


class Location(SQLModel, table=True):
    __tablename__ = "locations"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=120)
    address: str = Field(default="", max_length=400)
    # Bank holidays differ by nation: ENG, WLS, SCT or NIR (the `holidays` package's subdivisions).
    nation: str = Field(default="ENG", max_length=3)
    # ISO weekdays the office opens, Monday = 1: "12345" is Monday to Friday.
    opening_days: str = Field(default="12345", max_length=7)


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    __table_args__ = (
        # The list view filters by status, kind and location and pages by id.
        Index("ix_devices_status_kind_id", "status", "kind", "id"),
        Index("ix_devices_location_status", "location_id", "status"),
        Index("ix_devices_kind_id", "kind", "id"),
        # The stock report counts by location, kind and status from the index alone.
        Index("ix_devices_location_kind_status", "location_id", "kind", "status"),
        Index("ix_devices_plan_ends_on", "plan_ends_on"),
        # Devices (and how many are held and out) by where they came from.
        Index("ix_devices_source_status", "source", "source_name", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    asset_tag: str = Field(max_length=20, unique=True)
    kind: str = Field(max_length=10)
    make: str = Field(max_length=80)
    model: str = Field(max_length=80)
    serial_number: str | None = Field(default=None, max_length=80, unique=True)
    imei: str | None = Field(default=None, max_length=15, unique=True)
    imei2: str | None = Field(default=None, max_length=15, unique=True)
    iccid: str | None = Field(default=None, max_length=20, unique=True)
    msisdn: str | None = Field(default=None, max_length=16)
    network: str | None = Field(default=None, max_length=40)
    plan_allowance_gb: float | None = None
    plan_starts_on: date | None = None
    plan_ends_on: date | None = None
    purchased_on: date | None = None
    purchase_cost_pence: int | None = None
    condition: str = Field(default="A", max_length=1)
    location_id: int = Field(foreign_key="locations.id", index=True)
    status: str = Field(default=DeviceStatus.available.value, max_length=16)
    notes: str = Field(default="", max_length=2000)
    labelled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    source: str = Field(default=DeviceSource.purchased.value, max_length=10)
    # The donor or partner, for devices not bought.
    source_name: str | None = Field(default=None, max_length=120)


class TagSequence(SQLModel, table=True):
    """One row holding the next asset-tag number, so that tags are handed out in order
    without two writers ever taking the same number."""

    __tablename__ = "tag_sequence"

    id: int = Field(default=1, primary_key=True)
    next_number: int = 1


class Wipe(SQLModel, table=True):
    __tablename__ = "wipes"

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="devices.id", index=True)
    method: str = Field(max_length=16)
    # None when the person recording the wipe did not say (the API's minimal `{method}`).
    account_lock_removed: bool | None = None
    performed_by: str = Field(max_length=254)
    performed_at: datetime = Field(sa_type=DateTime(timezone=True))
    notes: str = Field(default="", max_length=2000)


class PlanChange(SQLModel, table=True):
    """A renewal or top-up of a device's data plan: its history, and what data cost."""

    __tablename__ = "plan_changes"

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="devices.id", index=True)
    starts_on: date | None = None
    ends_on: date
    allowance_gb: float | None = None
    cost_pence: int | None = None
    recorded_by: str = Field(max_length=254)
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    notes: str = Field(default="", max_length=2000)
