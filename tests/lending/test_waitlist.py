"""The waitlist: first come first served per office and kind, offers held, passed on."""

from datetime import UTC, datetime, timedelta

from lending.db import session_for
from lending.demo import with_luhn
from lending.waitlist.service import expire_offers
from tests.lending.test_loans_helpers import (
    API,
    issue,
    make_device,
    make_recipient,
    wipe,
)


def add(client, headers, rid, kind="laptop", **extra):
    return client.post(f"{API}/waitlist", json={"recipient_id": rid, "kind": kind, **extra},
                       headers=headers)


def request_of(client, headers, request_id):
    return client.get(f"{API}/waitlist/{request_id}", headers=headers).json()


def lend_out(client, headers, kind="laptop"):
    """A device of the kind, on loan to someone else: the shelf is empty."""
    tag = make_device(client, headers, kind)
    loan = issue(client, headers, tag, make_recipient(client, headers)).json()
    return tag, loan["id"]


def bring_back(client, headers, tag, loan_id):
    assert client.post(f"{API}/loans/{loan_id}/return", json={"condition": "A"},
                       headers=headers).status_code == 200
    assert wipe(client, headers, tag).status_code == 200


def test_a_request_only_when_the_shelf_is_empty(client, staff, office):
    rid = make_recipient(client, staff)
    tag = make_device(client, staff)
    busy = add(client, staff, rid)
    assert busy.status_code == 409 and tag in busy.json()["detail"]
    issue(client, staff, tag, make_recipient(client, staff))
    created = add(client, staff, rid, notes="prefers a small one")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["position"], body["location"], body["hold_days"]) == (
        "waiting", 1, office, 3)
    assert add(client, staff, rid).status_code == 409
    ineligible = make_recipient(client, staff, device_restriction=True)
    refused = add(client, staff, ineligible)
    assert refused.status_code == 422 and refused.json()["reasons"][0]["code"] == \
        "device_restriction"
    assert add(client, staff, 999999).json()["errors"][0]["field"] == "recipient_id"
    assert add(client, staff, rid, kind="boat").json()["errors"][0]["field"] == "kind"


def test_first_come_first_served_and_the_offer_is_held(client, staff, office):
    tag, loan_id = lend_out(client, staff)
    people = [make_recipient(client, staff) for _ in range(3)]
    requests = [add(client, staff, rid).json()["id"] for rid in people]
    listed = client.get(f"{API}/waitlist", params={"location": office, "kind": "laptop"},
                        headers=staff).json()
    assert [(i["id"], i["position"]) for i in listed["items"]] == [
        (requests[0], 1), (requests[1], 2), (requests[2], 3)]

    bring_back(client, staff, tag, loan_id)
    first = request_of(client, staff, requests[0])
    assert (first["status"], first["offered_device"]) == ("offered", tag)
    assert first["offer_expires_at"] and first["position"] is None
    assert request_of(client, staff, requests[1])["position"] == 1

    held = issue(client, staff, tag, people[1])
    assert held.status_code == 409 and "held" in held.json()["detail"]
    taken = issue(client, staff, tag, people[0])
    assert taken.status_code == 201, taken.text
    done = request_of(client, staff, requests[0])
    assert (done["status"], done["loan_id"]) == ("fulfilled", taken.json()["id"])


def test_a_new_device_is_offered_too(client, staff, office):
    lend_out(client, staff, "tablet")
    rid = make_recipient(client, staff)
    request_id = add(client, staff, rid, kind="tablet").json()["id"]
    tag = make_device(client, staff, "tablet")
    offer = request_of(client, staff, request_id)
    assert (offer["status"], offer["offered_device"]) == ("offered", tag)


def test_a_manager_moves_a_request_up_in_writing(client, staff, manager, office):
    tag, loan_id = lend_out(client, staff)
    first, second = make_recipient(client, staff), make_recipient(client, staff)
    early = add(client, staff, first).json()["id"]
    late = add(client, staff, second).json()["id"]
    reason = {"reason": "Starts a job on Monday and needs it for the induction"}
    assert client.post(f"{API}/waitlist/{late}/move-up", json=reason,
                       headers=staff).status_code == 403
    short = client.post(f"{API}/waitlist/{late}/move-up", json={"reason": "soon"},
                        headers=manager)
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "reason"
    moved = client.post(f"{API}/waitlist/{late}/move-up", json=reason, headers=manager)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["position"], moved.json()["moved_up_reason"]) == (1, reason["reason"])
    assert request_of(client, staff, early)["position"] == 2

    bring_back(client, staff, tag, loan_id)
    assert request_of(client, staff, late)["status"] == "offered"
    assert request_of(client, staff, early)["status"] == "waiting"
    again = client.post(f"{API}/waitlist/{late}/move-up", json=reason, headers=manager)
    assert again.status_code == 409


