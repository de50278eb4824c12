"""Two `lending serve` instances on one PostgreSQL database, as deployed behind a load
balancer: desks racing to lend the same devices through both never make a double loan."""

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import text

from tests.lending.live import add_account, environment, several
from tests.lending.test_loans_helpers import NEEDY

DEVICES = 12


def test_two_servers_never_lend_one_device_twice(database_url, engine, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("several instances share a PostgreSQL database")
    env = environment(database_url)
    manager = add_account(env, tmp_path, "boss@example.org", "manager")
    with several(env, tmp_path, 2) as urls:
        with httpx.Client(base_url=urls[0], headers=manager, timeout=60) as setup:
            assert setup.post("/api/v1/locations", json={"code": "LDN", "name": "London"}
                              ).status_code == 201
            tags = [setup.post("/api/v1/devices", json={
                "kind": "laptop", "make": "Make", "model": "Model", "location": "LDN"}
            ).json()["asset_tag"] for _ in range(DEVICES)]
            people = [setup.post("/api/v1/recipients", json={
                "name": f"Person {n}", "location": "LDN", "facts": NEEDY}).json()["id"]
                for n in range(2 * DEVICES)]
        answers: list[tuple[str, int]] = []
        start = threading.Barrier(2 * DEVICES)

        def lend(url: str, tag: str, person: int) -> None:
            with httpx.Client(base_url=url, headers=manager, timeout=60) as desk:
                start.wait()
                answer = desk.post("/api/v1/loans", json={"asset_tag": tag,
                                                          "recipient_id": person})
                answers.append((tag, answer.status_code))

        desks = [threading.Thread(target=lend, args=(urls[n % 2], tag, people[2 * i + n]))
                 for i, tag in enumerate(tags) for n in range(2)]
        for desk in desks:
            desk.start()
        for desk in desks:
            desk.join()
    lent = Counter(tag for tag, status in answers if status == 201)
    assert sorted(status for _, status in answers) == [201] * DEVICES + [409] * DEVICES
    assert set(lent.values()) == {1} and len(lent) == DEVICES
    with engine.connect() as connection:
        doubles = connection.scalar(text(
            "SELECT count(*) FROM (SELECT device_id FROM loans WHERE status = 'active' "
            "GROUP BY device_id HAVING count(*) > 1) AS d"))
    assert doubles == 0
