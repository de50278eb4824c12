"""Manager reports: every figure known in advance, the same in JSON, CSV and PDF."""

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pypdfium2
import pytest

from inventory.models import Device, Location
from lending.db import session_for
from lending.decisions.models import EligibilityDecision
from lending.loans.models import Loan
from lending.recipients.models import Recipient
from lending.reports import service
from lending.stocktakes.models import Stocktake
from lending.waitlist.models import WaitlistRequest

API = "/api/v1/reports"
LENDING = str(Path(sys.executable).with_name("lending"))


class Data:
    """A small world whose every figure is worked out by hand below."""

    def __init__(self, session, settings) -> None:
        self.session, self.zone = session, settings.zone
        self.today = settings.today()
        self.tags = 0
        self.last_count: int | None = None  # London's last closed stocktake

    def at(self, days_ago: int) -> datetime:
        """Noon (local) on a day relative to today, in UTC."""
        return datetime.combine(self.today - timedelta(days=days_ago), time(12),
                                self.zone).astimezone(UTC)

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def add(self, row):
        self.session.add(row)
        self.session.flush()
        return row

    def device(self, location, kind, status, cost=None, plan_ends_in=None) -> Device:
        self.tags += 1
        return self.add(Device(
            asset_tag=f"{self.tags:05d}-T", kind=kind, make="Make", model="Model",
            location_id=location.id, status=status, purchase_cost_pence=cost,
            plan_ends_on=None if plan_ends_in is None else self.day(-plan_ends_in)))

    def recipient(self, location) -> Recipient:
        return self.add(Recipient(name="Someone", location_id=location.id,
                                  created_at=self.at(200)))

    def loan(self, device, recipient, issued, due, status="active", returned=None,
             lost=None, renewals=0) -> Loan:
        return self.add(Loan(
            device_id=device.id, recipient_id=recipient.id, status=status,
            issued_at=self.at(issued), issued_by="test", due_on=self.day(due),
            agreement_accepted_at=self.at(issued), renewals=renewals,
            returned_at=None if returned is None else self.at(returned),
            lost_at=None if lost is None else self.at(lost)))

    def request(self, recipient, location, kind, requested, status="waiting", loan=None):
        return self.add(WaitlistRequest(
            recipient_id=recipient.id, location_id=location.id, kind=kind, status=status,
            requested_at=self.at(requested), requested_by="test",
            loan_id=loan.id if loan else None))

    def decision(self, recipient, outcome, codes, days_ago, purpose="issue"):
        return self.add(EligibilityDecision(
            recipient_id=recipient.id, kind="laptop", outcome=outcome,
            reasons=[{"code": code, "message": code} for code in codes],
            policy_version="test", decided_at=self.at(days_ago), decided_by="test",
            purpose=purpose))

    def stocktake(self, location, started, closed=None, result=(0, 0, 0, 0, 0)) -> Stocktake:
        """A count of an office, closed `closed` days ago with its result (expected, found,
        missing, unexpected, on loan), or left open."""
        expected, found, missing, unexpected, on_loan = result
        return self.add(Stocktake(
            location_id=location.id, status="open" if closed is None else "closed",
            started_at=self.at(started), started_by="counter@example.org",
            closed_at=None if closed is None else self.at(closed),
            closed_by=None if closed is None else "closer@example.org",
            **({} if closed is None else {"expected": expected, "found": found,
                                          "missing": missing, "unexpected": unexpected,
                                          "on_loan": on_loan})))


@pytest.fixture
def world(engine, settings):
    return build_world(engine, settings)


