"""Digital inclusion: plans that last the loan, purposes and outcomes, licence conditions
that allow once declared, where devices come from, the survey and requests for more time."""

from datetime import date, timedelta

from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient


def _fields(response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


def _sim(client, headers, ends_on: date | None, kind: str = "sim") -> str:
    extra = {"plan_allowance_gb": 10.0}
    if ends_on is not None:
        extra["plan_ends_on"] = ends_on.isoformat()
    return make_device(client, headers, kind=kind, **extra)


def test_a_sim_whose_plan_ends_before_the_due_date_is_not_lent(client, staff, office):
    rid = make_recipient(client, staff)
    ends = date.today() + timedelta(days=5)
    tag = _sim(client, staff, ends)
    response = issue(client, staff, tag, rid)
    assert response.status_code == 422, response.text
    assert _fields(response) == ["due_on"]
    assert ends.isoformat() in response.text and "renew the plan" in response.text
    assert client.get(f"{API}/devices/{tag}", headers=staff).json()["status"] == "available"


def test_a_sim_whose_plan_has_ended_is_not_lent_at_all(client, staff, office):
    rid = make_recipient(client, staff)
    tag = _sim(client, staff, date.today() - timedelta(days=1))
    response = issue(client, staff, tag, rid, due_on=(date.today() + timedelta(days=1))
                     .isoformat())
    assert response.status_code == 422 and _fields(response) == ["due_on"]
    assert "ended on" in response.text


def test_a_hotspot_is_lent_until_its_plan_ends_and_not_renewed_past_it(client, staff, office):
    rid = make_recipient(client, staff)
    plan_end = date.today() + timedelta(days=40)
    tag = _sim(client, staff, plan_end, kind="hotspot")
    response = issue(client, staff, tag, rid)
    assert response.status_code == 201, response.text
    loan = response.json()
    renewed = client.post(f"{API}/loans/{loan['id']}/renew", json={}, headers=staff)
    assert renewed.status_code == 422 and _fields(renewed) == ["due_on"]
    assert plan_end.isoformat() in renewed.text
    assert client.get(f"{API}/loans/{loan['id']}", headers=staff).json()["due_on"] == \
        loan["due_on"]


def test_renewing_the_plan_records_its_history_and_lets_the_loan_go_out(client, staff,
                                                                          office):
    rid = make_recipient(client, staff)
    tag = _sim(client, staff, date.today() + timedelta(days=2))
    assert issue(client, staff, tag, rid).status_code == 422
    new_end = date.today() + timedelta(days=400)
    response = client.post(f"{API}/devices/{tag}/plan", json={
        "ends_on": new_end.isoformat(), "allowance_gb": 30, "cost": "12.50"}, headers=staff)
    assert response.status_code == 201, response.text
    assert response.json()["cost"] in ("12.50", "12.5", 12.5)
    device = client.get(f"{API}/devices/{tag}", headers=staff).json()
    assert device["plan_ends_on"] == new_end.isoformat()
    assert device["plan_allowance_gb"] == 30
    assert [change["ends_on"] for change in device["plan_changes"]] == [new_end.isoformat()]
    assert device["plan_changes"][0]["recorded_by"] == "staff@example.org"
    assert issue(client, staff, tag, rid).status_code == 201


def test_only_sims_and_hotspots_have_plans_to_renew(client, staff, office):
    tag = make_device(client, staff)
    response = client.post(f"{API}/devices/{tag}/plan", json={
        "ends_on": (date.today() + timedelta(days=30)).isoformat()}, headers=staff)
    assert response.status_code == 422 and "asset_tag" in response.text


def test_a_loan_records_its_purposes_and_what_it_helped_with(client, staff, office):
    rid = make_recipient(client, staff)
    tag = make_device(client, staff)
    response = issue(client, staff, tag, rid, purposes=["work", "learning", "work"],
                     wants_skills_help=True)
    assert response.status_code == 201, response.text
    loan = response.json()
    assert loan["purposes"] == ["work", "learning"]
    assert loan["wants_skills_help"] is True and loan["helped_with"] is None
    listed = client.get(f"{API}/loans", params={"recipient_id": rid}, headers=staff).json()
    assert listed["items"][0]["purposes"] == ["work", "learning"]
    bad = client.post(f"{API}/loans/{loan['id']}/return", json={
        "condition": "A", "helped_with": ["nothing", "work"]}, headers=staff)
    assert bad.status_code == 422 and _fields(bad) == ["helped_with"]
    returned = client.post(f"{API}/loans/{loan['id']}/return", json={
        "condition": "A", "helped_with": ["Work"]}, headers=staff)
    assert returned.status_code == 200, returned.text
    assert returned.json()["helped_with"] == ["work"]
    assert client.get(f"{API}/loans/{loan['id']}", headers=staff).json()["helped_with"] == \
        ["work"]


def test_an_unknown_purpose_is_refused_naming_it(client, staff, office):
    rid = make_recipient(client, staff)
    tag = make_device(client, staff)
    response = issue(client, staff, tag, rid, purposes=["gaming"])
    assert response.status_code == 422
    assert _fields(response)[0].startswith("purposes")
