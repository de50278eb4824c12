"""A realistic demo data set: three offices (one in Wales), devices of every kind, SIMs with
data plans, staff accounts, devices in several states, and recipients with loans in every
state (see `lending.loans.demo_data`), and data vouchers when the service's secret is given
(codes are sealed with it). Deterministic, so that a demo looks the same every time."""

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select

from inventory.models import Device, DeviceKind, DeviceStatus
from inventory.schemas import (
    DeviceCreate,
    LocationCreate,
    StatusChange,
    WipeCreate,
    luhn_valid,
    normalise_uk_mobile,
)
from inventory.service import (
    change_status,
    create_device,
    create_location,
    move_device,
    record_wipe,
)
from lending.accounts.schemas import UserCreate
from lending.accounts.service import create_user
from lending.db import session_for
from lending.loans.demo_data import load_lending_demo
from lending.vouchers.service import code_box, import_vouchers

DEMO_LOGIN = "manager@example.org"
DEMO_PASSWORD = "demo-lending-2026"

OFFICES = [
    LocationCreate(code="LDN", name="London Central", address="1 Example Street, London"),
    LocationCreate(code="MCR", name="Manchester North", address="2 Example Road, Manchester",
                   opening_days=["mon", "tue", "wed", "thu"]),
    LocationCreate(code="CDF", name="Cardiff Bay", address="3 Example Way, Cardiff",
                   nation="WLS"),
]

MODELS = {
    DeviceKind.laptop: [("Lenovo", "ThinkPad E14"), ("Dell", "Latitude 3540"),
                        ("HP", "ProBook 450")],
    DeviceKind.phone: [("Samsung", "Galaxy A15"), ("Motorola", "moto g54"),
                       ("Nokia", "G22")],
    DeviceKind.tablet: [("Samsung", "Galaxy Tab A9"), ("Lenovo", "Tab M10")],
    DeviceKind.sim: [("Vodafone", "Data SIM 30GB"), ("EE", "Data SIM 20GB"),
                     ("Three", "Data SIM 50GB")],
    DeviceKind.hotspot: [("TP-Link", "M7350"), ("Huawei", "E5576")],
}
COUNTS = {DeviceKind.laptop: 16, DeviceKind.phone: 14, DeviceKind.tablet: 8,
          DeviceKind.sim: 16, DeviceKind.hotspot: 6}


VOUCHER_NETWORKS = [("Vodafone", 20), ("EE", 10), ("Three", 30)]
VOUCHERS_PER_OFFICE = 4


class DatabaseNotEmpty(Exception):
    pass


def with_luhn(body: str) -> str:
    """`body` completed with the check digit that makes it pass the Luhn test."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def _mobile(rng: random.Random) -> str:
    while True:
        candidate = f"+447{rng.randint(400000000, 999999999)}"
        try:
            return normalise_uk_mobile(candidate)
        except ValueError:
            continue


def _voucher_csv(rng: random.Random, expires_on: date) -> str:
    """A voucher file as a network's portal would send it, four codes for each office."""
    lines = ["location,network,code,data_gb,expires_on"]
    for office in OFFICES:
        for n in range(VOUCHERS_PER_OFFICE):
            network, gigabytes = VOUCHER_NETWORKS[n % len(VOUCHER_NETWORKS)]
            code = "-".join(f"{rng.randint(0, 9999):04d}" for _ in range(4))
            lines.append(f"{office.code},{network},{code},{gigabytes},{expires_on}")
    return "\n".join(lines) + "\n"


def load_demo(engine: Engine, secret: str | None = None) -> dict[str, int]:
    """Loads the demo into an empty database; with the service's `secret`, data vouchers too."""
    rng = random.Random(2026)
    with session_for(engine, actor="demo") as session:
        if session.scalar(select(func.count()).select_from(Device)):
            raise DatabaseNotEmpty("the database already holds devices; the demo loads only "
                                   "into an empty database")
        for office in OFFICES:
            create_location(session, office)
        create_user(session, UserCreate(email=DEMO_LOGIN, display_name="Morgan Manager",
                                        role="manager", location="LDN", password=DEMO_PASSWORD))
        create_user(session, UserCreate(email="admin@example.org", display_name="Alex Admin",
                                        role="admin", password=DEMO_PASSWORD))
        for code in ("LDN", "MCR", "CDF"):
            create_user(session, UserCreate(
                email=f"desk.{code.lower()}@example.org", display_name=f"Desk {code}",
                role="staff", location=code, password=DEMO_PASSWORD))

        devices = []
        serial = 0
        for kind, count in COUNTS.items():
            for n in range(count):
                serial += 1
                make, model = MODELS[kind][n % len(MODELS[kind])]
                fields = {
                    "kind": kind, "make": make, "model": model,
                    "location": OFFICES[n % 3].code,
                    "serial_number": None if kind == DeviceKind.sim else f"SN{240000 + serial}",
                    "purchased_on": date(2025, 1, 6) + timedelta(days=rng.randint(0, 500)),
                    "purchase_cost": {"laptop": 349, "phone": 129, "tablet": 159, "sim": 0,
                                      "hotspot": 59}[kind.value],
                    "condition": rng.choice("AAAB"),
                }
                if kind in (DeviceKind.phone, DeviceKind.hotspot):
                    fields["imei"] = with_luhn(f"35{rng.randint(0, 10**12 - 1):012d}")
                if kind == DeviceKind.sim:
                    fields["iccid"] = with_luhn(f"894410{rng.randint(0, 10**12 - 1):012d}")
                    fields["msisdn"] = _mobile(rng)
                    fields["network"] = make
                if kind in (DeviceKind.sim, DeviceKind.hotspot):
                    fields["plan_allowance_gb"] = rng.choice([20, 30, 50])
                    fields["plan_starts_on"] = date(2026, 9, 1)
                    fields["plan_ends_on"] = date(2027, 8, 31)
                devices.append(create_device(session, DeviceCreate(**fields)))

        # A few devices in the states a real store holds.
        for device in devices[2:5]:
            change_status(session, device.asset_tag, StatusChange(
                status=DeviceStatus.in_repair, notes="cracked screen"))
        change_status(session, devices[5].asset_tag, StatusChange(
            status=DeviceStatus.retired, notes="beyond economic repair"))
        change_status(session, devices[20].asset_tag, StatusChange(
            status=DeviceStatus.lost, notes="reported lost at the desk"))
        found = devices[21]
        change_status(session, found.asset_tag, StatusChange(status=DeviceStatus.lost))
        change_status(session, found.asset_tag, StatusChange(
            status=DeviceStatus.awaiting_wipe, notes="found and handed in"))
        wiped = devices[22]
        move_device(wiped, DeviceStatus.lost)
        session.commit()
        change_status(session, wiped.asset_tag, StatusChange(status=DeviceStatus.awaiting_wipe))
        record_wipe(session, wiped.asset_tag, WipeCreate(
            method="factory_reset", account_lock_removed=True), "demo")
    lending = load_lending_demo(engine, DEMO_LOGIN)
    counts = {"offices": len(OFFICES), "devices": len(devices), "staff accounts": 5, **lending}
    if secret:
        today = datetime.now(UTC).date()
        with session_for(engine, actor="demo") as session:
            counts["data vouchers"] = import_vouchers(
                session, _voucher_csv(rng, today + timedelta(days=180)), code_box(secret), today)
    return counts
