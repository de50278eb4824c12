"""A change to a recipient's answers (or restriction, or status) decides their open waitlist
requests again: the decision is stored and audited, and a manager's override that stops
covering a request is said so, in the decision and in the change's answer."""

from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient

NO_NEED = {"has_suitable_device": True, "referred_by_practitioner": False}


def shelf_emptied(client, headers, kind="laptop"):
    """The office's only device of the kind, lent to someone else: a request must wait."""
    tag = make_device(client, headers, kind)
    assert issue(client, headers, tag, make_recipient(client, headers)).status_code == 201
    return tag


def waiting(client, headers, rid, kind="laptop") -> int:
    response = client.post(f"{API}/waitlist", json={"recipient_id": rid, "kind": kind},
                           headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def patch(client, headers, rid, **fields):
    response = client.patch(f"{API}/recipients/{rid}", json=fields, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def decisions(client, headers, rid, purpose="review"):
    return [d for d in client.get(f"{API}/recipients/{rid}", headers=headers).json()[
        "decisions"] if d["purpose"] == purpose]


def audited_decisions(client, manager, decision_id):
    return client.get(f"{API}/audit", params={"entity": "eligibility_decision",
                                              "entity_id": str(decision_id)},
                      headers=manager).json()["items"]


def test_a_facts_change_reviews_a_waiting_request_stored_and_audited(
        client, staff, manager, office):
    shelf_emptied(client, staff)
    rid = make_recipient(client, staff)
    request_id = waiting(client, staff, rid)

    body = patch(client, staff, rid, facts={"has_home_internet": True})
    assert body["facts"]["has_home_internet"] is True
    [review] = body["reviews"]
    assert (review["request_id"], review["kind"], review["outcome"],
            review["override_lapsed"]) == (request_id, "laptop", "eligible", False)
    assert review["message"] == f"Waitlist request {request_id} for a laptop: still eligible"

    [stored] = decisions(client, staff, rid)
    assert stored["id"] == review["decision_id"]
    assert (stored["kind"], stored["outcome"], stored["decided_by"]) == (
        "laptop", "eligible", "staff@example.org")
    assert stored["facts"]["facts"]["has_home_internet"] is True
    [entry] = audited_decisions(client, manager, stored["id"])
    assert entry["action"] == "create" and entry["actor"] == "staff@example.org"
    assert entry["changes"]["after"]["purpose"] == "review"
    # The request stays open, and where it was in the queue.
    assert client.get(f"{API}/waitlist/{request_id}", headers=staff).json()["status"] == \
        "waiting"


def test_a_change_that_makes_them_ineligible_says_so(client, staff, manager, office):
    shelf_emptied(client, staff)
    rid = make_recipient(client, staff)
    request_id = waiting(client, staff, rid)

    body = patch(client, staff, rid, facts=NO_NEED)
    [review] = body["reviews"]
    assert (review["outcome"], review["override_lapsed"]) == ("ineligible", False)
    assert review["message"] == (f"Waitlist request {request_id} for a laptop: not eligible "
                                 "for a laptop: No need shown for a laptop")
    [stored] = decisions(client, staff, rid)
    assert [r["code"] for r in stored["reasons"]] == ["no_need"]

    # A licence condition set by staff: reviewed too, and not overridable.
    restricted = patch(client, staff, rid, device_restriction=True)["reviews"]
    assert [r["outcome"] for r in restricted] == ["ineligible"]
    assert "cannot be overridden" in restricted[0]["message"]
    # Closing the record too.
    closed = patch(client, staff, rid, status="closed")["reviews"]
    assert "The recipient's record is closed" in closed[0]["message"]
    assert len(decisions(client, staff, rid)) == 3


def test_an_override_the_change_outgrows_is_said_to_have_lapsed(
        client, staff, manager, office):
    shelf_emptied(client, staff)
    rid = make_recipient(client, staff, facts=NO_NEED)
    assert client.post(f"{API}/recipients/{rid}/overrides", json={
        "kind": "laptop", "reason": "Starts a college course on Monday"},
        headers=manager).status_code == 201
    request_id = waiting(client, staff, rid)  # let in by the override

    # Still only what the manager saw: the override still covers it.
    covered = patch(client, staff, rid, facts={"has_home_internet": False})["reviews"]
    assert [(r["outcome"], r["override_lapsed"]) for r in covered] == [("ineligible", False)]
    assert covered[0]["message"].endswith("(a manager's override covers this)")

    # A new concern the manager did not see: an answer forgotten.
    body = patch(client, staff, rid, facts={"has_suitable_device": None})
    [review] = body["reviews"]
    assert (review["request_id"], review["outcome"], review["override_lapsed"]) == (
        request_id, "needs_review", True)
    assert "override by manager@example.org" in review["message"]
    assert "no longer lets this request through" in review["message"]
    assert "Not yet answered" in review["message"]

    stored = decisions(client, staff, rid)[0]  # newest first
    assert stored["id"] == review["decision_id"]
    codes = [r["code"] for r in stored["reasons"]]
    assert codes == ["fact_missing", "override_lapsed"]
    lapse = stored["reasons"][-1]["message"]
    assert lapse.startswith("The override by manager@example.org on ")
    [entry] = audited_decisions(client, manager, stored["id"])
    assert entry["changes"]["after"]["reasons"][-1]["code"] == "override_lapsed"

    # Said once: the next change finds no override covering the request before it either.
    again = patch(client, staff, rid, facts={"has_home_internet": True})["reviews"]
    assert [(r["outcome"], r["override_lapsed"]) for r in again] == [("needs_review", False)]


def test_a_restriction_lapses_an_override_of_an_offered_request(
        client, staff, manager, office):
    tag = make_device(client, staff)
    loan = issue(client, staff, tag, make_recipient(client, staff)).json()
    rid = make_recipient(client, staff, facts=NO_NEED)
    assert client.post(f"{API}/recipients/{rid}/overrides", json={
        "kind": "laptop", "reason": "Starts a college course on Monday"},
        headers=manager).status_code == 201
    request_id = waiting(client, staff, rid)
    assert client.post(f"{API}/loans/{loan['id']}/return", json={"condition": "A"},
                       headers=staff).status_code == 200
    assert client.post(f"{API}/devices/{tag}/wipe", json={
        "method": "factory_reset", "account_lock_removed": True},
        headers=staff).status_code == 200
    assert client.get(f"{API}/waitlist/{request_id}", headers=staff).json()["status"] == \
        "offered"

    [review] = patch(client, staff, rid, device_restriction=True)["reviews"]
    assert (review["request_id"], review["outcome"], review["override_lapsed"]) == (
        request_id, "ineligible", True)
    assert "A licence condition forbids internet-enabled devices" in review["message"]


def test_no_open_request_no_review(client, staff, manager, office):
    rid = make_recipient(client, staff)
    body = patch(client, staff, rid, facts=NO_NEED)
    assert body["reviews"] == []
    assert decisions(client, staff, rid) == []

    # A request closed is no longer reviewed; a change that leaves the answers as they were
    # reviews nothing either.
    shelf_emptied(client, staff)
    other = make_recipient(client, staff)
    request_id = waiting(client, staff, other)
    assert patch(client, staff, other, name="A new name")["reviews"] == []
    assert patch(client, staff, other, facts={"has_suitable_device": False})["reviews"] == []
    assert client.post(f"{API}/waitlist/{request_id}/cancel", json={},
                       headers=staff).status_code == 200
    assert patch(client, staff, other, facts=NO_NEED)["reviews"] == []
    assert decisions(client, staff, other) == []


def test_a_refused_change_reviews_nothing(client, staff, manager, office):
    shelf_emptied(client, staff)
    rid = make_recipient(client, staff)
    waiting(client, staff, rid)
    assert len(patch(client, staff, rid, status="closed")["reviews"]) == 1
    response = client.patch(f"{API}/recipients/{rid}", json={
        "status": "active", "facts": NO_NEED}, headers=staff)
    assert response.status_code == 403
    assert len(decisions(client, staff, rid)) == 1
    # The next change's answer holds its own reviews only.
    assert len(patch(client, staff, rid, facts={"has_home_internet": True})["reviews"]) == 1
