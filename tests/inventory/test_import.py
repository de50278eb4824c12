"""CSV import: every row or none, every problem named by line and field."""

from sqlalchemy import func, select, text

from inventory.models import Device
from inventory.schemas import luhn_valid
from inventory.service import IMPORT_COLUMNS, format_tag

HEADER = "kind,make,model,location,serial_number,imei,iccid,msisdn,asset_tag\n"


def with_luhn(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def import_csv(client, headers, text: str):
    return client.post("/api/v1/devices/import", content=text.encode(),
                       headers={**headers, "content-type": "text/csv"})


def count(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Device))


def test_a_good_file_is_imported_with_tags_assigned(client, staff, office, engine):
    rows = [f"laptop,Dell,Latitude,LDN,SN{n},,,," for n in range(120)]
    rows.append(f"phone,Nokia,G22,ldn,,{with_luhn('35123456789012')},,07911 123456,OLD-1")
    rows.append(f"sim,EE,Data,LDN,,,{with_luhn('894411000000000001')},,")
    response = import_csv(client, staff, HEADER + "\n".join(rows) + "\n")
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 122
    assert "OLD-1" in response.json()["asset_tags"]
    assert count(engine) == 122
    phone = client.get("/api/v1/devices/OLD-1", headers=staff).json()
    assert phone["msisdn"] == "+447911123456"
    assert phone["history"][0]["action"] == "create"  # bulk rows are audited too


def test_new_tags_skip_numbers_already_given_by_hand(client, staff, office, engine):
    # The numbers cross from five digits to six, where tags stop sorting as numbers do.
    with engine.begin() as connection:
        connection.execute(text("UPDATE tag_sequence SET next_number = 99998"))
    for number in (99_999, 100_001):
        given = import_csv(client, staff, HEADER + f"laptop,Dell,L,LDN,,,,,{format_tag(number)}\n")
        assert given.status_code == 201, given.text
    response = import_csv(client, staff, HEADER + "laptop,Dell,L,LDN,,,,,\n" * 3)
    assert response.status_code == 201, response.text
    assert response.json()["asset_tags"] == [format_tag(n) for n in (99_998, 100_000, 100_002)]


def test_every_bad_row_is_reported_and_nothing_is_imported(client, staff, office, engine):
    good_imei = with_luhn("35123456789012")
    text = HEADER + "\n".join([
        "laptop,Dell,Latitude,LDN,SN1,,,,",            # line 2: fine
        "toaster,Dell,Latitude,LDN,SN2,,,,",           # line 3: unknown kind
        f"phone,Nokia,G22,LDN,,{good_imei[:-1]}0,,,",  # line 4: IMEI check digit (if 0 wrong)
        "laptop,Dell,,LDN,SN4,,,,",                    # line 5: model missing
        "laptop,Dell,Latitude,MARS,SN5,,,,",           # line 6: unknown location
        "laptop,Dell,Latitude,LDN,SN1,,,,",            # line 7: serial repeats line 2
        "sim,EE,Data,LDN,,,,+1 212 555 0100,",         # line 8: not a UK mobile
    ]) + "\n"
    response = import_csv(client, staff, text)
    assert response.status_code == 422
    problems = {(p["line"], p["field"]) for p in response.json()["errors"]}
    assert (3, "kind") in problems
    assert (5, "model") in problems
    assert (6, "location") in problems
    assert (7, "serial_number") in problems
    assert (8, "msisdn") in problems
    if not luhn_valid(good_imei[:-1] + "0"):
        assert (4, "imei") in problems
    assert all(line != 2 for line, _ in problems)
    assert count(engine) == 0


def test_duplicates_against_stock_are_caught(client, staff, office, engine):
    assert import_csv(client, staff, HEADER + "laptop,Dell,L,LDN,SN1,,,,\n").status_code == 201
    response = import_csv(client, staff, HEADER + "laptop,Dell,L,LDN,SN9,,,,\n"
                          "laptop,Dell,L,LDN,SN1,,,,\n")
    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert problem["line"] == 3 and problem["field"] == "serial_number"
    assert "already belongs to device" in problem["message"]
    assert count(engine) == 1


def test_a_wrong_header_names_the_expected_columns(client, staff, office):
    response = import_csv(client, staff, "type,maker,model,location\nlaptop,Dell,L,LDN\n")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "unknown column(s) type, maker" in detail
    assert f"expected columns: {', '.join(IMPORT_COLUMNS)}" in detail


def test_an_empty_file_and_a_non_utf8_file_are_refused(client, staff, office):
    assert import_csv(client, staff, HEADER).status_code == 422
    latin = client.post("/api/v1/devices/import", content=HEADER.encode() + b"laptop,D\xe9ll",
                        headers={**staff, "content-type": "text/csv"})
    assert latin.status_code == 422
    assert latin.json()["errors"][0]["field"] == "file"
