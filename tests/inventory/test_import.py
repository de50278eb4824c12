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


# Words of the validator's own that staff should never be shown.
VALIDATOR_TEXT = ("Input should", "String should", "Value error", "Field required",
                  "valid decimal", "Decimal input", "pattern", "Assertion")
ALL_COLUMNS = ",".join(IMPORT_COLUMNS)


def row_of(**cells: str) -> str:
    return ",".join(cells.get(name, "") for name in IMPORT_COLUMNS)


# For every column of the import, a bad value and what the member of staff is told.
EVERY_FIELD = [
    ("kind", {"kind": "toaster"},
     "the kind must be one of laptop, phone, tablet, sim or hotspot, not 'toaster'"),
    ("make", {"make": " "}, "the make is missing"),
    ("model", {"model": "x" * 81}, "the model is too long: use at most 80 characters"),
    ("location", {"location": ""}, "the office code is missing"),
    ("location", {"location": "MARS"}, "no location has the code 'MARS'"),
    ("serial_number", {"serial_number": "x" * 81},
     "the serial number is too long: use at most 80 characters"),
    ("imei", {"kind": "phone", "imei": "123"}, "an IMEI is 15 digits"),
    ("imei2", {"kind": "phone", "imei2": "12-34"}, "second IMEI: an IMEI is 15 digits"),
    ("iccid", {"kind": "sim", "iccid": "12345"}, "an ICCID is 19 or 20 digits starting 89"),
    ("msisdn", {"kind": "sim", "msisdn": "12345"},
     "SIM phone number: not a valid UK mobile number"),
    ("network", {"network": "x" * 41}, "the network is too long: use at most 40 characters"),
    ("plan_allowance_gb", {"kind": "sim", "plan_allowance_gb": "lots"},
     "the data allowance (GB) must be a number, like 20"),
    ("plan_allowance_gb", {"kind": "sim", "plan_allowance_gb": "-1"},
     "the data allowance (GB) cannot be below 0"),
    ("plan_allowance_gb", {"kind": "sim", "plan_allowance_gb": "200000"},
     "the data allowance (GB) must be at most 100,000"),
    ("plan_starts_on", {"plan_starts_on": "27/03/2026"},
     "the plan start date must be a date written year-month-day, like 2026-03-27"),
    ("plan_ends_on", {"plan_ends_on": "2026-02-30"},
     "the plan end date must be a date written year-month-day, like 2026-03-27"),
    ("plan_ends_on", {"plan_starts_on": "2026-03-02", "plan_ends_on": "2026-03-01"},
     "plan end date: the plan cannot end before it starts"),
    ("purchased_on", {"purchased_on": "last week"},
     "the purchase date must be a date written year-month-day, like 2026-03-27"),
    ("purchase_cost", {"purchase_cost": "£129.99"},
     "the purchase cost must be a number, like 129.99"),
    ("purchase_cost", {"purchase_cost": "12.345"},
     "the purchase cost may have at most 2 decimal places, like 129.99"),
    ("purchase_cost", {"purchase_cost": "-5"}, "the purchase cost cannot be below 0"),
    ("purchase_cost", {"purchase_cost": "2000000"},
     "the purchase cost must be at most 1,000,000"),
    ("condition", {"condition": "E"},
     "the condition must be A, B, C or D (A is as new, D is damaged)"),
    ("notes", {"notes": "x" * 2001}, "the notes are too long: use at most 2000 characters"),
    ("source", {"source": "gift"},
     "the source must be one of purchased, donated or partner, not 'gift'"),
    ("source_name", {"source_name": "x" * 121},
     "the source name is too long: use at most 120 characters"),
    ("asset_tag", {"asset_tag": "TAG 1"},
     "the asset tag may hold only letters, digits and dashes, like 00042-K"),
]


def test_every_field_of_the_import_has_its_problem_in_plain_words(client, staff, office,
                                                                   engine):
    good = {"kind": "laptop", "make": "Dell", "model": "Latitude", "location": "LDN",
            "condition": "A"}
    lines = [row_of(**{**good, **bad}) for _, bad, _ in EVERY_FIELD]
    response = import_csv(client, staff, ALL_COLUMNS + "\n" + "\n".join(lines) + "\n")
    assert response.status_code == 422, response.text
    found = {(p["line"], p["field"]): p["message"] for p in response.json()["errors"]}
    for line, (field, _, message) in enumerate(EVERY_FIELD, start=2):
        assert found.get((line, field)) == message, (line, field, found.get((line, field)))
    assert len(found) == len(EVERY_FIELD), found
    assert set(IMPORT_COLUMNS) <= {field for field, _, _ in EVERY_FIELD}
    for message in found.values():
        assert not any(words in message for words in VALIDATOR_TEXT), message
    assert count(engine) == 0


def test_every_problem_of_one_row_is_reported_at_once(client, staff, office):
    text = (ALL_COLUMNS + "\n" + row_of(kind="tablet", make="", model="Tab", location="MARS",
                                        purchase_cost="cheap", purchased_on="2026-13-01",
                                        condition="Z") + "\n")
    response = import_csv(client, staff, text)
    assert response.status_code == 422
    problems = response.json()["errors"]
    assert [(p["line"], p["field"]) for p in problems] == [
        (2, "make"), (2, "purchased_on"), (2, "purchase_cost"), (2, "condition"),
        (2, "location")]
    assert "5 problem(s)" in response.json()["detail"]
