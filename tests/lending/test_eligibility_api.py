"""Eligibility in the app: the policy loaded at start-up, decisions kept, manager overrides."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eligibility import PolicyError
from lending.app import create_app
from lending.settings import Settings
from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient

NO_NEED = {"has_suitable_device": True, "referred_by_practitioner": False}


def _bad_policy(tmp_path: Path) -> Path:
    text = (Path(__file__).parents[2] / "eligibility" / "default_policy.toml").read_text()
    path = tmp_path / "policy.toml"
    path.write_text(text.replace("laptop = 28", "laptop = \"four weeks\"", 1))
    return path


def test_a_bad_policy_stops_start_up_naming_line_and_key(tmp_path, settings):
    bad = _bad_policy(tmp_path)
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1)
                if "four weeks" in text)
    with pytest.raises(PolicyError) as raised:
        create_app(settings.model_copy(update={"policy_file": str(bad)}))
    message = str(raised.value)
    assert f"line {line}" in message and "loan_period_days.laptop" in message


def test_lending_serve_refuses_a_bad_policy_in_one_line(tmp_path, database_url):
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
           "LENDING_POLICY_FILE": str(_bad_policy(tmp_path)),
           "LENDING_SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-m", "lending.cli", "serve", "--port", "1"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "loan_period_days.laptop" in result.stderr and "Traceback" not in result.stderr


def test_the_policy_file_setting_is_used(tmp_path, settings, engine):
    text = (Path(__file__).parents[2] / "eligibility" / "default_policy.toml").read_text()
    path = tmp_path / "policy.toml"
    path.write_text(text.replace('version = "default-2025.1"', 'version = "local-7"', 1))
    app = create_app(Settings(**{**settings.model_dump(), "policy_file": str(path)}), engine)
    assert app.state.policy.version == "local-7"


def test_staff_cannot_override(client, staff, office):
    rid = make_recipient(client, staff, facts=NO_NEED)
    tag = make_device(client, staff)
    ahead = client.post(f"{API}/recipients/{rid}/overrides",
                        json={"kind": "laptop", "reason": "Needs it for a college course"},
                        headers=staff)
    assert ahead.status_code == 403
    inline = issue(client, staff, tag, rid, override_reason="Needs it for a college course")
    assert inline.status_code == 403
    assert inline.json()["errors"][0]["field"] == "override_reason"
    assert "manager" in inline.json()["detail"]


def test_a_manager_override_ahead_lets_staff_issue_once(client, staff, manager, office):
    rid = make_recipient(client, staff, facts=NO_NEED)
    laptops = [make_device(client, staff) for _ in range(2)]
    assert issue(client, staff, laptops[0], rid).status_code == 422
    short = client.post(f"{API}/recipients/{rid}/overrides",
                        json={"kind": "laptop", "reason": "ok"}, headers=manager)
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "reason"
    override = client.post(f"{API}/recipients/{rid}/overrides", json={
        "kind": "laptop", "reason": "Starts a college course on Monday"}, headers=manager)
    assert override.status_code == 201, override.text
    assert override.json()["outcome"] == "ineligible"
    assert override.json()["overridden_by"] == "manager@example.org"

    loan = issue(client, staff, laptops[0], rid)
    assert loan.status_code == 201, loan.text
    decisions = client.get(f"{API}/recipients/{rid}", headers=staff).json()["decisions"]
    issued = next(d for d in decisions if d["loan_id"] == loan.json()["id"]
                  and d["purpose"] == "issue")
    assert issued["outcome"] == "ineligible"
    assert issued["override_reason"] == "Starts a college course on Monday"
    assert issued["policy"] == "default-2025.1" and issued["facts"]["facts"] == NO_NEED

    # Used up: the next loan needs a new override.
    client.post(f"{API}/loans/{loan.json()['id']}/return", json={"condition": "A"},
                headers=staff)
    assert issue(client, staff, laptops[1], rid).status_code == 422

    audit = client.get(f"{API}/audit", params={"entity": "eligibility_decision"},
                       headers=manager).json()["items"]
    assert any(e["changes"].get("after", {}).get("override_reason") ==
               "Starts a college course on Monday" for e in audit)


def test_an_override_does_not_cover_a_reason_it_did_not_see(client, staff, manager, office):
    rid = make_recipient(client, staff, facts=NO_NEED)
    assert client.post(f"{API}/recipients/{rid}/overrides", json={
        "kind": "tablet", "reason": "Needs it for a job search course"},
        headers=manager).status_code == 201
    # A reason the manager did not see: the record was closed after the override.
    client.patch(f"{API}/recipients/{rid}", json={"status": "closed"}, headers=staff)
    refused = issue(client, staff, make_device(client, staff, "tablet"), rid)
    assert refused.status_code == 422
    assert "recipient_closed" in [r["code"] for r in refused.json()["reasons"]]


def test_needs_review_and_the_inline_manager_override(client, staff, manager, office):
    rid = make_recipient(client, staff, facts={})
    tag = make_device(client, staff, "hotspot")
    refused = issue(client, staff, tag, rid)
    assert refused.status_code == 422
    assert refused.json()["outcome"] == "needs_review"
    assert {r["code"] for r in refused.json()["reasons"]} == {"fact_missing"}
    assert "review" in refused.json()["detail"]
    allowed = issue(client, manager, tag, rid, override_reason="Answers given verbally today")
    assert allowed.status_code == 201, allowed.text


def test_already_eligible_needs_no_override(client, staff, manager, office):
    rid = make_recipient(client, staff)
    response = client.post(f"{API}/recipients/{rid}/overrides", json={
        "kind": "laptop", "reason": "Just to be sure of it"}, headers=manager)
    assert response.status_code == 409


def test_the_device_restriction_cannot_be_overridden(client, staff, manager, office):
    rid = make_recipient(client, staff, device_restriction=True)
    tag = make_device(client, staff, "phone")
    ahead = client.post(f"{API}/recipients/{rid}/overrides", json={
        "kind": "phone", "reason": "The probation officer agreed"}, headers=manager)
    assert ahead.status_code == 422
    assert ahead.json()["overridable"] is False
    inline = issue(client, manager, tag, rid, override_reason="The probation officer agreed")
    assert inline.status_code == 422
    assert [r["code"] for r in inline.json()["reasons"]] == ["device_restriction"]
    assert "cannot be overridden" in inline.json()["detail"]
    assert client.get(f"{API}/devices/{tag}", headers=staff).json()["status"] == "available"
