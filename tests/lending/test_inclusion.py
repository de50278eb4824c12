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


def test_device_restriction_true_is_no_devices_both_ways(client, staff, manager, office):
    rid = make_recipient(client, staff, device_restriction=True)
    person = client.get(f"{API}/recipients/{rid}", headers=staff).json()
    assert (person["restriction"], person["device_restriction"]) == ("no_devices", True)
    other = make_recipient(client, staff, restriction="no_devices")
    assert client.get(f"{API}/recipients/{other}", headers=staff).json()[
        "device_restriction"] is True
    refused = issue(client, staff, make_device(client, staff), rid)
    assert refused.status_code == 422
    assert [r["code"] for r in refused.json()["reasons"]][0] == "device_restriction"
    # Loosening to declared_only lifts a safeguard: a manager's, with a reason.
    loosen = {"restriction": "declared_only", "reason": "Licence varied by the court"}
    assert client.patch(f"{API}/recipients/{rid}", json=loosen, headers=staff
                        ).status_code == 403
    moved = client.patch(f"{API}/recipients/{rid}", json=loosen, headers=manager)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["restriction"], moved.json()["device_restriction"]) == (
        "declared_only", False)
    assert client.patch(f"{API}/recipients/{rid}", json={"restriction": "none"},
                        headers=manager).status_code == 422  # no reason
    contradiction = client.patch(f"{API}/recipients/{rid}", json={
        "restriction": "declared_only", "device_restriction": True}, headers=staff)
    assert contradiction.status_code == 422 and _fields(contradiction) == ["restriction"]
    # Tightening is anyone's to do.
    assert client.patch(f"{API}/recipients/{rid}", json={"device_restriction": True},
                        headers=staff).json()["restriction"] == "no_devices"


def test_declared_only_needs_a_managers_declaration_for_each_loan(client, staff, manager,
                                                                  office):
    rid = make_recipient(client, staff, restriction="declared_only")
    tag = make_device(client, staff)
    check = client.get(f"{API}/recipients/{rid}/eligibility", params={"kind": "laptop"},
                       headers=staff).json()
    assert check["outcome"] == "ineligible" and not check["overridable"]
    assert check["reasons"][0]["code"] == "declaration_missing"
    refused = issue(client, staff, tag, rid)
    assert refused.status_code == 422
    declaration = {"declared_to": "Probation practitioner A. Jones",
                   "declared_on": date.today().isoformat()}
    assert client.post(f"{API}/recipients/{rid}/declarations", json=declaration,
                       headers=staff).status_code == 403
    recorded = client.post(f"{API}/recipients/{rid}/declarations", json=declaration,
                           headers=manager)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["recorded_by"] == "manager@example.org"
    check = client.get(f"{API}/recipients/{rid}/eligibility", params={"kind": "laptop"},
                       headers=staff).json()
    assert check["outcome"] == "eligible"
    assert "declaration_recorded" in [r["code"] for r in check["reasons"]]
    loan = issue(client, staff, tag, rid)
    assert loan.status_code == 201, loan.text
    assert loan.json()["declaration_id"] == recorded.json()["id"]
    person = client.get(f"{API}/recipients/{rid}", headers=staff).json()
    assert [d["loan_id"] for d in person["declarations"]] == [loan.json()["id"]]
    text = _pdf_text(client.get(f"{API}/loans/{loan.json()['id']}/agreement.pdf",
                                headers=staff).content)
    assert "A. Jones" in text and "manager@example.org" in text
    # One declaration, one loan: the next needs another.
    client.post(f"{API}/loans/{loan.json()['id']}/return", json={"condition": "A"},
                headers=staff)
    again = issue(client, staff, make_device(client, staff), rid)
    assert again.status_code == 422
    assert again.json()["reasons"][0]["code"] == "declaration_missing"


def test_a_declaration_is_only_for_declared_only(client, manager, office):
    rid = make_recipient(client, manager)
    response = client.post(f"{API}/recipients/{rid}/declarations", json={
        "declared_to": "Someone", "declared_on": date.today().isoformat()}, headers=manager)
    assert response.status_code == 422 and _fields(response) == ["restriction"]


def _pdf_text(pdf: bytes) -> str:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def _lend(client, staff, **recipient):
    rid = make_recipient(client, staff, **recipient)
    response = issue(client, staff, make_device(client, staff), rid)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_the_agreement_prints_with_a_starter_sheet_that_says_nothing_of_probation(
        client, staff, office):
    loan_id = _lend(client, staff)
    text = _pdf_text(client.get(f"{API}/loans/{loan_id}/agreement.pdf", headers=staff).content)
    assert "device loan agreement" in text
    for heading in ("Getting started with your device", "Switching on", "Staying safe online",
                    "Free help and learning", "When something goes wrong", "Learn My Way"):
        assert heading in text
    starter = text[text.index("Getting started"):]
    assert "probation" not in starter.lower()


