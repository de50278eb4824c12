"""Devices through the HTTP API: identifiers, statuses, search, and bad input."""

import pytest
from sqlalchemy import func, select

from inventory.models import Device
from inventory.service import check_letter, format_tag
from lending.audit.models import AuditEntry
from tests.query_count import queries_for

IMEI = "490154203237518"  # a valid IMEI (passes Luhn)
IMEI_2 = "356938035643809"
ICCID = "8944110068256270054"


def new_device(client, headers, **fields):
    body = {"kind": "laptop", "make": "Lenovo", "model": "ThinkPad E14", "location": "LDN"}
    body.update(fields)
    return client.post("/api/v1/devices", json=body, headers=headers)


def device_count(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Device))


def test_create_assigns_a_checked_tag_in_sequence(client, staff, office):
    first = new_device(client, staff, serial_number="SN1")
    second = new_device(client, staff, serial_number="SN2")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "available"
    assert first.json()["asset_tag"] == format_tag(1) == f"00001-{check_letter('00001')}"
    assert second.json()["asset_tag"] == format_tag(2)
    assert first.json()["location"] == "LDN"


def test_a_given_tag_is_kept_and_must_be_unique(client, staff, office):
    assert new_device(client, staff, asset_tag="OLD-17").json()["asset_tag"] == "OLD-17"
    clash = new_device(client, staff, asset_tag="old-17")
    assert clash.status_code == 409
    assert clash.json()["errors"][0]["field"] == "asset_tag"


def test_a_numbered_tag_with_a_wrong_check_letter_is_refused(client, staff, office):
    digits = "00042"
    wrong = next(letter for letter in "ABC" if letter != check_letter(digits))
    response = new_device(client, staff, asset_tag=f"{digits}-{wrong}")
    assert response.status_code == 422
    assert "check letter" in response.json()["detail"]


def test_a_mistyped_tag_is_caught_rather_than_matching_another(client, staff, office):
    tag = new_device(client, staff).json()["asset_tag"]
    digits, letter = tag.split("-")
    assert client.get(f"/api/v1/devices/{digits}{letter.lower()}", headers=staff).json()[
        "asset_tag"] == tag  # typed without the dash, in lower case
    typo = client.get(f"/api/v1/devices/{digits[:-1]}2-{letter}", headers=staff)
    assert typo.status_code == 404
    assert "mistyped" in typo.json()["detail"]


