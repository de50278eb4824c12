def test_create_and_list(client, staff, office):
    r = client.post("/api/v1/devices", json={"kind": "laptop", "make": "Dell", "model": "L",
                                             "location": office}, headers=staff)
    assert r.status_code == 201, r.text
    r = client.get("/api/v1/devices", headers=staff)
    assert r.json()["total"] == 1