def test_the_starter_sheets_resources_come_from_the_configured_file(
        client, staff, office, app, tmp_path):
    resources = tmp_path / "resources.toml"
    resources.write_text('[contact]\nname = "Riverside Hub"\nphone = "01632 960000"\n\n'
                         '[[learning]]\nname = "Town College"\nweb = "college.example"\n',
                         encoding="utf-8")
    app.state.settings = app.state.settings.model_copy(
        update={"starter_sheet_file": str(resources)})
    loan_id = _lend(client, staff)
    text = _pdf_text(client.get(f"{API}/loans/{loan_id}/agreement.pdf", headers=staff).content)
    assert "Riverside Hub" in text and "01632 960000" in text and "Town College" in text
    assert "Learn My Way" not in text


def test_a_welsh_speaker_gets_the_whole_agreement_and_sheet_in_welsh(client, staff, office):
    loan_id = _lend(client, staff, language="cy")
    text = _pdf_text(client.get(f"{API}/loans/{loan_id}/agreement.pdf", headers=staff).content)
    for welsh in ("cytundeb benthyg dyfais", "Amodau'r benthyciad", "Llofnod y benthyciwr",
                  "Dechrau arni gyda'ch dyfais", "Cadw'n ddiogel ar-lein", "I'w dychwelyd",
                  "(gliniadur)"):
        assert welsh in text
    for english in ("loan agreement", "Conditions of the loan", "Getting started",
                    "Staying safe", "Due back", "Borrower"):
        assert english not in text


def test_easy_read_on_request_large_type_one_idea_a_line(client, staff, office):
    loan_id = _lend(client, staff, easy_read=True)
    pdf = client.get(f"{API}/loans/{loan_id}/agreement.pdf", headers=staff).content
    text = _pdf_text(pdf)
    assert "Your loan from" in text and "Keep it safe." in text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert "Do not sell it." in lines and "Lost it? Tell us soon." in lines
    standard_pdf = client.get(f"{API}/loans/{loan_id}/agreement.pdf",
                              params={"easy_read": "false"}, headers=staff).content
    assert _body_font_size(pdf) >= 16 > _body_font_size(standard_pdf)
    standard = _pdf_text(standard_pdf)
    assert "Conditions of the loan" in standard and "Keep it safe." not in standard
    welsh_easy = _pdf_text(client.get(f"{API}/loans/{loan_id}/agreement.pdf",
                                      params={"language": "cy"}, headers=staff).content)
    assert "Cadwch hi'n ddiogel." in welsh_easy


def _body_font_size(pdf: bytes) -> float:
    """The most common font size on the first page."""
    from collections import Counter

    import pypdfium2
    import pypdfium2.raw as pdfium_c

    textpage = pypdfium2.PdfDocument(pdf)[0].get_textpage()
    sizes = Counter(round(pdfium_c.FPDFText_GetFontSize(textpage, index))
                    for index in range(textpage.count_chars()))
    return sizes.most_common(1)[0][0]


def test_a_survey_answer_is_stored_and_one_clarification_only_is_due(engine, client, staff,
                                                                     office):
    from lending.db import session_for
    from lending.loans.service import get_loan, record_survey_answer

    loan_id = _lend(client, staff)
    client.post(f"{API}/loans/{loan_id}/return", json={"condition": "A"}, headers=staff)
    with session_for(engine, actor="test") as session:
        assert record_survey_answer(session, loan_id, "great thanks") is True
        assert record_survey_answer(session, loan_id, "9") is False  # never twice
        assert record_survey_answer(session, loan_id, " 4! ") is False
        assert record_survey_answer(session, loan_id, "5") is False  # the first answer stays
        assert get_loan(session, loan_id).survey_answer == 4
    assert client.get(f"{API}/loans/{loan_id}", headers=staff).json()["survey_answer"] == 4


def test_more_time_asked_for_by_text_is_shown_and_renewed_in_one_step(engine, client, staff,
                                                                      office):
    from lending.db import session_for
    from lending.loans.service import renew_on_request, request_more_time
    from tests.lending.test_loans_helpers import LONDON, POLICY

    loan_id = _lend(client, staff)
    before = client.get(f"{API}/loans/{loan_id}", headers=staff).json()
    with session_for(engine, actor="test") as session:
        request_more_time(session, loan_id)
    asked = client.get(f"{API}/loans/{loan_id}", headers=staff).json()
    assert asked["more_time_requested_at"] is not None
    assert "Asked for by text" in client.get(f"/loans/{loan_id}", headers=staff).text
    with session_for(engine, actor="test") as session:
        renewed = renew_on_request(session, loan_id, POLICY, LONDON)
        assert renewed.due_on > before["due_on"] if isinstance(before["due_on"], date) else \
            renewed.due_on > date.fromisoformat(before["due_on"])
    after = client.get(f"{API}/loans/{loan_id}", headers=staff).json()
    assert after["renewals"] == 1 and after["more_time_requested_at"] is None


