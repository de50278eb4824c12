"""The public API (docs/api.md), walked end to end as an outside script would: the shapes
it promises."""

from datetime import date, timedelta

IMEI = "490154203237518"
FACTS = {"has_suitable_device": False, "has_home_internet": False, "can_afford_data": False,
         "referred_by_practitioner": True}


def test_the_public_contract(client, manager):
    api = "/api/v1"
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/schema/openapi.json").status_code == 200

    location = client.post(f"{api}/locations", json={"code": "HUB", "name": "Hub"},
                           headers=manager)
    assert location.status_code == 201 and location.json()["code"] == "HUB"
    assert client.get(f"{api}/locations", headers=manager).json()["total"] == 1

    device = client.post(f"{api}/devices", json={
        "kind": "phone", "make": "Nokia", "model": "G22", "location": "HUB", "imei": IMEI},
        headers=manager)
    assert device.status_code == 201
    tag = device.json()["asset_tag"]
    assert device.json()["status"] == "available"
    for field in ("asset_tag", "kind", "make", "model", "status", "location", "serial_number",
                  "imei", "iccid", "msisdn"):
        assert field in device.json()
    listed = client.get(f"{api}/devices", params={"status": "available", "kind": "phone",
                                                  "location": "HUB", "q": "G22"},
                        headers=manager).json()
    assert listed["total"] == 1 and listed["items"][0]["asset_tag"] == tag
    imported = client.post(f"{api}/devices/import", content=b"kind,make,model,location\n"
                           b"laptop,Dell,L,HUB\n", headers={**manager,
                                                            "content-type": "text/csv"})
    assert imported.status_code == 201 and imported.json()["created"] == 1
    assert client.get(f"{api}/devices/{tag}/qr.svg", headers=manager).status_code == 200

    recipient = client.post(f"{api}/recipients", json={
        "name": "Sam", "mobile": "07911 123456", "location": "HUB", "facts": FACTS},
        headers=manager)
    assert recipient.status_code == 201
    person = recipient.json()
    for field in ("id", "name", "mobile", "language", "location", "status"):
        assert field in person
    assert person["mobile"] == "+447911123456"
    assert client.post(f"{api}/recipients", json={
        "name": "X", "location": "HUB", "facts": {"likes_cats": True}},
        headers=manager).status_code == 422
    assert client.get(f"{api}/recipients/{person['id']}", headers=manager).status_code == 200
    decision = client.get(f"{api}/recipients/{person['id']}/eligibility",
                          params={"kind": "phone"}, headers=manager).json()
    assert decision["outcome"] == "eligible" and decision["policy"]
    assert {"code", "message"} <= set(decision["reasons"][0])

    past = client.post(f"{api}/loans", json={
        "asset_tag": tag, "recipient_id": person["id"],
        "due_on": (date.today() - timedelta(days=1)).isoformat()}, headers=manager)
    assert past.status_code == 422
    loan = client.post(f"{api}/loans", json={"asset_tag": tag, "recipient_id": person["id"]},
                       headers=manager)
    assert loan.status_code == 201, loan.text
    lent = loan.json()
    assert lent["status"] == "active" and lent["due_on"]
    for field in ("id", "asset_tag", "recipient_id", "status", "issued_at", "due_on",
                  "returned_at"):
        assert field in lent
    again = client.post(f"{api}/loans", json={"asset_tag": tag, "recipient_id": person["id"]},
                        headers=manager)
    assert again.status_code == 409
    assert client.get(f"{api}/devices/{tag}", headers=manager).json()["loan"]["id"] == lent["id"]
    assert client.get(f"{api}/loans", params={"status": "active"},
                      headers=manager).json()["total"] == 1
    assert client.post(f"{api}/loans/{lent['id']}/renew", json={},
                       headers=manager).status_code == 200
    returned = client.post(f"{api}/loans/{lent['id']}/return", json={"condition": "B"},
                           headers=manager)
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert client.get(f"{api}/devices/{tag}", headers=manager).json()["status"] == \
        "awaiting_wipe"
    assert client.post(f"{api}/loans", json={"asset_tag": tag, "recipient_id": person["id"]},
                       headers=manager).status_code == 409  # never lent unwiped
    wiped = client.post(f"{api}/devices/{tag}/wipe", json={"method": "factory_reset"},
                        headers=manager)
    assert wiped.status_code == 200 and wiped.json()["status"] == "available"
    assert client.post(f"{api}/devices/{tag}/wipe", json={"method": "factory_reset"},
                       headers=manager).status_code == 409

    second = client.post(f"{api}/loans", json={"asset_tag": tag, "recipient_id": person["id"]},
                         headers=manager).json()
    lost = client.post(f"{api}/loans/{second['id']}/lost", json={}, headers=manager)
    assert lost.status_code == 200 and lost.json()["status"] == "lost"
    assert client.get(f"{api}/devices/{tag}", headers=manager).json()["status"] == "lost"

    sheet = client.post(f"{api}/labels", json={"tags": [tag], "template": "avery-l7160"},
                        headers=manager)
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