def test_an_offer_expires_and_passes_to_the_next(client, staff, engine, office):
    tag, loan_id = lend_out(client, staff)
    first, second = make_recipient(client, staff), make_recipient(client, staff)
    early = add(client, staff, first).json()["id"]
    late = add(client, staff, second).json()["id"]
    bring_back(client, staff, tag, loan_id)
    offered_at = datetime.fromisoformat(request_of(client, staff, early)["offered_at"])

    with session_for(engine, actor="scheduler") as session:
        assert expire_offers(session, offered_at + timedelta(days=2, hours=23)) == {
            "expired": [], "offered": []}
    assert request_of(client, staff, early)["status"] == "offered"

    with session_for(engine, actor="scheduler") as session:
        result = expire_offers(session, offered_at + timedelta(days=3, minutes=1))
    assert result == {"expired": [early], "offered": [late]}
    assert request_of(client, staff, early)["status"] == "expired"
    passed = request_of(client, staff, late)
    assert (passed["status"], passed["offered_device"]) == ("offered", tag)
    assert datetime.fromisoformat(passed["offer_expires_at"]) > offered_at + timedelta(days=6)
    # The first recipient lost the hold: the device is no longer theirs to take.
    assert issue(client, staff, tag, first).status_code == 409


def test_cancelling_an_offer_passes_it_on(client, staff, office):
    tag, loan_id = lend_out(client, staff, "hotspot")
    first, second = make_recipient(client, staff), make_recipient(client, staff)
    early = add(client, staff, first, kind="hotspot").json()["id"]
    late = add(client, staff, second, kind="hotspot").json()["id"]
    bring_back(client, staff, tag, loan_id)
    cancelled = client.post(f"{API}/waitlist/{early}/cancel",
                            json={"reason": "found one of their own"}, headers=staff)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert request_of(client, staff, late)["status"] == "offered"
    assert client.post(f"{API}/waitlist/{early}/cancel", headers=staff).status_code == 409


def test_issuing_another_device_fulfils_and_releases_the_hold(client, staff, manager,
                                                              office):
    client.post(f"{API}/locations", json={"code": "MCR", "name": "Manchester"},
                headers=manager)
    tag, loan_id = lend_out(client, staff)
    first, second = make_recipient(client, staff), make_recipient(client, staff)
    early = add(client, staff, first).json()["id"]
    late = add(client, staff, second).json()["id"]
    bring_back(client, staff, tag, loan_id)
    assert request_of(client, staff, early)["offered_device"] == tag
    # The first in line takes a laptop from another office instead: their request is met,
    # and the laptop held for them here passes to the next in line.
    elsewhere = make_device(client, staff, location="MCR")
    assert issue(client, staff, elsewhere, first).status_code == 201
    assert request_of(client, staff, early)["status"] == "fulfilled"
    passed = request_of(client, staff, late)
    assert (passed["status"], passed["offered_device"]) == ("offered", tag)


def test_expire_offers_sweeps_devices_no_listener_saw(client, staff, engine, office):
    lend_out(client, staff, "sim")
    rid = make_recipient(client, staff)
    request_id = add(client, staff, rid, kind="sim").json()["id"]
    csv = ("kind,make,model,location,iccid,msisdn\n"
           f"sim,EE,Data,LDN,{with_luhn('894410000000009999')},+447400000999\n")
    imported = client.post(f"{API}/devices/import", content=csv,
                           headers={**staff, "Content-Type": "text/csv"})
    assert imported.status_code == 201, imported.text
    assert request_of(client, staff, request_id)["status"] == "waiting"
    with session_for(engine, actor="scheduler") as session:
        expire_offers(session, datetime.now(UTC))
    assert request_of(client, staff, request_id)["status"] == "offered"
