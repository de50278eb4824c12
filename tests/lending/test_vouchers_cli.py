"""`lending import vouchers`: all or nothing, every bad row named, never a code printed."""

import os
import subprocess
import sys
from pathlib import Path

from inventory.schemas import LocationCreate
from inventory.service import create_location
from lending.db import session_for
from tests.lending.test_vouchers import FUTURE, csv_of

LENDING = str(Path(sys.executable).with_name("lending"))


def test_import_vouchers_from_the_command_line(database_url, engine, tmp_path):
    with session_for(engine, actor="test") as session:
        create_location(session, LocationCreate(code="CDF", name="Cardiff"))
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
           "LENDING_SECRET_KEY": "a-test-secret-of-enough-length-0123456789"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([LENDING, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    bad = tmp_path / "bad.csv"
    bad.write_text(csv_of([("CDF", "EE", "CLICODE01", 20, FUTURE),
                           ("CDF", "EE", "CLICODE01", "x", FUTURE)]))
    rejected = run("import", "vouchers", str(bad))
    assert rejected.returncode == 1
    assert "line 3, code" in rejected.stderr and "line 3, data_gb" in rejected.stderr
    assert "nothing was imported" in rejected.stderr
    assert "CLICODE01" not in rejected.stderr + rejected.stdout

    good = tmp_path / "good.csv"
    good.write_text(csv_of([("CDF", "EE", f"CLICODE{n:02d}", 20, FUTURE) for n in range(5)]))
    imported = run("import", "vouchers", str(good))
    assert imported.returncode == 0, imported.stderr
    assert "imported 5 vouchers" in imported.stdout
    assert "CLICODE" not in imported.stderr + imported.stdout
    again = run("import", "vouchers", str(good))
    assert again.returncode == 1 and "already held" in again.stderr
