"""Twenty desks giving data at once against ten vouchers, through a real HTTP server: ten
people get one voucher each, ten get a clean 409. Both databases."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from lending.db import session_for
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from lending.vouchers.models import Voucher, VoucherStatus
from notifications.models import Message
from tests.lending.test_loans_helpers import API, NEEDY, POLICY
from tests.lending.test_loans_races import served
from tests.lending.test_vouchers import FUTURE, csv_of


def test_twenty_desks_ten_vouchers(app, engine, manager, office, client):
    response = client.post(f"{API}/vouchers/import", content=csv_of(
        [("LDN", "EE", f"RACE{n:05d}", 20, FUTURE) for n in range(10)]).encode(),
        headers=manager | {"Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    with session_for(engine, actor="test") as session:
        people = [create_recipient(session, RecipientCreate(
            name=f"Person {n}", location="LDN", mobile=f"07911{n:06d}", facts=NEEDY),
            POLICY).id for n in range(20)]
    barrier = threading.Barrier(len(people))

    with served(app) as base:
        def attempt(recipient_id: int) -> httpx.Response:
            with httpx.Client(base_url=base, headers=manager, timeout=60) as http:
                http.get("/health")
                barrier.wait()
                return http.post(f"{API}/recipients/{recipient_id}/vouchers", json={})

        with ThreadPoolExecutor(len(people)) as pool:
            responses = list(pool.map(attempt, people))
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 10, 409: 10}, [r.text for r in responses if r.status_code != 201]
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
    with session_for(engine, actor="test") as session:
        issued = session.execute(select(Voucher.id, Voucher.recipient_id).where(
            Voucher.status == VoucherStatus.issued.value)).all()
        texts = session.scalar(select(func.count()).select_from(Message)
                               .where(Message.kind == "voucher"))
    assert len(issued) == 10 and len({rid for _, rid in issued}) == 10
    assert {r.json()["id"] for r in responses if r.status_code == 201} == {i for i, _ in issued}
    assert texts == 10
