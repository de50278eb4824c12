"""Safeguarding and integrity: licence conditions lifted only by a manager with a reason,
devices on loan moved only through their loan, `lending check`, audit from every way in
(command line included, reads included), and reads that never wait behind a writer."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, text

from lending.app import create_app
from lending.audit.models import AuditEntry
from lending.db import make_engine, session_for
from lending.pages.rendering import CSRF_COOKIE
from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient

LENDING = str(Path(sys.executable).with_name("lending"))


def _audit(engine, **where) -> list[AuditEntry]:
    with session_for(engine, read_only=True) as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        return list(session.scalars(query))


# --- licence conditions and closed records -----------------------------------------------

def test_only_a_manager_with_a_reason_clears_a_licence_condition(client, staff, manager,
                                                                 office, engine):
    rid = make_recipient(client, staff)
    url = f"{API}/recipients/{rid}"
    # Setting a restriction is anyone's to do.
    assert client.patch(url, json={"device_restriction": True}, headers=staff).status_code == 200

    refused = client.patch(url, json={"device_restriction": False, "reason": "long enough"},
                           headers=staff)
    assert refused.status_code == 403, refused.text
    assert refused.json()["errors"][0]["field"] == "reason"
    unexplained = client.patch(url, json={"device_restriction": False}, headers=manager)
    assert unexplained.status_code == 422 and unexplained.json()["errors"][0]["field"] == \
        "reason"
    assert client.get(url, headers=staff).json()["device_restriction"] is True
    tag = make_device(client, staff)
    assert issue(client, staff, tag, rid).status_code == 422  # still stopped

    cleared = client.patch(url, json={"device_restriction": False,
                                      "reason": "licence varied by the court on 1 May"},
                           headers=manager)
    assert cleared.status_code == 200 and cleared.json()["device_restriction"] is False
    # The reason is about a person, so the log seals it: read it as the audit API opens it.
    entries = client.get(f"{API}/audit", params={"entity": "recipient", "entity_id": rid},
                         headers=manager).json()["items"]
    entry = [e for e in entries if "device_restriction" in e["changes"]][0]
    assert entry["actor"] == "manager@example.org"
    assert entry["changes"]["device_restriction"] == [True, False]
    assert entry["changes"]["reason"] == "licence varied by the court on 1 May"


def test_reopening_a_closed_record_needs_a_manager_and_a_reason(client, staff, manager, office):
    rid = make_recipient(client, staff)
    url = f"{API}/recipients/{rid}"
    assert client.patch(url, json={"status": "closed"}, headers=staff).status_code == 200
    assert client.patch(url, json={"status": "active", "reason": "came back to us"},
                        headers=staff).status_code == 403
    assert client.patch(url, json={"status": "active"}, headers=manager).status_code == 422
    reopened = client.patch(url, json={"status": "active", "reason": "came back to us"},
                            headers=manager)
    assert reopened.status_code == 200 and reopened.json()["status"] == "active"


# --- devices on loan ---------------------------------------------------------------------

@pytest.mark.parametrize("target", ["awaiting_wipe", "in_repair", "lost", "retired"])
def test_a_device_on_loan_moves_only_through_its_loan(client, staff, office, target):
    rid = make_recipient(client, staff)
    tag = make_device(client, staff)
    loan = issue(client, staff, tag, rid).json()
    moved = client.post(f"{API}/devices/{tag}/status", json={"status": target}, headers=staff)
    assert moved.status_code == 409, moved.text
    assert f"loan {loan['id']}" in moved.json()["detail"]
    assert client.get(f"{API}/loans/{loan['id']}", headers=staff).json()["status"] == "active"
    assert client.get(f"{API}/devices/{tag}", headers=staff).json()["status"] == "on_loan"


def test_a_lost_device_found_by_hand_is_recorded_on_its_loan(client, staff, office):
    rid = make_recipient(client, staff)
    tag = make_device(client, staff)
    loan = issue(client, staff, tag, rid).json()
    assert client.post(f"{API}/loans/{loan['id']}/lost", json={},
                       headers=staff).status_code == 200
    found = client.post(f"{API}/devices/{tag}/status",
                        json={"status": "awaiting_wipe", "notes": "handed in"}, headers=staff)
    assert found.status_code == 200 and found.json()["status"] == "awaiting_wipe"
    after = client.get(f"{API}/loans/{loan['id']}", headers=staff).json()
    assert after["status"] == "lost" and after["found_at"] is not None


@pytest.fixture
def run(database_url, tmp_path):
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off"}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([LENDING, *args], capture_output=True, text=True, env=env,
                              input=stdin, cwd=tmp_path, timeout=120)

    return run


def test_lending_check_names_every_device_that_disagrees_with_its_loans(
        client, staff, office, engine, run):
    rid = make_recipient(client, staff)
    lent, stray = make_device(client, staff), make_device(client, staff)
    issue(client, staff, lent, rid)
    clean = run("check")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    with engine.begin() as connection:  # what a hand edit of the database could do
        connection.execute(text("UPDATE devices SET status = 'in_repair' WHERE asset_tag = :t"),
                           {"t": lent})
        connection.execute(text("UPDATE devices SET status = 'on_loan' WHERE asset_tag = :t"),
                           {"t": stray})
    found = run("check")
    assert found.returncode == 1
    assert f"{lent}: in_repair, but loan" in found.stdout
    assert f"{stray}: on loan, but no loan of it is active" in found.stdout
    assert "2 device(s)" in found.stderr and "Traceback" not in found.stderr


# --- audit from every way in -------------------------------------------------------------

def test_every_command_that_changes_data_is_audited(run, engine, tmp_path):
    added = run("user", "add", "desk@example.org", "--role", "staff", "--password-stdin",
                stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    assert [e.entity for e in _audit(engine, actor="cli")] == ["user"]

    assert run("token", "create", "desk@example.org").returncode == 0
    assert [e.entity for e in _audit(engine, actor="cli")][-1] == "token"

    before = len(_audit(engine))
    csv = tmp_path / "devices.csv"
    csv.write_text("kind,make,model,location\nlaptop,Dell,L,NOPE\n")
    assert run("import", "devices", str(csv)).returncode == 1
    assert len(_audit(engine)) == before  # nothing imported, nothing logged
    run("user", "add", "m@example.org", "--role", "manager")
    with session_for(engine, actor="test") as session:
        from inventory.schemas import LocationCreate
        from inventory.service import create_location
        create_location(session, LocationCreate(code="LDN", name="London"))
    csv.write_text("kind,make,model,location\nlaptop,Dell,L,LDN\nphone,Moto,G,LDN\n")
    imported = run("import", "devices", str(csv))
    assert imported.returncode == 0, imported.stderr
    devices = [e for e in _audit(engine, actor="cli", entity="device")]
    assert len(devices) == 2 and all(e.action == "create" for e in devices)


def test_the_demo_is_audited(run, engine):
    assert run("demo").returncode == 0
    entities = {e.entity for e in _audit(engine)}
    assert {"location", "device", "recipient", "loan", "user"} <= entities


# --- reads of personal data --------------------------------------------------------------

def test_lists_of_people_are_logged_by_id_and_carry_no_facts(client, staff, manager, office,
                                                              engine):
    first, second = make_recipient(client, staff), make_recipient(client, staff)
    listed = client.get(f"{API}/recipients", params={"q": "Person"}, headers=staff).json()
    assert listed["total"] == 2 and all("facts" not in item for item in listed["items"])
    entry = _audit(engine, action="read", entity_id="list")[-1]
    assert entry.changes == {"what": "recipients", "recipient_ids": sorted([first, second])}
    assert "Person" not in str(entry.changes)

    loan = issue(client, staff, make_device(client, staff), first).json()
    client.get(f"{API}/loans", headers=staff)
    assert _audit(engine, action="read", entity_id="list")[-1].changes == {
        "what": "loans", "recipient_ids": [first]}

    assert client.get(f"{API}/loans/{loan['id']}/agreement.pdf",
                      headers=staff).status_code == 200
    agreement = _audit(engine, action="read")[-1]
    assert (agreement.entity_id, agreement.changes["what"]) == (str(first), "agreement")

    client.post(f"{API}/waitlist", json={"recipient_id": second, "kind": "tablet"},
                headers=staff).raise_for_status()
    client.get(f"{API}/waitlist", headers=staff)
    assert _audit(engine, action="read", entity_id="list")[-1].changes == {
        "what": "waitlist", "recipient_ids": [second]}

    client.get(f"{API}/audit", params={"entity": "recipient"}, headers=manager)
    read_of_log = _audit(engine, action="read", entity_id="list")[-1]
    assert read_of_log.actor == "manager@example.org"
    assert read_of_log.changes["what"] == "audit"
    assert {first, second} <= set(read_of_log.changes["recipient_ids"])


# --- SQLite: reads never wait behind the write lock --------------------------------------

WAIT = 2.0


def test_reads_answer_while_another_connection_holds_the_write_lock(settings, staff, office):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    # A read that waited for the lock would take WAIT; one that did not takes far less,
    # even on a busy machine.
    engine = make_engine(settings.database_url, write_wait_seconds=WAIT)
    path = settings.database_url.removeprefix("sqlite:///")
    with TestClient(app=create_app(settings, engine)) as client:
        tag = make_device(client, staff)
        rid = make_recipient(client, staff)
        client.get("/devices", headers=staff)  # the page's template compiled, outside the test
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # what a long import does
        try:
            timings = {}
            for path_ in ("/health", f"{API}/devices", f"{API}/devices/{tag}",
                          f"{API}/recipients", f"{API}/recipients/{rid}", "/devices"):
                started = time.perf_counter()
                response = client.get(path_, headers=staff)
                timings[path_] = time.perf_counter() - started
                # A read that logs itself must not wait for the lock... it may be refused
                # the log entry after the wait, but it never waits before reading.
                assert response.status_code in (200, 503), (path_, response.text)
            for path_ in ("/health", f"{API}/devices", f"{API}/devices/{tag}", "/devices"):
                assert timings[path_] < WAIT / 2, timings
            print("reads under the write lock (s):",
                  {k: round(v, 4) for k, v in timings.items()})

            started = time.perf_counter()
            change = client.post(f"{API}/devices/{tag}/status", json={"status": "in_repair"},
                                 headers=staff)
            waited = time.perf_counter() - started
            assert change.status_code == 503, change.text
            assert change.headers["retry-after"]
            assert WAIT <= waited < WAIT + 3
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.get(f"{API}/devices/{tag}", headers=staff).json()["status"] == \
            "available"
    engine.dispose()


# --- no request makes a 5xx --------------------------------------------------------------

def test_odd_requests_get_a_4xx_naming_the_field(client, staff, admin, office):
    huge = str(2**63)
    for path in ("/api/v1/devices", "/api/v1/recipients", "/api/v1/loans", "/api/v1/audit",
                 "/api/v1/users"):
        headers = admin if path.endswith("users") or path.endswith("audit") else staff
        response = client.get(path, params={"offset": huge}, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == "offset"
    for method, path in (("GET", f"/api/v1/users/{huge}/tokens"),
                         ("PATCH", f"/api/v1/users/{2**40}"),
                         ("POST", f"/api/v1/users/tokens/{2**40}/revoke")):
        response = client.request(method, path, json={}, headers=admin)
        assert response.status_code in (404, 422), (path, response.text)

    for path in ("/api/v1/devices", "/api/v1/recipients/1", "/api/v1/loans"):
        assert client.options(path).status_code < 500

    assert client.get("/recipients", params={"page": huge}, headers=staff).status_code == 200

    nul = client.post("/api/v1/recipients", json={"name": "A\x00B", "location": office},
                      headers=staff)
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "name"
    assert client.get("/api/v1/devices", params={"q": "a\x00"}, headers=staff).status_code \
        == 422
    assert client.get("/api/v1/recipients", headers=staff).json()["total"] == 0

    wide = "kind,make,model,location\nlaptop," + "x" * 140_000 + f",M,{office}\n"
    imported = client.post("/api/v1/devices/import", content=wide,
                           headers={**staff, "content-type": "text/csv"})
    assert imported.status_code == 422 and imported.json()["errors"][0]["field"] == "file"
    assert client.get("/api/v1/devices", headers=staff).json()["total"] == 0


def test_the_issue_form_with_a_recipient_id_that_is_not_a_number(client, staff, office,
                                                                  engine):
    from tests.conftest import add_user
    add_user(engine, "desk@example.org", "staff")
    client.get("/login")
    csrf = {"x-csrftoken": client.cookies.get(CSRF_COOKIE)}
    signed_in = client.post("/login", data={"email": "desk@example.org",
                                            "password": "correct horse battery"},
                            headers=csrf, follow_redirects=False)
    assert signed_in.status_code in (302, 303), signed_in.text
    tag = make_device(client, staff)
    for odd in ("abc", "", "-1", str(2**64)):
        response = client.post(f"/d/{tag}/issue", data={"recipient_id": odd}, headers=csrf,
                               follow_redirects=False)
        assert response.status_code < 500, (odd, response.text)