def build_world(engine, settings) -> Data:
    with session_for(engine, actor="test") as session:
        data = Data(session, settings)
        ldn = data.add(Location(code="LDN", name="London"))
        man = data.add(Location(code="MAN", name="Manchester"))
        laptop1 = data.device(ldn, "laptop", "available", 30000)
        laptop2 = data.device(ldn, "laptop", "available", 30000)
        laptop3 = data.device(ldn, "laptop", "on_loan", 40000)
        laptop4 = data.device(ldn, "laptop", "awaiting_wipe")
        sim1 = data.device(ldn, "sim", "on_loan", 1000, plan_ends_in=-2)
        data.device(ldn, "sim", "available", 1000, plan_ends_in=10)
        data.device(man, "phone", "available", 20000)
        data.device(man, "phone", "in_repair", 20000)
        phone3 = data.device(man, "phone", "lost", 20000)
        phone4 = data.device(man, "phone", "on_loan", 20000)
        phone5 = data.device(man, "phone", "on_loan", 20000)
        data.device(man, "tablet", "retired", 50000)
        r1, r2, r3, r5 = (data.recipient(ldn) for _ in range(4))
        r4 = data.recipient(man)
        l1 = data.loan(laptop3, r1, issued=10, due=-3)
        data.loan(sim1, r2, issued=40, due=5, renewals=1)
        data.loan(laptop4, r3, issued=30, due=2, status="returned", returned=6)
        data.loan(phone3, r4, issued=20, due=-8, status="lost", lost=3)
        data.loan(laptop1, r1, issued=100, due=72, status="returned", returned=60)
        l6 = data.loan(laptop2, r5, issued=15, due=9, status="returned", returned=4,
                       renewals=2)
        data.loan(phone4, r3, issued=50, due=20)
        data.loan(phone5, r4, issued=80, due=40)
        data.request(r1, ldn, "laptop", 14, "fulfilled", l1)
        data.request(r5, ldn, "laptop", 25, "fulfilled", l6)
        data.request(r2, ldn, "laptop", 9)
        data.request(r3, man, "phone", 3, "offered")
        data.request(r4, man, "phone", 5)
        data.request(r5, man, "phone", 50, "cancelled")
        for days_ago in (10, 15, 20):
            data.decision(r1, "eligible", ["need_shown", "checks_passed"], days_ago)
        data.decision(r4, "needs_review", ["recent_loss", "need_shown"], 3)
        data.decision(r2, "ineligible", ["overdue_loan"], 4)
        data.decision(r3, "ineligible", ["overdue_loan", "kind_limit_reached"], 5)
        data.decision(r3, "ineligible", ["device_restriction"], 40)
        data.decision(r4, "needs_review", ["recent_loss", "need_shown"], 2, "override")
        # London counted twice (the later count shows) and counting again now; Manchester
        # never.
        data.stocktake(ldn, started=41, closed=40, result=(6, 4, 2, 0, 1))
        data.last_count = data.stocktake(ldn, started=5, closed=5, result=(4, 3, 1, 1, 2)).id
        data.stocktake(ldn, started=0)
        session.commit()
        return data


EXPECTED = {
    "devices_in_stock": 10, "available": 4, "on_loan": 4, "awaiting_wipe": 1,
    "awaiting_wipe_oldest_days": 6, "in_repair": 1, "lost": 1, "retired": 1,
    "plans_ending_30_days": 1, "on_loan_past_plan_end": 1, "low_stock_pairs": 3,
    "stock_value": 182000, "stock_without_cost": 1,
    "active_loans": 4, "due_this_week": 1, "overdue_1_7": 1, "overdue_8_28": 1,
    "overdue_29_plus": 1, "issued": 3, "returned": 2, "returned_on_time_share": 50.0,
    "loans_renewed": 2, "renewals": 3, "lost_loans": 1, "loss_rate": 33.3,
    "median_loan_days": 17.5,
    "requests_waiting": 3, "oldest_request_days": 9, "days_to_device_median": 7.0,
    "days_to_device_p90": 9.4, "people_served": 3, "first_time_recipients": 1,
    "decisions_eligible": 3, "decisions_needs_review": 1, "decisions_ineligible": 2,
    "overrides": 1,
}


def figures(body: dict) -> dict:
    return {f["key"]: f["value"] for s in body["sections"] for f in s["figures"]}


def tables(body: dict) -> dict:
    return {t["key"]: t for s in body["sections"] for t in s["tables"]}


def test_every_figure_is_the_one_worked_out_by_hand(client, manager, world):
    response = client.get(f"{API}/stock", headers=manager)
    assert response.status_code == 200, response.text
    body = response.json()
    got = figures(body)
    assert {key: got[key] for key in EXPECTED} == EXPECTED
    assert body["period"]["date_from"] == world.day(27).isoformat()
    assert body["period"]["date_to"] == world.today.isoformat()
    assert body["period"]["location"] is None
    by_key = tables(body)
    assert by_key["stock_by_location"]["rows"] == [["LDN", 3, 2, 1, 0, 0, 0, 6],
                                                   ["MAN", 1, 2, 0, 1, 1, 1, 6]]
    assert by_key["low_stock"]["rows"] == [["LDN", "laptop", 2, 3], ["LDN", "sim", 1, 3],
                                           ["MAN", "phone", 1, 3]]
    assert by_key["requests_waiting"]["rows"] == [["LDN", "laptop", 1, 9],
                                                  ["MAN", "phone", 2, 5]]
    assert by_key["refusals_by_reason"]["rows"] == [["overdue_loan", 2],
                                                    ["kind_limit_reached", 1]]
    assert by_key["overrides_by_reason"]["rows"] == [["recent_loss", 1]]
    months = by_key["loans_by_month"]["rows"]
    assert len(months) == 12 and months[-1][0] == world.today.strftime("%Y-%m")
    assert (sum(r[1] for r in months), sum(r[2] for r in months)) == (8, 3)
    waits = {}
    for days_ago, wait in ((10, 4.0), (15, 10.0)):
        waits.setdefault(world.day(days_ago).strftime("%Y-%m"), []).append(wait)
    expected_waits = {m: sum(v) / len(v) for m, v in waits.items()}
    assert {r[0]: r[1] for r in by_key["days_to_device_by_month"]["rows"]
            if r[1] is not None} == expected_waits
    assert all(f["definition"] for s in body["sections"] for f in s["figures"])
    assert "Someone" not in response.text  # counts, never names


