"""The audit log: every change, by whom, before and after; append-only; searchable."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError


def test_changes_are_logged_and_can_be_filtered(client, staff, manager, office):
    device = client.post("/api/v1/devices", json={
        "kind": "laptop", "make": "Dell", "model": "L", "location": office}, headers=staff)
    tag = device.json()["asset_tag"]
    client.post(f"/api/v1/devices/{tag}/status", json={"status": "in_repair"}, headers=staff)

    by_staff = client.get("/api/v1/audit?actor=staff@example.org", headers=manager).json()
    assert [e["action"] for e in by_staff["items"]] == ["status", "create"]
    status = by_staff["items"][0]
    assert status["entity"] == "device"
    assert status["changes"] == {"status": ["available", "in_repair"]}
    created = by_staff["items"][1]["changes"]["after"]
    assert created["asset_tag"] == tag and created["make"] == "Dell"

    locations = client.get("/api/v1/audit?entity=location", headers=manager).json()
    assert locations["total"] == 1 and locations["items"][0]["actor"] == "manager@example.org"

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/api/v1/audit", params={"since": future},
                      headers=manager).json()["total"] == 0
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert client.get("/api/v1/audit", params={"since": past, "entity": "device"},
                      headers=manager).json()["total"] == 2


def test_passwords_never_enter_the_log(client, admin, manager):
    client.post("/api/v1/users", json={"email": "p@example.org", "password": "secret words 1"},
                headers=admin)
    entry = client.get("/api/v1/audit?entity=user", headers=manager).json()["items"][0]
    assert entry["changes"]["after"]["password_hash"] == "(changed)"


def test_the_log_is_append_only(client, staff, office, engine):
    for statement in ("UPDATE audit_entries SET actor = 'someone else'",
                      "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
