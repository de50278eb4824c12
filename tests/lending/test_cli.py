"""The `lending` command, run as a person runs it: a real process, real exit codes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

LENDING = str(Path(sys.executable).with_name("lending"))


@pytest.fixture
def run(database_url, tmp_path):
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off"}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([LENDING, *args], capture_output=True, text=True, env=env,
                              input=stdin, cwd=tmp_path, timeout=120)

    return run


def test_accounts_tokens_and_import_from_the_command_line(run, tmp_path):
    assert run("db", "upgrade").returncode == 0
    added = run("user", "add", "desk@example.org", "--role", "staff", "--password-stdin",
                stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    again = run("user", "add", "desk@example.org", "--role", "staff")
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr

    token = run("token", "create", "desk@example.org")
    assert token.returncode == 0
    assert token.stdout.strip().splitlines()[-1].startswith("lnd_")
    assert run("token", "create", "nobody@example.org").returncode == 1

    csv = tmp_path / "devices.csv"
    csv.write_text("kind,make,model,location\nlaptop,Dell,L,NOPE\n")
    rejected = run("import", "devices", str(csv))
    assert rejected.returncode == 1
    assert "line 2, location" in rejected.stderr and "nothing was imported" in rejected.stderr

    assert run("user", "add", "x@example.org", "--role", "emperor").returncode == 2
    assert run("frobnicate").returncode == 2


def test_the_import_command_prints_the_same_plain_words_as_the_api(run, tmp_path):
    assert run("db", "upgrade").returncode == 0
    csv = tmp_path / "devices.csv"
    csv.write_text("kind,make,model,location,purchase_cost,condition\n"
                   "toaster,Dell,L,NOPE,£12,E\n")
    rejected = run("import", "devices", str(csv))
    assert rejected.returncode == 1
    lines = rejected.stderr.splitlines()
    assert "line 2, kind: the kind must be one of laptop, phone, tablet, sim or hotspot, " \
           "not 'toaster'" in lines
    assert "line 2, purchase_cost: the purchase cost must be a number, like 129.99" in lines
    assert any(line.startswith("line 2, condition: the condition must be A, B, C or D")
               for line in lines)
    assert "line 2, location: no location has the code 'NOPE'" in lines
    assert "4 problem(s); nothing was imported" in rejected.stderr
    assert "Input should" not in rejected.stderr


def test_demo_loads_once_into_an_empty_database(run):
    first = run("demo")
    assert first.returncode == 0, first.stderr
    assert "60 devices" in first.stdout and "Demo login" in first.stdout
    second = run("demo")
    assert second.returncode == 1 and "empty database" in second.stderr
    assert run("demo", "--if-empty").returncode == 0
