"""Stocktakes through the API, on SQLite and PostgreSQL: start, scan, close, settle what is
missing; and several scanners on one count at once, against a real server."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from inventory.service import check_letter
from lending.audit.models import AuditEntry
from lending.db import session_for
from lending.stocktakes.models import StocktakeItem
from lending.stocktakes.service import last_stocktakes
from tests.lending.test_loans_helpers import API, device_status, issue, make_device, make_recipient
from tests.lending.test_loans_races import served


def _mistyped(tag: str) -> str:
    digits, _, letter = tag.partition("-")
    wrong = next(c for c in "ABC" if c != letter and c != check_letter(digits))
    return f"{digits}-{wrong}"


def _office(client, headers, code: str, name: str) -> None:
    response = client.post(f"{API}/locations", json={"code": code, "name": name},
                           headers=headers)
    assert response.status_code == 201, response.text


def _move(client, headers, tag: str, *statuses: str) -> None:
    for status in statuses:
        response = client.post(f"{API}/devices/{tag}/status", json={"status": status},
                               headers=headers)
        assert response.status_code == 200, response.text


def test_a_whole_count_finds_what_is_missing_and_what_does_not_belong(client, engine, staff,
                                                                     manager, office):
    _office(client, manager, "MAN", "Manchester")
    on_shelf = make_device(client, manager)
    awaiting = make_device(client, manager, kind="phone")
    repair = make_device(client, manager, kind="tablet")
    _move(client, manager, awaiting, "in_repair", "awaiting_wipe")
    _move(client, manager, repair, "in_repair")
    missing = make_device(client, manager)
    wandered = make_device(client, manager)
    retired = make_device(client, manager)
    _move(client, manager, retired, "retired")
    elsewhere = make_device(client, manager, location="MAN")
    lent_here, lent_out = make_device(client, manager), make_device(client, manager)
    for tag in (lent_here, lent_out):
        assert issue(client, staff, tag, make_recipient(client, staff)).status_code == 201

    response = client.post(f"{API}/stocktakes", json={"location": "ldn"}, headers=staff)
    assert response.status_code == 201, response.text
    stocktake = response.json()
    assert {key: stocktake[key] for key in ("location", "status")} == {
        "location": "LDN", "status": "open"}
    sid = stocktake["id"]
    # One open count per office: a second start points at the first, to be resumed.
    again = client.post(f"{API}/stocktakes", json={"location": "LDN"}, headers=manager)
    assert again.status_code == 409
    assert f"#{sid}" in again.json()["detail"]

    def scan(tag: str, headers=staff) -> httpx.Response:
        return client.post(f"{API}/stocktakes/{sid}/scans", json={"tag": tag},
                           headers=headers)

    first = scan(on_shelf)
    assert first.status_code == 200, first.text
    assert first.json() | {"device": None} == {
        "expected": True, "outcome": "expected", "already_counted": False, "tone": "green",
        "message": first.json()["message"], "asset_tag": on_shelf, "device": None,
        "counted": 1}
    repeat = scan(on_shelf, manager).json()
    assert repeat["already_counted"] and repeat["expected"] and repeat["counted"] == 1
    assert repeat["message"].startswith("Already counted")
    # A label's URL, and a tag typed without its dash in lower case, count the same.
    assert scan(f"http://testserver/d/{awaiting}").json()["expected"] is True
    assert scan(repair.replace("-", "").lower()).json()["expected"] is True

    away = scan(elsewhere).json()
    assert (away["expected"], away["outcome"], away["tone"]) == (False, "elsewhere", "amber")
    assert "belongs to MAN" in away["message"]
    lent = scan(lent_here).json()
    assert (lent["outcome"], lent["tone"]) == ("on_loan", "amber")
    assert "due back" in lent["message"]
    gone = scan(retired).json()
    assert (gone["outcome"], gone["tone"]) == ("not_in_stock", "amber")

    mistyped = scan(_mistyped(missing))
    assert mistyped.status_code == 404
    assert "check letter" in mistyped.json()["detail"]
    assert scan("99999-" + check_letter("99999")).status_code == 404
    assert client.post(f"{API}/stocktakes/999999/scans", json={"tag": on_shelf},
                       headers=staff).status_code == 404

    progress = client.get(f"{API}/stocktakes/{sid}", headers=staff).json()
    assert progress["status"] == "open" and progress["counted"] == 6
    assert progress["counts"] is None and progress["missing"] == []

    closed = client.post(f"{API}/stocktakes/{sid}/close", headers=staff)
    assert closed.status_code == 200, closed.text
    result = closed.json()
    assert result["status"] == "closed" and result["closed_by"] == "staff@example.org"
    assert result["found"] == 3
    assert sorted(d["asset_tag"] for d in result["found_items"]) == sorted(
        [on_shelf, awaiting, repair])
    assert sorted(d["asset_tag"] for d in result["missing"]) == sorted([missing, wandered])
    last = next(d for d in result["missing"] if d["asset_tag"] == missing)["last_event"]
    assert last["action"] == "create" and last["actor"] == "manager@example.org"
    unexpected = {d["asset_tag"]: d for d in result["unexpected"]}
    assert {tag: (d["reason"], d["location"]) for tag, d in unexpected.items()} == {
        elsewhere: ("elsewhere", "MAN"), lent_here: ("on_loan", "LDN"),
        retired: ("not_in_stock", "LDN")}
    assert unexpected[lent_here]["due_on"]
    assert [(d["asset_tag"], bool(d["due_on"])) for d in result["on_loan"]] == [
        (lent_out, True)]
    assert result["counts"] == {"expected": 5, "found": 3, "missing": 2, "unexpected": 3,
                                "on_loan": 1}

    assert scan(on_shelf).status_code == 409
    assert client.post(f"{API}/stocktakes/{sid}/close", headers=staff).status_code == 409

    # A manager settles each missing device in one step: lost, or moved.
    resolve = f"{API}/stocktakes/{sid}/missing"
    assert client.post(f"{resolve}/{missing}", json={"action": "lost"},
                       headers=staff).status_code == 403
    lost = client.post(f"{resolve}/{missing}", json={"action": "lost", "notes": "not seen"},
                       headers=manager)
    assert lost.status_code == 200, lost.text
    assert device_status(client, manager, missing) == "lost"
    twice = client.post(f"{resolve}/{missing}", json={"action": "lost"}, headers=manager)
    assert twice.status_code == 409 and "already marked lost" in twice.json()["detail"]
    nowhere = client.post(f"{resolve}/{wandered}", json={"action": "moved"}, headers=manager)
    assert nowhere.status_code == 422
    same = client.post(f"{resolve}/{wandered}", json={"action": "moved", "location": "LDN"},
                       headers=manager)
    assert same.status_code == 422
    moved = client.post(f"{resolve}/{wandered}", json={"action": "moved", "location": "MAN"},
                        headers=manager)
    assert moved.status_code == 200, moved.text
    settled = {d["asset_tag"]: d for d in moved.json()["missing"]}
    assert settled[wandered]["resolution"] == "moved" and settled[wandered]["moved_to"] == "MAN"
    assert settled[missing]["resolution"] == "lost"
    assert settled[missing]["resolved_by"] == "manager@example.org"
    device = client.get(f"{API}/devices/{wandered}", headers=manager).json()
    assert (device["location"], device["status"]) == ("MAN", "available")
    assert client.post(f"{resolve}/{on_shelf}", json={"action": "lost"},
                       headers=manager).status_code == 404

    # Kept and listed; a new count may start now the last one is closed.
    listed = client.get(f"{API}/stocktakes", params={"location": "LDN"}, headers=staff).json()
    assert listed["total"] == 1 and listed["items"][0]["counts"]["missing"] == 2
    assert listed["items"][0]["counted"] == 6
    assert client.post(f"{API}/stocktakes", json={"location": "LDN"},
                       headers=staff).status_code == 201
    assert client.get(f"{API}/stocktakes", params={"status": "open"},
                      headers=staff).json()["total"] == 1

    with session_for(engine, read_only=True) as session:
        offices = {entry["location"]: entry for entry in last_stocktakes(session)}
    assert offices["LDN"]["stocktake_id"] == sid
    assert offices["LDN"]["counts"]["found"] == 3 and offices["LDN"]["closed_on"]
    assert offices["MAN"]["stocktake_id"] is None


def test_a_location_that_does_not_exist_is_named(client, staff, office):
    response = client.post(f"{API}/stocktakes", json={"location": "NOWHERE"}, headers=staff)
    assert response.status_code == 422
    assert "NOWHERE" in response.json()["detail"]
    assert client.get(f"{API}/stocktakes/5", headers=staff).status_code == 404


def _all_at_once(base: str, headers: dict[str, str], calls: list[tuple[str, dict]]
                 ) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))

    def attempt(call: tuple[str, dict]) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            http.get("/health")
            barrier.wait()
            return http.post(call[0], json=call[1])

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(attempt, calls))


def test_two_scanners_at_once_count_a_device_once(app, client, engine, staff, manager, office):
    tags = [make_device(client, manager) for _ in range(3)]
    sid = client.post(f"{API}/stocktakes", json={"location": "LDN"}, headers=staff).json()["id"]
    with served(app) as base:
        # Two people scan the same device at the same moment, several times over.
        same = _all_at_once(base, staff, [(f"{API}/stocktakes/{sid}/scans",
                                           {"tag": tags[0]})] * 6)
        mixed = _all_at_once(base, staff, [(f"{API}/stocktakes/{sid}/scans", {"tag": tag})
                                           for tag in tags[1:] * 2])
        starts = _all_at_once(base, staff, [(f"{API}/stocktakes", {"location": "LDN"})] * 2)
    assert [r.status_code for r in same + mixed] == [200] * 10
    assert Counter(r.json()["already_counted"] for r in same) == {True: 5, False: 1}
    assert Counter(r.json()["already_counted"] for r in mixed) == {True: 2, False: 2}
    # The first count is still open: neither of two starts at once opens another.
    assert sorted(r.status_code for r in starts) == [409, 409]
    with session_for(engine, read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(StocktakeItem)) == 3
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity == "stocktake_item")) == 3
    result = client.post(f"{API}/stocktakes/{sid}/close", headers=staff).json()
    assert result["found"] == 3 and result["missing"] == []


def test_two_people_starting_a_count_at_once_open_one(app, client, staff, office):
    with served(app) as base:
        starts = _all_at_once(base, staff, [(f"{API}/stocktakes", {"location": "LDN"})] * 4)
    assert sorted(r.status_code for r in starts) == [201, 409, 409, 409]
    assert client.get(f"{API}/stocktakes", headers=staff).json()["total"] == 1