def test_the_last_stocktake_of_each_office(client, manager, world):
    body = client.get(f"{API}/stock", headers=manager).json()
    table = tables(body)["last_stocktake"]
    assert table["columns"] == ["location", "closed_on", "stocktake", "expected", "found",
                                "missing", "unexpected", "on_loan"]
    later, number = world.day(5).isoformat(), world.last_count
    assert table["rows"] == [["LDN", later, number, 4, 3, 1, 1, 2],
                             ["MAN", "never", None, None, None, None, None, None]]
    assert table["definition"]
    # Counts only: neither who counted nor who closed is in any format.
    csv_text = client.get(f"{API}/stock.csv", headers=manager).text
    pdf = " ".join(" ".join(pdf_text(client.get(f"{API}/stock.pdf", headers=manager).content))
                   .split())
    for text in (str(body), csv_text, pdf):
        assert "closer@example.org" not in text and "counter@example.org" not in text
    assert "Last stocktake by office" in pdf
    assert f"LDN {later} {number} 4 3 1 1 2" in pdf and "MAN never" in pdf
    assert f"LDN,{later},{number},4,3,1,1,2" in csv_text and "MAN,never,,,,,," in csv_text
    narrowed = client.get(f"{API}/stock", params={"location": "man"}, headers=manager).json()
    assert tables(narrowed)["last_stocktake"]["rows"] == [
        ["MAN", "never", None, None, None, None, None, None]]
    london = client.get(f"{API}/stock", params={"location": "LDN"}, headers=manager).json()
    assert tables(london)["last_stocktake"]["rows"] == [["LDN", later, number, 4, 3, 1, 1, 2]]


def test_a_location_and_a_period_narrow_the_figures(client, manager, world):
    body = client.get(f"{API}/stock", params={"location": "man"}, headers=manager).json()
    got = figures(body)
    assert body["period"]["location"] == "MAN"
    assert (got["available"], got["on_loan"], got["active_loans"], got["overdue_8_28"],
            got["overdue_29_plus"], got["requests_waiting"], got["lost_loans"],
            got["decisions_needs_review"], got["stock_value"]) == (1, 2, 2, 1, 1, 2, 1, 1,
                                                                    80000)
    older = client.get(f"{API}/stock", headers=manager, params={
        "from": world.day(120).isoformat(), "to": world.day(50).isoformat()}).json()
    got = figures(older)
    assert (got["issued"], got["returned"], got["people_served"],
            got["first_time_recipients"], got["median_loan_days"]) == (3, 1, 3, 3, 40.0)


