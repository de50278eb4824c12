"""`lending backup` and `lending restore`: a round trip gives back every table as it was."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.exc import DBAPIError

from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient

LENDING = str(Path(sys.executable).with_name("lending"))


def every_table(engine) -> dict[str, list]:
    """Every row of every table the database has (the migration version included)."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {name: sorted(map(repr, connection.execute(select(table)).all()))
                for name, table in metadata.tables.items()}


def test_a_backup_restores_every_table(client, staff, manager, office, engine, database_url,
                                       settings, tmp_path):
    rid = make_recipient(client, staff, name="Backed Up")
    issue(client, staff, make_device(client, staff), rid)
    client.get(f"{API}/recipients/{rid}/export", headers=manager)
    before = every_table(engine)
    assert before["recipients"] and before["audit_entries"] and before["recipient_keys"]
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
           "LENDING_SECRET_KEY": settings.secret_key}

    def run(*args):
        return subprocess.run([LENDING, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    copy = tmp_path / "lending.backup"
    backed_up = run("backup", str(copy))
    assert backed_up.returncode == 0, backed_up.stderr
    # Life goes on after the backup...
    make_recipient(client, staff, name="After The Backup")
    issue(client, staff, make_device(client, staff), rid)
    assert every_table(engine) != before
    engine.dispose()
    # ... and the restore puts back exactly what the backup held.
    restored = run("restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert every_table(engine) == before
    # The restored database works: the log is still append-only, and it serves.
    assert client.get(f"{API}/recipients/{rid}", headers=staff).json()["name"] == "Backed Up"
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET actor = 'someone else'"))
    missing = run("restore", str(tmp_path / "nothing-here"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
