"""Voucher import speed: 10,000 vouchers from CSV (parsed, checked, encrypted, fingerprinted,
checked against the codes held, inserted and audited) against the floor of a bare DBAPI
`executemany` of the same encrypted rows. Both databases; `make bench` prints the figures."""

import time
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from inventory.schemas import LocationCreate
from inventory.service import create_location
from lending.db import session_for
from lending.vouchers.models import Voucher
from lending.vouchers.service import CodeBox, import_vouchers

IMPORT_TARGET = 3.0  # the import at most three times a bare executemany of its rows
BOX = CodeBox("a benchmark secret, long enough to be a real one")
EXPIRES = (date.today() + timedelta(days=90)).isoformat()


def csv_rows(count: int, prefix: str) -> str:
    lines = ["location,network,code,data_gb,expires_on"]
    lines += [f"LDN,{('EE', 'Vodafone', 'Three')[n % 3]},{prefix}{n:08d},20,{EXPIRES}"
              for n in range(count)]
    return "\n".join(lines) + "\n"


def bare_executemany(engine, rows: list[dict[str, Any]], prefix: str) -> float:
    """The floor: the same encrypted rows, already made, written by a bare DBAPI executemany
    in one transaction (each digest prefixed, to stay unique). Seconds taken."""
    columns = [name for name in rows[0] if name != "id"]
    values = [tuple(f"{prefix}{row[name]}"[:64] if name == "code_digest" else row[name]
                    for name in columns) for row in rows]
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    connection = engine.raw_connection()
    start = time.perf_counter()
    cursor = connection.cursor()
    if engine.dialect.name == "sqlite":
        cursor.execute("BEGIN")
    cursor.executemany(f"INSERT INTO vouchers ({', '.join(columns)}) VALUES "
                       f"({', '.join([mark] * len(columns))})", values)
    connection.commit()
    seconds = time.perf_counter() - start
    connection.close()
    return seconds


@pytest.mark.parametrize("rows", [10_000])
def test_voucher_import_of_10k(engine, rows):
    with session_for(engine, actor="bench") as session:
        create_location(session, LocationCreate(code="LDN", name="London"))
        import_vouchers(session, csv_rows(10, "WARM"), BOX, date.today())
    imports, floors = [], []
    for attempt in range(5):
        start = time.perf_counter()
        with session_for(engine, actor="bench") as session:
            created = import_vouchers(session, csv_rows(rows, f"IMP{attempt}X"), BOX,
                                      date.today())
        imports.append(time.perf_counter() - start)
        assert created == rows
        with engine.connect() as connection:
            stored = [dict(row._mapping) for row in connection.execute(
                select(Voucher.__table__).order_by(Voucher.id.desc()).limit(rows))]
        assert len(stored) == rows
        floors.append(bare_executemany(engine, stored, f"F{attempt}"))
    imported, floor = min(imports), min(floors)
    ratio = imported / floor
    print(f"\n[{engine.dialect.name}] CSV import of {rows} vouchers: {imported:.2f} s "
          f"({rows / imported:.0f} rows/s, validated, encrypted, checked for codes held and "
          f"audited; runs {', '.join(f'{s:.2f}' for s in imports)}); bare executemany floor "
          f"{floor:.2f} s (runs {', '.join(f'{s:.2f}' for s in floors)}); ratio "
          f"{ratio:.2f}x (goal <= {IMPORT_TARGET:g}x)")
    assert ratio <= IMPORT_TARGET, f"{ratio:.2f}x is over {IMPORT_TARGET:g}x the bare floor"