def test_bad_filters_are_named(client, manager, world):
    unknown = client.get(f"{API}/stock", params={"location": "XYZ"}, headers=manager)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "location"
    backwards = client.get(f"{API}/stock", headers=manager,
                           params={"from": "2026-02-01", "to": "2026-01-01"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "from"
    assert client.get(f"{API}/stock", params={"from": "soon"},
                      headers=manager).status_code in (400, 422)


def test_managers_and_admins_only(client, staff, admin, office):
    for path in ("/stock", "/stock.csv", "/stock.pdf"):
        assert client.get(API + path, headers=staff).status_code == 403
    assert client.get(f"{API}/stock", headers=admin).status_code == 200
    assert client.get(f"{API}/stock").status_code == 401


def test_the_csv_holds_the_same_figures_and_tables(client, manager, world):
    body = client.get(f"{API}/stock", headers=manager).json()
    response = client.get(f"{API}/stock.csv", headers=manager)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    start = rows.index(["section", "figure", "label", "value", "unit", "display",
                        "definition"])
    from_csv = {}
    for row in rows[start + 1:]:
        if not row:
            break
        from_csv[row[1]] = row[3]
    assert from_csv == {key: "" if value is None else str(value)
                        for key, value in figures(body).items()}
    for key, table in tables(body).items():
        at = next(i for i, row in enumerate(rows) if row[:2] == ["table", key])
        assert rows[at + 1] == table["columns"]
        body_rows = rows[at + 2:at + 2 + len(table["rows"])]
        assert body_rows == [["" if c is None else str(c) for c in r] for r in table["rows"]]


def pdf_text(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def test_the_pdf_holds_the_same_figures_on_pages_that_say_their_period(client, manager, world):
    body = client.get(f"{API}/stock", headers=manager).json()
    response = client.get(f"{API}/stock.pdf", params={"location": "LDN"}, headers=manager)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    pages = pdf_text(response.content)
    assert len(pages) >= 3
    period = f"{world.day(27):%-d %b %Y} to {world.today:%-d %b %Y}, LDN"
    for number, page in enumerate(pages, start=1):
        assert period in page and f"Page {number} of {len(pages)}" in page
    response = client.get(f"{API}/stock.pdf", headers=manager)
    text = " ".join(" ".join(pdf_text(response.content)).split())
    for section in body["sections"]:
        for item in section["figures"]:
            assert f"{item['label']} {item['display']}" in text, item["key"]
        for table in section["tables"]:
            assert table["title"] in text
            for row in table["rows"]:
                cells = [f"{c:,}" if isinstance(c, int) else str(c) for c in row
                         if c is not None]
                assert " ".join(cells) in text, (table["key"], row)
    assert "£1,820.00" in text and "Page 1 of" in text


def test_the_figures_hold_on_an_empty_database(client, manager, office):
    body = client.get(f"{API}/stock", headers=manager).json()
    got = figures(body)
    assert got["devices_in_stock"] == 0 and got["median_loan_days"] is None
    assert got["days_to_device_p90"] is None and got["returned_on_time_share"] is None
    assert client.get(f"{API}/stock.pdf", headers=manager).status_code == 200


def test_percentiles_interpolate_as_postgres_does(session):
    from sqlalchemy import literal, select, union_all
    values = union_all(*[select(literal(v).label("v")) for v in (1.0, 2.0, 4.0, 10.0)])
    assert service.percentiles(session, select(values.subquery().c.v), (0.5, 0.9, 0.0, 1.0)
                               ) == [3.0, pytest.approx(8.2), 1.0, 10.0]


def test_the_command_writes_the_pdf(world, database_url, tmp_path):
    env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off"}
    output = tmp_path / "stock.pdf"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([LENDING, "report", "stock", "--output", str(output), *args],
                              capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=120)

    done = run("--location", "LDN", "--from", world.day(60).isoformat())
    assert done.returncode == 0, done.stderr
    first = pdf_text(output.read_bytes())[0]
    assert f"{world.day(60):%-d %b %Y} to {world.today:%-d %b %Y}, LDN" in first
    bad = run("--location", "NOPE")
    assert bad.returncode == 1 and "NOPE" in bad.stderr and "Traceback" not in bad.stderr


def sign_in(client, engine, role):
    from tests.conftest import add_user
    add_user(engine, f"{role}-page@example.org", role, password="correct horse battery")
    client.get("/login")
    response = client.post("/login", data={
        "email": f"{role}-page@example.org", "password": "correct horse battery",
        "_csrf_token": client.cookies.get("lending_csrf")}, follow_redirects=False)
    assert response.status_code in (302, 303), response.text


def test_the_reports_page_for_managers(client, engine, world):
    sign_in(client, engine, "manager")
    page = client.get("/reports", params={"location": "LDN"})
    assert page.status_code == 200, page.text
    html = page.text
    assert html.count("<svg") == 4 and 'id="chart-stock-by-location-title"' in html
    assert "Stock by location, kind and status" in html and "£1,020.00" in html
    assert "/api/v1/reports/stock.pdf?from=" in html and "location=LDN" in html
    assert 'href="/reports"' in html and "Someone" not in html
    assert "Last stocktake by office" in html and world.day(5).isoformat() in html
    assert "closer@example.org" not in html
    bad = client.get("/reports", params={"date_from": "yesterday"})
    assert bad.status_code == 422 and "Start date must be a real date" in bad.text
    typed = client.get("/reports", params={"date_from-day": "31", "date_from-month": "2",
                                           "date_from-year": "2026"})
    assert typed.status_code == 422 and "Start date must be a real date" in typed.text
    assert 'href="#f-date-from-day"' in typed.text
    whole = client.get("/reports", params={"date_from-day": "2", "date_from-month": "3",
                                           "date_from-year": "2026"})
    assert whole.status_code == 200 and "stock.pdf?from=2026-03-02" in whole.text


def test_the_reports_page_is_not_for_staff(client, engine, office):
    sign_in(client, engine, "staff")
    assert client.get("/reports").status_code == 403
    assert 'href="/reports"' not in client.get("/").text
