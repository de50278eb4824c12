"""Two `lending serve` instances on one PostgreSQL database, as deployed behind a load
balancer: desks racing to lend the same devices through both never make a double loan;
with two `lending scheduler` processes beside them, every text due goes out exactly once."""

import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from notifications.timing import uk_bank_holidays
from tests.lending.live import add_account, environment, scheduling, several
from tests.lending.test_loans_helpers import NEEDY
from tests.notifications.standins import NotifyStandIn

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


def sending_zone(now: datetime) -> str | None:
    """A fixed-offset zone in which `now` is a sending day (not a Sunday, not an English
    bank holiday) far from midnight, so that with quiet hours of 00:00-23:59 every due
    text may go at once, whenever the test runs; None in the rare hour when no zone is."""
    best = None
    holidays = uk_bank_holidays("ENG")
    for offset in range(-12, 15):
        name = f"Etc/GMT{-offset:+d}"  # the Etc zones' signs are reversed
        local = now.astimezone(ZoneInfo(name))
        minutes = local.hour * 60 + local.minute
        if local.weekday() == 6 or local.date() in holidays or not 60 <= minutes <= 1380:
            continue
        distance = abs(minutes - 720)
        if best is None or distance < best[0]:
            best = (distance, name)
    return best[1] if best else None


# How each group's loans are due, in days from today, and the reminder each is due today.
REMINDER_DUE = {"due_soon": 2, "due_today": 0, "overdue": -1, "final_overdue": -7, None: 10}
PER_GROUP = 3
LENT_WHILE_RUNNING = 4


def test_two_schedulers_send_every_due_text_exactly_once(database_url, engine, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("several instances share a PostgreSQL database")
    zone = sending_zone(datetime.now(UTC))
    if zone is None:
        pytest.skip("no time zone has a sending day at this hour (Christmas)")
    with NotifyStandIn() as notify:
        env = environment(
            database_url, LENDING_SMS_PROVIDER="notify", LENDING_NOTIFY_API_KEY=notify.api_key,
            LENDING_NOTIFY_TEMPLATE_ID=notify.template_id,
            LENDING_NOTIFY_BASE_URL=notify.base_url, LENDING_SMS_INTERVAL_SECONDS="1",
            LENDING_QUIET_HOURS="00:00-23:59", LENDING_TIMEZONE=zone)
        manager = add_account(env, tmp_path, "boss@example.org", "manager")
        loans: dict[int, str | None] = {}  # loan id: the reminder it is due
        with several(env, tmp_path, 2) as urls:
            desks = [httpx.Client(base_url=url, headers=manager, timeout=60) for url in urls]

            def lend(n: int) -> int:
                desk = desks[n % 2]  # through both servers
                tag = desk.post("/api/v1/devices", json={
                    "kind": "laptop", "make": "Make", "model": "Model", "location": "LDN"}
                ).json()["asset_tag"]
                person = desk.post("/api/v1/recipients", json={
                    "name": f"Person {n}", "location": "LDN", "facts": NEEDY,
                    "mobile": f"07400 {700100 + n}"}).json()["id"]
                loan = desk.post("/api/v1/loans", json={"asset_tag": tag,
                                                        "recipient_id": person})
                assert loan.status_code == 201, loan.text
                return loan.json()["id"]

            assert desks[0].post("/api/v1/locations", json={
                "code": "LDN", "name": "London"}).status_code == 201
            for n, reminder in enumerate(r for r in REMINDER_DUE for _ in range(PER_GROUP)):
                loans[lend(n)] = reminder
            today = datetime.now(ZoneInfo(zone)).date()
            with engine.begin() as connection:
                for loan_id, reminder in loans.items():
                    connection.execute(text("UPDATE loans SET due_on = :day WHERE id = :id"), {
                        "day": today + timedelta(days=REMINDER_DUE[reminder]), "id": loan_id})
            with ExitStack() as stack:
                schedulers = [stack.enter_context(scheduling(env, tmp_path, f"scheduler{n}"))
                              for n in range(2)]
                deadline = time.monotonic() + 40

                def wait_for(count: int) -> None:
                    while len(notify.accepted) < count and time.monotonic() < deadline:
                        assert all(s.poll() is None for s in schedulers), "a scheduler stopped"
                        time.sleep(0.2)

                wait_for(len(loans) + 4 * PER_GROUP)  # the first pass has sent
                # More loans while both schedulers run: their receipts go in later passes,
                # whichever scheduler holds the lock then.
                for n in range(len(loans), len(loans) + LENT_WHILE_RUNNING):
                    loans[lend(n)] = None
                    time.sleep(0.7)
                expected = {f"loan:{loan_id}:loan_receipt" for loan_id in loans} | {
                    f"loan:{loan_id}:{reminder}:{today + timedelta(days=REMINDER_DUE[reminder])}"
                    for loan_id, reminder in loans.items() if reminder}
                wait_for(len(expected))
                time.sleep(3)  # a few more passes of both: anything sent twice shows now
                assert all(s.poll() is None for s in schedulers), "a scheduler stopped"
            for desk in desks:
                desk.close()
    with engine.connect() as connection:
        outbox = connection.execute(text(
            "SELECT key, reference, status, \"to\" FROM outbox")).all()
    logs = "\n".join((tmp_path / f"scheduler{n}.log").read_text()[-2000:] for n in range(2))
    assert notify.problems == []
    sent = Counter(item["reference"] for item in notify.accepted)
    assert [ref for ref, times in sent.items() if times > 1] == [], "sent twice"
    key_of = {row.reference: row.key for row in outbox}
    assert {key_of[ref] for ref in sent} == expected, logs
    assert len(notify.accepted) == len(expected) == len(loans) + 4 * PER_GROUP
    assert {row.key for row in outbox} == expected
    assert {row.status for row in outbox} == {"sent"}
    # Each person got their receipt, and their reminder if one was due: no more.
    per_number = Counter(item["to"] for item in notify.accepted)
    assert sorted(per_number.values()) == sorted(
        1 + (reminder is not None) for reminder in loans.values())
