"""Races, against a real HTTP server on loopback: many desks issuing at the same moment.

The server is uvicorn running the app in a thread of this process, on a free port; the
clients are threads with their own connections, released together by a barrier.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import func, select

from inventory.schemas import DeviceCreate
from inventory.service import create_device
from lending.db import session_for
from lending.loans.models import Loan
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from tests.lending.test_loans_helpers import API, NEEDY, POLICY


@contextmanager
def served(app) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def all_at_once(base: str, headers: dict[str, str], bodies: list[dict]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))

    def attempt(body: dict) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            http.get("/health")  # connect first, so that the posts leave together
            barrier.wait()
            return http.post(f"{API}/loans", json=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(attempt, bodies))


def _setup(engine, kinds: list[str], people: int) -> tuple[list[str], list[int]]:
    with session_for(engine, actor="test") as session:
        tags = [create_device(session, DeviceCreate(kind=kind, make="M", model="X",
                                                    location="LDN")).asset_tag
                for kind in kinds]
        ids = [create_recipient(session, RecipientCreate(
            name=f"Person {n}", location="LDN", facts=NEEDY), POLICY).id
            for n in range(people)]
    return tags, ids


def test_fifty_desks_one_device_one_loan(app, engine, staff, office):
    (tag,), people = _setup(engine, ["laptop"], 50)
    with served(app) as base:
        responses = all_at_once(base, staff, [{"asset_tag": tag, "recipient_id": rid}
                                              for rid in people])
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: 49}, [r.text for r in responses if r.status_code >= 500]
    for response in responses:
        if response.status_code == 409:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"][0]["field"] == "asset_tag"
            assert "on_loan" in response.json()["detail"] or \
                "a moment ago" in response.json()["detail"]
    with session_for(engine) as session:
        assert session.scalar(select(func.count()).select_from(Loan)) == 1


def test_one_recipient_many_desks_keeps_the_loan_limits(app, engine, staff, office):
    laptops, (first, second) = _setup(engine, ["laptop"] * 10, 2)
    mixed, _ = _setup(engine, ["laptop", "tablet", "hotspot", "phone"], 0)
    with served(app) as base:
        same_kind = all_at_once(base, staff, [{"asset_tag": tag, "recipient_id": first}
                                              for tag in laptops])
        any_kind = all_at_once(base, staff, [{"asset_tag": tag, "recipient_id": second}
                                             for tag in mixed])
    assert Counter(r.status_code for r in same_kind) == {201: 1, 422: 9}
    assert all(r.json()["reasons"][0]["code"] == "kind_limit_reached"
               for r in same_kind if r.status_code == 422)
    limit = POLICY.total_active_loan_limit
    assert Counter(r.status_code for r in any_kind) == {201: limit, 422: 4 - limit}
    assert all("total_limit_reached" in [x["code"] for x in r.json()["reasons"]]
               for r in any_kind if r.status_code == 422)
    with session_for(engine) as session:
        assert session.scalar(select(func.count()).select_from(Loan)) == 1 + limit
