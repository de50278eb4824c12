"""Personal data over time: the audit log seals it per recipient, retention removes it and
destroys the key, and a subject-access export gathers it."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdfium2
import pytest
from sqlalchemy import Text, cast, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import lending.models  # noqa: F401  (every table, for the search)
from lending.db import session_for
from lending.messages import service as messages
from lending.migrate import upgrade_database
from lending.privacy.service import pseudonymise_due, shift_months
from notifications.callbacks import Inbound
from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient
from tests.lending.test_messages import outbox

LENDING = str(Path(sys.executable).with_name("lending"))
NAME, MOBILE, MOBILE_E164, REFERENCE = "Zebedee Quintrell", "07400 765432", "+447400765432", \
    "CRN-778899"
FIRST_NAME = NAME.split()[0]


def copies_of(engine, needle: str) -> list[str]:
    """Every table and column, across the whole schema, that holds `needle` (each column
    read as text, whatever its type, so that no string or JSON type is missed)."""
    found = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                count = connection.scalar(select(func.count()).select_from(table).where(
                    cast(column, Text).like(f"%{needle}%")))
                if count:
                    found.append(f"{table.name}.{column.name}")
    return found


def lend_and_return(client, staff, rid: int) -> int:
    tag = make_device(client, staff)
    loan = issue(client, staff, tag, rid).json()
    returned = client.post(f"{API}/loans/{loan['id']}/return", json={
        "condition": "A", "notes": f"{NAME} said the charger is at home"}, headers=staff)
    assert returned.status_code == 200, returned.text
    return loan["id"]


def test_the_audit_log_holds_personal_values_only_sealed(client, staff, manager, office,
                                                         engine):
    rid = make_recipient(client, staff, name=NAME, mobile=MOBILE, reference=REFERENCE)
    client.patch(f"{API}/recipients/{rid}", json={"name": NAME + " Jr"}, headers=staff)
    lend_and_return(client, staff, rid)
    for needle in (NAME, MOBILE_E164, REFERENCE, "charger is at home"):
        assert [c for c in copies_of(engine, needle) if c.startswith("audit")] == [], needle
    # Readers see the values: the log opens with the recipient's key.
    entries = client.get(f"{API}/audit", params={"entity": "recipient", "entity_id": rid},
                         headers=manager).json()["items"]
    created = next(e for e in entries if e["action"] == "create")
    assert created["changes"]["after"]["name"] == NAME
    assert created["changes"]["after"]["mobile"] == MOBILE_E164
    renamed = next(e for e in entries if e["action"] == "update")
    assert renamed["changes"]["name"] == [NAME, NAME + " Jr"]
    assert "sealed" not in renamed["changes"]


def test_retention_pseudonymises_and_leaves_no_readable_copy(client, staff, manager, office,
                                                             engine, settings):
    rid = make_recipient(client, staff, name=NAME, mobile=MOBILE, reference=REFERENCE)
    loan_id = lend_and_return(client, staff, rid)
    client.get(f"{API}/recipients/{rid}", headers=staff)  # an audited read
    borrowing = make_recipient(client, staff, name="Still Borrowing")
    issue(client, staff, make_device(client, staff), borrowing)
    recent = make_recipient(client, staff, name="Only Just Met")
    # A text to them (the survey after the return, which thanks them by their first name)
    # and one from them.
    assert messages.sweep(engine, messages.Timing.of(settings)).total == 0  # with the return
    assert [m.kind for m in outbox(engine, loan_id=loan_id)] == ["loan_receipt", "survey"]
    assert messages.receive_reply(engine, Inbound(
        provider="notify", provider_id="in-privacy", from_number=MOBILE_E164,
        body=f"{NAME} here, is the charger needed?", received_at=datetime.now(UTC)))
    assert "outbox.body" in copies_of(engine, FIRST_NAME)
    assert {"outbox.to", "inbox.from_number"} <= set(copies_of(engine, MOBILE_E164))

    with session_for(engine, actor="test") as session:
        assert pseudonymise_due(session, 12) == []  # nobody is past the period yet
        later = shift_months(datetime.now(UTC), 12) + timedelta(days=2)
        assert pseudonymise_due(session, 12, later) == [rid, recent]
        assert pseudonymise_due(session, 12, later) == []  # once only

    for needle in (NAME, FIRST_NAME, MOBILE_E164, REFERENCE, "charger is at home",
                   "charger needed", "Only Just Met"):
        assert copies_of(engine, needle) == [], needle
    assert copies_of(engine, "Still Borrowing")  # an active loan keeps the record

    record = client.get(f"{API}/recipients/{rid}", headers=staff).json()
    assert (record["name"], record["mobile"], record["reference"], record["facts"]) == (
        "(erased)", None, None, {})
    assert record["location"] == office and record["status"] == "closed"
    again = client.patch(f"{API}/recipients/{rid}", json={"name": NAME}, headers=staff)
    assert again.status_code == 409 and "pseudonymised" in again.json()["detail"]
    loan = client.get(f"{API}/loans/{loan_id}", headers=staff).json()
    assert loan["kind"] == "laptop" and loan["issued_at"] and loan["returned_at"]
    entries = client.get(f"{API}/audit", params={"entity": "recipient", "entity_id": rid},
                         headers=manager).json()["items"]
    created = next(e for e in entries if e["action"] == "create")
    assert created["changes"]["after"]["name"] == "(erased)"
    assert created["changes"]["after"]["location_id"]  # the clear fields stay
    erasure = next(e for e in entries if e["action"] == "pseudonymise")
    assert "name" in erasure["changes"]["removed"]["recipient"]
    # The log is complete: the erased person's entries are all still there.
    assert {e["action"] for e in entries} >= {"create", "read", "pseudonymise"}


def test_the_audit_log_refuses_truncate_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_entries"))


def test_subject_access_export_over_http(client, staff, manager, office, engine, settings):
    rid = make_recipient(client, staff, name=NAME, mobile=MOBILE)
    loan_id = lend_and_return(client, staff, rid)
    messages.sweep(engine, messages.Timing.of(settings))
    messages.receive_reply(engine, Inbound(
        provider="notify", provider_id="in-export", from_number=MOBILE_E164,
        body="Thanks, got it", received_at=datetime.now(UTC)))
    assert client.get(f"{API}/recipients/{rid}/export", headers=staff).status_code == 403
    response = client.get(f"{API}/recipients/{rid}/export", headers=manager)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    export = response.json()
    assert export["recipient"]["name"] == NAME
    assert [loan["id"] for loan in export["loans"]] == [loan_id]
    assert export["decisions"] and export["decisions"][0]["outcome"]
    assert {(e["entity"], e["action"]) for e in export["audit_entries"]} >= {
        ("recipient", "create"), ("loan", "create")}
    loan_entry = next(e for e in export["audit_entries"]
                      if e["entity"] == "loan" and e["changes"].get("return_notes"))
    assert loan_entry["changes"]["return_notes"][1].startswith(NAME)
    # The receipt (called off by the return) and the survey.
    assert sorted(m["kind"] for m in export["messages"]) == ["loan_receipt", "survey"]
    survey = next(m for m in export["messages"] if m["kind"] == "survey")
    assert (survey["kind"], survey["to"], survey["loan_id"]) == ("survey", MOBILE_E164, loan_id)
    assert FIRST_NAME in survey["body"]
    assert [(r["from_number"], r["body"]) for r in export["replies"]] == [
        (MOBILE_E164, "Thanks, got it")]
    pdf = client.get(f"{API}/recipients/{rid}/export.pdf", headers=manager)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(pdf.content)
    words = " ".join(page.get_textpage().get_text_range() for page in document)
    assert "Text messages we sent you" in words and "Thanks, got it" in words
    exports = client.get(f"{API}/audit", params={"entity": "recipient", "entity_id": rid},
                         headers=manager).json()["items"]
    assert sum(e["action"] == "export" for e in exports) == 2
    assert client.get(f"{API}/recipients/999/export", headers=manager).status_code == 404


def test_retention_and_export_from_the_command_line(client, staff, office, database_url,
                                                    settings, tmp_path):
    rid = make_recipient(client, staff, name=NAME, mobile=MOBILE)
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
           "LENDING_SECRET_KEY": settings.secret_key}

    def run(*args):
        return subprocess.run([LENDING, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    output = tmp_path / "export.json"
    exported = run("recipient", "export", str(rid), "--output", str(output))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(output.read_text())["recipient"]["mobile"] == MOBILE_E164
    assert (tmp_path / "export.pdf").read_bytes().startswith(b"%PDF")
    assert run("recipient", "export", "999", "--output", str(output)).returncode == 1

    assert "pseudonymised 0" in run("retention", "run").stdout
    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    ran = run("retention", "run", "--now", later)
    assert ran.returncode == 0 and "pseudonymised 1" in ran.stdout, ran.stderr
    assert run("retention", "run", "--now", "yesterday").returncode == 1
    exported = run("recipient", "export", str(rid), "--output", str(output))
    record = json.loads(output.read_text())
    assert record["recipient"]["name"] == "(erased)" and record["recipient"]["erased_at"]
    assert all(NAME not in json.dumps(e) for e in record["audit_entries"])


def test_the_migration_seals_entries_written_before_it(database_url, settings, engine):
    """Entries written in clear before the migration are sealed by it."""
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE recipient_keys"))
        connection.execute(text("DROP TABLE login_failures"))
        # ... and what the migrations after it added (the report's indexes).
        for index in ("ix_loans_status_returned_at", "ix_loans_survey_answered_at",
                      "ix_devices_source_status"):
            connection.execute(text(f"DROP INDEX {index}"))
        connection.execute(text("DELETE FROM alembic_version"))
        # The revision before the sealing migration (the newest one before it in the chain).
        connection.execute(text("INSERT INTO alembic_version VALUES ('i13inclusion')"))
        connection.execute(text(
            "INSERT INTO locations (code, name, address, nation, opening_days) "
            "VALUES ('OLD', 'Old office', '', 'ENG', '12345')"))
        connection.execute(text("ALTER TABLE recipients DROP COLUMN erased_at"))
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_entries_no_truncate ON audit_entries"))
        connection.execute(text(
            "INSERT INTO recipients (id, name, mobile, language, location_id, facts, "
            "device_restriction, sms_opt_out, status, created_at) SELECT 7, :name, :mobile, "
            "'en', id, '{}', false, false, 'active', :now FROM locations WHERE code = 'OLD'"),
            {"name": NAME, "mobile": MOBILE_E164, "now": datetime.now(UTC)})
        connection.execute(text(
            "INSERT INTO audit_entries (at, actor, action, entity, entity_id, changes) "
            "VALUES (:now, 'someone', 'create', 'recipient', '7', :changes)"),
            {"now": datetime.now(UTC), "changes": json.dumps(
                {"after": {"name": NAME, "mobile": MOBILE_E164, "status": "active"}})})
    with engine.connect() as connection:
        assert NAME in str(connection.scalar(text("SELECT changes FROM audit_entries")))
    upgrade_database(database_url, secret_key=settings.secret_key)
    assert copies_of(engine, NAME) == ["recipients.name"]
    with session_for(engine) as session:
        from lending.audit.service import history_of
        [entry] = history_of(session, "recipient", 7)
    assert entry["changes"]["after"] == {"name": NAME, "mobile": MOBILE_E164,
                                         "status": "active"}


def test_the_keys_are_resealed_under_a_new_secret(client, staff, manager, office,
                                                  database_url, settings, tmp_path):
    rid = make_recipient(client, staff, name=NAME)
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
           "LENDING_SECRET_KEY": "a brand new secret"}

    def reseal(old: str):
        return subprocess.run([LENDING, "secret", "reseal", "--old-secret-stdin"],
                              input=old + "\n", capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    wrong = reseal("not the secret")
    assert wrong.returncode == 1 and "does not open" in wrong.stderr
    done = reseal(settings.secret_key)
    assert done.returncode == 0 and "resealed 1 recipient key" in done.stdout, done.stderr
    output = tmp_path / "export.json"
    exported = subprocess.run([LENDING, "recipient", "export", str(rid), "--output",
                               str(output)], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
    assert exported.returncode == 0, exported.stderr
    entries = json.loads(output.read_text())["audit_entries"]
    assert next(e for e in entries if e["action"] == "create")["changes"]["after"][
        "name"] == NAME


# More than the pages the export reads at a time (500), and far more than the 200 loans a
# recipient's page shows: the export must hold them all.
MANY_LOANS = 1050


def test_the_export_holds_every_loan_however_many(client, staff, manager, office, engine,
                                                  settings, tmp_path):
    from datetime import date

    from inventory.bulk import insert_rows
    from lending.loans.models import Loan

    rid = make_recipient(client, staff, name=NAME, mobile=MOBILE)
    lend_and_return(client, staff, rid)
    table = Loan.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    first = date(2030, 1, 1)
    with engine.begin() as connection:
        template = connection.execute(select(table).where(table.c.recipient_id == rid)
                                      ).mappings().one()
        # Set-based: one executemany of past loans of the same device, each due on a
        # different day, so that each can be found in the PDF's text.
        insert_rows(connection, table, columns, (
            [{**template, "due_on": first + timedelta(days=n)}[name] for name in columns]
            for n in range(MANY_LOANS)))
    expected = {(first + timedelta(days=n)).isoformat() for n in range(MANY_LOANS)}

    response = client.get(f"{API}/recipients/{rid}/export", headers=manager)
    assert response.status_code == 200, response.text
    export = response.json()
    assert len(export["loans"]) == MANY_LOANS + 1
    assert len({loan["id"] for loan in export["loans"]}) == MANY_LOANS + 1
    assert {loan["due_on"] for loan in export["loans"]} >= expected
    assert export["recipient"]["name"] == NAME and export["audit_entries"]

    pdf = client.get(f"{API}/recipients/{rid}/export.pdf", headers=manager)
    assert pdf.status_code == 200
    words = " ".join(page.get_textpage().get_text_range()
                     for page in pypdfium2.PdfDocument(pdf.content))
    missing = [day for day in sorted(expected)
               if date.fromisoformat(day).strftime("%d %b %Y") not in words]
    assert missing == []

    env = {**os.environ, "LENDING_DATABASE_URL": settings.database_url,
           "LENDING_SCHEDULER": "off", "LENDING_SECRET_KEY": settings.secret_key}
    output = tmp_path / "export.json"
    exported = subprocess.run([LENDING, "recipient", "export", str(rid), "--output",
                               str(output)], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
    assert exported.returncode == 0, exported.stderr
    assert len(json.loads(output.read_text())["loans"]) == MANY_LOANS + 1
