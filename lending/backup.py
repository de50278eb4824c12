"""A consistent copy of the whole database, and back: SQLite's online backup API, or
PostgreSQL's own pg_dump and pg_restore. The audit log, the recipient keys and the
migration version go with everything else; LENDING_SECRET_KEY does not (keep it apart)."""

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from inventory.service import Invalid
from lending.db import database_url


def _sqlite_path(url) -> str:
    if not url.database or url.database == ":memory:":
        raise Invalid("an in-memory SQLite database cannot be backed up", "database_url")
    return url.database


def _libpq_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise Invalid(f"{name} is not installed (Debian: apt-get install postgresql-client)",
                      "database_url")
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise Invalid(f"{Path(command[0]).name} failed: {first}", "file")


def _copy_sqlite(source: sqlite3.Connection, target_path: str | Path) -> None:
    """Copies the open `source` database page by page into `target_path` (SQLite's online
    backup API), then closes both."""
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def backup_database(raw_url: str, file: Path) -> None:
    """Writes a copy of the database to `file`, consistent even while the service runs."""
    url = make_url(database_url(raw_url))
    if url.get_backend_name() == "sqlite":
        _copy_sqlite(sqlite3.connect(_sqlite_path(url)), file)
        return
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={file}",
          _libpq_url(url)])


def restore_database(raw_url: str, file: Path) -> None:
    """Replaces the whole database with the copy in `file`. Stop the service first."""
    if not file.is_file():
        raise Invalid(f"{file} does not exist", "file")
    url = make_url(database_url(raw_url))
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as error:
            raise Invalid(f"{file} is not a SQLite backup ({error})", "file") from error
        _copy_sqlite(source, _sqlite_path(url))
        return
    # One transaction: a restore that fails half-way leaves the database as it was.
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", f"--dbname={_libpq_url(url)}", str(file)])