def test_the_report_counts_sources_data_spend_purposes_outcomes_and_survey(
        engine, client, staff, manager, office):
    from lending.db import session_for
    from lending.loans.service import record_survey_answer

    donated = make_device(client, staff, source="donated", source_name="Acme Ltd")
    assert client.get(f"{API}/devices/{donated}", headers=staff).json()["source"] == "donated"
    make_device(client, staff)
    sim = _sim(client, staff, date.today() + timedelta(days=90))
    client.post(f"{API}/devices/{sim}/plan", json={
        "ends_on": (date.today() + timedelta(days=200)).isoformat(), "cost": "7.25"},
        headers=staff)
    rid = make_recipient(client, staff)
    loan = issue(client, staff, donated, rid, purposes=["work", "learning"]).json()
    client.post(f"{API}/loans/{loan['id']}/return", json={
        "condition": "A", "helped_with": ["work"]}, headers=staff)
    with session_for(engine, actor="test") as session:
        record_survey_answer(session, loan["id"], "4")
    body = client.get(f"{API}/reports/stock", params={"location": "LDN"},
                      headers=manager).json()
    figures = {f["key"]: f["value"] for s in body["sections"] for f in s["figures"]}
    tables = {t["key"]: t["rows"] for s in body["sections"] for t in s["tables"]}
    assert figures["data_spend"] == 725
    assert ["donated", "Acme Ltd", 1, 0, 1] in tables["stock_by_source"]
    assert ["purchased", "-", 2, 0, 0] in tables["stock_by_source"]
    assert dict(map(tuple, tables["loans_by_purpose"]))["work"] == 1
    outcomes = {row[0]: row[1:] for row in tables["outcomes_by_purpose"]}
    assert outcomes["work"] == [1, 1] and outcomes["learning"] == [1, 0]
    assert dict(map(tuple, tables["survey_distribution"]))[4] == 1
    assert figures["survey_answers"] == 1 and figures["survey_mean"] == 4


def test_the_default_policy_asks_about_help_and_the_desk_records_it(client, staff, office):
    from tests.lending.test_loans_helpers import POLICY

    assert POLICY.skills_question == "Would they like help to use the device?"
    rid = make_recipient(client, staff)
    tag = make_device(client, staff)
    page = client.get(f"/d/{tag}/issue", params={"recipient_id": rid}, headers=staff)
    assert POLICY.skills_question in page.text and "What is it for?" in page.text


def test_a_refused_renewal_on_request_leaves_the_request_standing(engine, client, staff,
                                                                   office):
    import pytest

    from lending.db import session_for
    from lending.loans.service import get_loan, renew_on_request, request_more_time
    from tests.lending.test_loans_helpers import LONDON, POLICY

    rid = make_recipient(client, staff)
    tag = _sim(client, staff, date.today() + timedelta(days=40), kind="hotspot")
    loan_id = issue(client, staff, tag, rid).json()["id"]
    with session_for(engine, actor="test") as session:
        request_more_time(session, loan_id)
        with pytest.raises(Exception, match="data plan"):
            renew_on_request(session, loan_id, POLICY, LONDON)
        assert get_loan(session, loan_id).more_time_requested_at is not None


def test_the_desk_lists_requests_for_more_time_and_renews_in_one_click(engine, client, staff,
                                                                       office):
    from lending.db import session_for
    from lending.loans.service import request_more_time

    loan_id = _lend(client, staff)
    with session_for(engine, actor="test") as session:
        request_more_time(session, loan_id)
    assert "/loans?status=more_time" in client.get("/", headers=staff).text
    listed = client.get("/loans", params={"status": "more_time"}, headers=staff).text
    assert f"/loans/{loan_id}" in listed
    page = client.get(f"/loans/{loan_id}", headers=staff)
    assert "Renew as they asked" in page.text
    api = client.post(f"{API}/loans/{loan_id}/renew", json={}, headers=staff).json()
    assert api["renewals"] == 1 and api["more_time_requested_at"] is None


def test_the_device_pages_show_source_and_plan_history(client, staff, office):
    assert "Where it came from" in client.get("/devices/new", headers=staff).text
    tag = _sim(client, staff, date.today() + timedelta(days=10))
    client.post(f"{API}/devices/{tag}/plan", json={
        "ends_on": (date.today() + timedelta(days=100)).isoformat(), "allowance_gb": 20,
        "cost": "9.99", "notes": "annual top-up"}, headers=staff)
    page = client.get(f"/d/{tag}", headers=staff).text
    assert "Data plan" in page and "£9.99" in page and "annual top-up" in page
    donated = make_device(client, staff, source="partner", source_name="Town Council")
    assert "From a partner" in client.get(f"/d/{donated}", headers=staff).text
