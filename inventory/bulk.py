"""Bulk writes: thousands of rows in one executemany, without per-row overhead.

Used by the CSV import and, through `lending`, by the audit log's record of bulk writes.
"""

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(connection: Connection, table: Table, columns: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> None:
    """Insert thousands of rows with one executemany: each row a plain tuple in the order of
    `columns`, each value made ready for the driver by its column's type (JSON to text, an
    aware datetime to SQLite's UTC). SQLAlchemy's own executemany prepares every row's
    parameters generically, which for a bulk write costs about as much as the inserts."""
    dialect = connection.dialect
    processors = [(position, process) for position, name in enumerate(columns)
                  if (process := table.c[name].type.dialect_impl(dialect).bind_processor(
                      dialect))]
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(quote(name) for name in columns)}) "
                 f"VALUES ({', '.join([mark] * len(columns))})")

    rows = list(rows)
    if processors and rows:
        # Column by column: a column empty in every row costs one count, and one object
        # down a whole column (the time of a bulk write) is made ready once.
        columns_of = [list(column) for column in zip(*rows, strict=True)]
        for position, process in processors:
            column = columns_of[position]
            if column.count(None) == len(column):
                continue
            if len(set(map(id, column))) == 1:
                columns_of[position] = [process(column[0])] * len(column)
            else:
                columns_of[position] = [None if value is None else process(value)
                                        for value in column]
        rows = list(zip(*columns_of, strict=True))
    connection.exec_driver_sql(statement, rows)


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cycle collector runs every few hundred allocations and walks every object
    still alive: with tens of thousands of rows held at once it walked them again and again,
    and cost more than the inserts. The rows hold no cycles (reference counting frees them),
    so the collector waits until the import is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
