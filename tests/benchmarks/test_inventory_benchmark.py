"""Inventory speed: the device list at 100,000 devices, and a 10,000-row CSV import.

Each figure is printed with its ratio to a floor measured in the same run on the same
database: raw SQL for the same page, a bare DBAPI `executemany` for the same rows.
Run with `make bench`.
"""

import random
import statistics
import time

import pytest
from sqlalchemy import insert, select, text

from inventory.models import Device, Location
from inventory.service import format_tag, import_devices
from lending.db import session_for
from tests.conftest import add_user

DEVICES = 100_000
KINDS = ["laptop", "phone", "tablet", "sim", "hotspot"]
STATUSES = ["available"] * 6 + ["on_loan"] * 3 + ["awaiting_wipe", "in_repair", "retired"]


def timed(action, repeat: int) -> float:
    """The median time of one call, in seconds, after a warm-up."""
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def seed(engine, count: int) -> None:
    rng = random.Random(7)
    with engine.begin() as connection:
        location_id = connection.execute(insert(Location).values(
            code="LDN", name="London", address="", nation="ENG", opening_days="12345")
        ).inserted_primary_key[0]
        rows = [{"asset_tag": format_tag(n), "kind": rng.choice(KINDS), "make": "Make",
                 "model": f"Model {n % 40}", "serial_number": f"SN{n}",
                 "status": rng.choice(STATUSES), "condition": "A", "location_id": location_id,
                 "notes": ""} for n in range(1, count + 1)]
        for start in range(0, count, 10_000):
            connection.execute(insert(Device), rows[start:start + 10_000])
        connection.execute(text("UPDATE tag_sequence SET next_number = :n"), {"n": count + 1})
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()


RAW_PAGE = """
SELECT d.id, d.asset_tag, d.kind, d.make, d.model, d.status, l.code, d.serial_number, d.imei,
       d.imei2, d.iccid, d.msisdn, d.network, d.plan_allowance_gb, d.plan_starts_on,
       d.plan_ends_on, d.purchased_on, d.purchase_cost_pence, d.condition, d.notes,
       d.labelled_at
FROM devices d JOIN locations l ON l.id = d.location_id
WHERE d.status = {p} AND d.kind = {p} ORDER BY d.id LIMIT {p} OFFSET {p}"""
RAW_COUNT = "SELECT count(*) FROM devices d WHERE d.status = {p} AND d.kind = {p}"


def test_device_list_at_100k(engine, client, database_url):
    seed(engine, DEVICES)
    staff = add_user(engine, "bench@example.org", "staff")
    total = client.get("/api/v1/devices?status=available&kind=laptop&limit=1",
                       headers=staff).json()["total"]
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    raw_connection = engine.raw_connection()
    backend = engine.dialect.name

    def raw(offset: int):
        def query():
            cursor = raw_connection.cursor()
            cursor.execute(RAW_COUNT.format(p=mark), ("available", "laptop"))
            cursor.fetchone()
            cursor.execute(RAW_PAGE.format(p=mark), ("available", "laptop", 50, offset))
            rows = cursor.fetchall()
            cursor.close()
            raw_connection.commit()
            assert rows
        return query

    def api(offset: int):
        def request():
            response = client.get(f"/api/v1/devices?status=available&kind=laptop&limit=50"
                                  f"&offset={offset}", headers=staff)
            assert response.status_code == 200 and len(response.json()["items"]) == 50
        return request

    results = []
    for name, offset in (("first page", 0), ("deep page", (total // 50 - 1) * 50)):
        floor = timed(raw(offset), 30)
        through_app = timed(api(offset), 30)
        ratio = through_app / floor
        results.append((name, through_app, ratio))
        print(f"\n[{backend}] device list, {name} (offset {offset} of {total} matching, "
              f"{DEVICES} devices): {through_app * 1000:.1f} ms per request; raw SQL floor "
              f"{floor * 1000:.1f} ms; ratio {ratio:.2f}x (goal <= 3x and <= 50 ms)")
    raw_connection.close()
    for name, seconds, ratio in results:
        assert seconds < 0.050, f"{name}: {seconds * 1000:.1f} ms is over 50 ms"
        assert ratio <= 3.0, f"{name}: {ratio:.2f}x is over 3x the raw SQL floor"


def csv_rows(count: int) -> str:
    lines = ["kind,make,model,location,serial_number"]
    lines += [f"laptop,Dell,Latitude {n % 9},LDN,IMP{n:06d}" for n in range(count)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("rows", [10_000])
def test_csv_import_of_10k(engine, rows):
    seed(engine, 0)
    text_file = csv_rows(rows)
    start = time.perf_counter()
    with session_for(engine, actor="bench") as session:
        tags = import_devices(session, text_file)
    imported = time.perf_counter() - start
    assert len(tags) == rows

    # The floor: the same rows, already parsed, written by a bare DBAPI executemany.
    with engine.connect() as connection:
        stored = [dict(row._mapping) for row in connection.execute(
            select(Device.__table__).order_by(Device.id))]
    columns = [name for name in stored[0] if name != "id"]
    values = [tuple(f"F{row[name]}" if name in ("asset_tag", "serial_number") else row[name]
                    for name in columns) for row in stored]
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    connection = engine.raw_connection()
    start = time.perf_counter()
    cursor = connection.cursor()
    if engine.dialect.name == "sqlite":
        cursor.execute("BEGIN")  # one transaction, as the import has, not one per row
    cursor.executemany(f"INSERT INTO devices ({', '.join(columns)}) VALUES "
                       f"({', '.join([mark] * len(columns))})", values)
    connection.commit()
    floor = time.perf_counter() - start
    connection.close()
    ratio = imported / floor
    print(f"\n[{engine.dialect.name}] CSV import of {rows} devices: {imported:.2f} s "
          f"({rows / imported:.0f} rows/s, validated, checked for duplicates and audited); "
          f"bare executemany floor {floor:.2f} s; ratio {ratio:.2f}x (goal <= 3x)")
    assert ratio <= 3.0