@pytest.mark.parametrize("field,value,kind", [
    ("imei", "490154203237517", "phone"),      # fails Luhn
    ("imei", "4901542032375", "phone"),        # too short
    ("iccid", "8944110068256270055", "sim"),   # fails Luhn
    ("iccid", "1944110068256270054", "sim"),   # does not start 89
    ("msisdn", "+1 212 555 0100", "sim"),      # not a UK mobile
    ("msisdn", "020 7946 0000", "sim"),        # a landline
])
def test_invalid_identifiers_are_422_naming_the_field(client, staff, office, engine, field,
                                                      value, kind):
    response = new_device(client, staff, kind=kind, **{field: value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field
    assert device_count(engine) == 0


def test_identifiers_are_normalised(client, staff, office):
    sim = new_device(client, staff, kind="sim", make="EE", model="Data SIM",
                     iccid="8944 1100 6825 6270 054", msisdn="07911 123456")
    assert sim.status_code == 201, sim.text
    assert sim.json()["iccid"] == ICCID
    assert sim.json()["msisdn"] == "+447911123456"


@pytest.mark.parametrize("field,value,kind,other", [
    ("serial_number", "SN-9", "laptop", {}),
    ("imei", IMEI, "phone", {}),
    ("iccid", ICCID, "sim", {}),
    ("imei2", IMEI, "phone", {"imei": IMEI_2}),  # a second IMEI that is another's first
])
def test_duplicate_identifiers_are_409(client, staff, office, engine, field, value, kind,
                                       other):
    first_fields = {"serial_number": "SN-9"} if field == "serial_number" else {
        ("imei" if field == "imei2" else field): value}
    assert new_device(client, staff, kind=kind, **first_fields).status_code == 201
    response = new_device(client, staff, kind=kind, **{field: value, **other})
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == field
    assert device_count(engine) == 1


def test_unknown_location_and_kind_are_422(client, staff, office):
    unknown_location = new_device(client, staff, location="NOWHERE")
    assert unknown_location.status_code == 422
    assert unknown_location.json()["errors"][0]["field"] == "location"
    unknown_kind = new_device(client, staff, kind="toaster")
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["errors"][0]["field"] == "kind"


def test_malformed_json_is_400_and_an_oversized_body_is_413(client, staff, office, engine):
    broken = client.post("/api/v1/devices", content=b'{"kind": "laptop",',
                         headers={**staff, "content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.headers["content-type"].startswith("application/problem+json")
    huge = client.post("/api/v1/devices", content=b"{" + b" " * 6_000_000 + b"}",
                       headers={**staff, "content-type": "application/json"})
    assert huge.status_code == 413
    assert device_count(engine) == 0


def test_list_filters_searches_and_pages(client, staff, office):
    for n in range(7):
        new_device(client, staff, serial_number=f"LAP{n}")
    new_device(client, staff, kind="phone", model="Galaxy A15", imei=IMEI)
    new_device(client, staff, kind="sim", make="EE", model="Data SIM", iccid=ICCID)

    page = client.get("/api/v1/devices?kind=laptop&limit=3&offset=3", headers=staff).json()
    assert page["total"] == 7
    assert [d["serial_number"] for d in page["items"]] == ["LAP3", "LAP4", "LAP5"]
    assert client.get("/api/v1/devices?q=galaxy", headers=staff).json()["total"] == 1
    assert client.get(f"/api/v1/devices?q={IMEI[:8]}", headers=staff).json()["total"] == 1
    assert client.get(f"/api/v1/devices?q={ICCID[-6:]}", headers=staff).json()["total"] == 1
    assert client.get("/api/v1/devices?status=on_loan", headers=staff).json() == {
        "items": [], "total": 0, "limit": 50, "offset": 0}
    assert client.get("/api/v1/devices?location=ldn", headers=staff).json()["total"] == 9
    bad = client.get("/api/v1/devices?limit=9999", headers=staff)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"


def test_update_changes_only_what_is_sent(client, staff, office):
    tag = new_device(client, staff, serial_number="A1", notes="boxed").json()["asset_tag"]
    response = client.patch(f"/api/v1/devices/{tag}", json={"condition": "B"}, headers=staff)
    assert response.status_code == 200, response.text
    assert response.json()["condition"] == "B"
    assert response.json()["notes"] == "boxed"
    bad = client.patch(f"/api/v1/devices/{tag}", json={"condition": "Z"}, headers=staff)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "condition"


def test_an_update_of_nothing_or_only_the_office_changes_nothing_else(client, staff, office):
    """Schemathesis found `{}` made a 500: no field, or only `location`, leaves none to copy."""
    tag = new_device(client, staff, notes="boxed").json()["asset_tag"]
    same = client.patch(f"/api/v1/devices/{tag}", json={}, headers=staff)
    assert same.status_code == 200, same.text
    assert same.json()["notes"] == "boxed"
    moved = client.patch(f"/api/v1/devices/{tag}", json={"location": "LDN"}, headers=staff)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["location"], moved.json()["notes"]) == ("LDN", "boxed")


def test_illegal_status_change_is_409_naming_the_allowed_ones(client, staff, office):
    tag = new_device(client, staff).json()["asset_tag"]
    retire = client.post(f"/api/v1/devices/{tag}/status", json={"status": "retired"},
                         headers=staff)
    assert retire.status_code == 200
    back = client.post(f"/api/v1/devices/{tag}/status", json={"status": "in_repair"},
                       headers=staff)
    assert back.status_code == 409
    assert "retired" in back.json()["detail"] and "Allowed" in back.json()["detail"]
    assert client.post(f"/api/v1/devices/{tag}/status", json={"status": "available"},
                       headers=staff).status_code == 409


def test_only_a_device_awaiting_a_wipe_can_be_wiped_back_into_stock(client, staff, office):
    tag = new_device(client, staff, kind="phone", imei=IMEI).json()["asset_tag"]
    early = client.post(f"/api/v1/devices/{tag}/wipe", json={"method": "factory_reset"},
                        headers=staff)
    assert early.status_code == 409 and "available" in early.json()["detail"]
    for status in ("lost", "awaiting_wipe"):  # lost, then found and handed in
        assert client.post(f"/api/v1/devices/{tag}/status", json={"status": status},
                           headers=staff).status_code == 200
    locked = client.post(f"/api/v1/devices/{tag}/wipe", json={
        "method": "factory_reset", "account_lock_removed": False}, headers=staff)
    assert locked.status_code == 422
    assert locked.json()["errors"][0]["field"] == "account_lock_removed"
    wiped = client.post(f"/api/v1/devices/{tag}/wipe", json={
        "method": "nist_purge", "account_lock_removed": True}, headers=staff)
    assert wiped.status_code == 200 and wiped.json()["status"] == "available"
    detail = client.get(f"/api/v1/devices/{tag}", headers=staff).json()
    assert detail["wipes"][0]["method"] == "nist_purge"
    assert detail["wipes"][0]["performed_by"] == "staff@example.org"
    statuses = [entry["changes"]["status"] for entry in detail["history"]
                if entry["action"] == "status"]
    assert statuses == [["awaiting_wipe", "available"], ["lost", "awaiting_wipe"],
                        ["available", "lost"]]
    assert detail["history"][-1]["action"] == "create"
    assert detail["history"][-1]["actor"] == "staff@example.org"


def test_a_list_request_costs_the_same_queries_whatever_the_page_size(client, staff, office,
                                                                     engine):
    for n in range(30):
        new_device(client, staff, serial_number=f"Q{n}")
    client.get("/api/v1/devices?limit=1", headers=staff)  # the token is now looked up, touched

    small = queries_for(client, engine, "/api/v1/devices?limit=2", headers=staff)
    large = queries_for(client, engine, "/api/v1/devices?limit=30&status=available&kind=laptop",
                        headers=staff)
    assert small == large == 2  # the count and the page (the token was just looked up)


def test_every_change_is_audited_with_before_and_after(client, staff, office, engine):
    tag = new_device(client, staff, serial_number="S-1").json()["asset_tag"]
    client.patch(f"/api/v1/devices/{tag}", json={"serial_number": "S-2"}, headers=staff)
    with engine.connect() as connection:
        update = connection.execute(select(AuditEntry).where(
            AuditEntry.action == "update", AuditEntry.entity == "device")).one()
    assert update.actor == "staff@example.org"
    assert update.changes == {"serial_number": ["S-1", "S-2"]}


def test_a_wipe_needs_only_its_method_as_the_contract_says(client, staff, office):
    tag = new_device(client, staff, kind="phone", imei=IMEI).json()["asset_tag"]
    for status in ("lost", "awaiting_wipe"):
        client.post(f"/api/v1/devices/{tag}/status", json={"status": status}, headers=staff)
    wiped = client.post(f"/api/v1/devices/{tag}/wipe", json={"method": "factory_reset"},
                        headers=staff)
    assert wiped.status_code == 200 and wiped.json()["status"] == "available"
    detail = client.get(f"/api/v1/devices/{tag}", headers=staff).json()
    assert detail["wipes"][0]["account_lock_removed"] is None  # recorded as not stated


def test_counts_by_status_name_every_status(client, staff, office, session):
    from inventory.service import count_by_status

    tags = [new_device(client, staff).json()["asset_tag"] for _ in range(3)]
    client.post(f"/api/v1/devices/{tags[0]}/status", json={"status": "in_repair"},
                headers=staff)
    assert count_by_status(session) == {"available": 2, "on_loan": 0, "awaiting_wipe": 0,
                                        "in_repair": 1, "lost": 0, "retired": 0}


def test_the_drama_range_is_taken_as_a_uk_mobile():
    from inventory.schemas import normalise_uk_mobile
    assert normalise_uk_mobile("07700 900000") == "+447700900000"
    assert normalise_uk_mobile("+447700900999") == "+447700900999"
    for number in ("07700 901000", "020 7946 0000"):
        with pytest.raises(ValueError):
            normalise_uk_mobile(number)
