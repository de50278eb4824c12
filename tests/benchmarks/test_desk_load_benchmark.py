"""Desk load: 50 simulated desks for 60 seconds on loopback, the mix a busy office makes:
scan look-ups (GET /api/v1/devices/{tag}) 60%, issues 20%, returns 20%. Reports
throughput, p50/p95/p99 latency and errors (the goal: none), on SQLite with one instance
and on PostgreSQL with two (desks alternate between them, as behind a load balancer).

Run with `make bench`, or:
    .venv/bin/pytest tests/benchmarks/test_desk_load_benchmark.py -s -o addopts=""
LENDING_BENCH_SECONDS and LENDING_BENCH_USERS change the duration and the number of desks.
"""

import os
import random
import statistics
import threading
import time
from collections import deque

import httpx
from sqlalchemy import text

from eligibility import load_policy
from inventory.schemas import LocationCreate
from inventory.service import create_location, import_devices
from lending.db import session_for
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from tests.benchmarks.test_loan_cycle_benchmark import NEEDY, Server
from tests.conftest import add_user

SECONDS = float(os.environ.get("LENDING_BENCH_SECONDS", 60))
USERS = int(os.environ.get("LENDING_BENCH_USERS", 50))
PEOPLE_PER_DESK = 4
MIX = {"look_up": 60, "issue": 20, "return": 20}


class Desk:
    """One member of staff: their own people to lend to, their loans out, their timings."""

    def __init__(self, base: str, headers: dict, people: list[int], shelf: deque,
                 tags: list[str], seed: int) -> None:
        self.http = httpx.Client(base_url=base, headers=headers, timeout=60)
        self.free_people = list(people)
        self.loans: deque[tuple[int, int]] = deque()
        self.shelf, self.tags = shelf, tags
        self.random = random.Random(seed)
        self.timings: dict[str, list[float]] = {name: [] for name in MIX}
        self.errors: list[str] = []

    def one(self) -> None:
        what = self.random.choices(list(MIX), weights=list(MIX.values()))[0]
        if what == "return" and not self.loans:
            what = "issue"
        if what == "issue" and (not self.free_people or not self.shelf):
            what = "return" if self.loans else "look_up"
        started = time.perf_counter()
        if what == "look_up":
            response = self.http.get(f"/api/v1/devices/{self.random.choice(self.tags)}")
            ok = response.status_code == 200
        elif what == "issue":
            person = self.free_people.pop()
            response = self.http.post("/api/v1/loans", json={
                "asset_tag": self.shelf.popleft(), "recipient_id": person})
            ok = response.status_code == 201
            if ok:
                self.loans.append((response.json()["id"], person))
            else:
                self.free_people.append(person)
        else:
            loan_id, person = self.loans.popleft()
            response = self.http.post(f"/api/v1/loans/{loan_id}/return",
                                      json={"condition": "A"})
            ok = response.status_code == 200
            self.free_people.append(person)
        self.timings[what].append(time.perf_counter() - started)
        if not ok:
            self.errors.append(f"{what}: {response.status_code} {response.text[:200]}")

    def run(self, until: float) -> None:
        try:
            while time.perf_counter() < until:
                self.one()
        except Exception as error:  # counted, so that one failure does not hang the run
            self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            self.http.close()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def test_desk_load(engine, database_url):
    backend = engine.dialect.name
    instances = 2 if backend == "postgresql" else 1
    devices = int(USERS * SECONDS * 2) + 200  # more than the issues the run can make
    with session_for(engine, actor="bench") as session:
        create_location(session, LocationCreate(code="LDN", name="London"))
        policy = load_policy()
        people = [create_recipient(session, RecipientCreate(
            name=f"Desk person {n}", location="LDN", facts=NEEDY), policy).id
            for n in range(USERS * PEOPLE_PER_DESK)]
        tags = import_devices(session, "kind,make,model,location\n"
                              + "laptop,Make,Bench,LDN\n" * devices)
    headers = add_user(engine, "desk@example.org", "staff")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    shelf = deque(tags)  # popleft is atomic: no device is handed to two desks

    servers = [Server("lending.app:create_app", database_url) for _ in range(instances)]
    try:
        desks = [Desk(servers[n % instances].base, headers,
                      people[n * PEOPLE_PER_DESK:(n + 1) * PEOPLE_PER_DESK], shelf, tags, n)
                 for n in range(USERS)]
        until = time.perf_counter() + SECONDS
        threads = [threading.Thread(target=desk.run, args=(until,)) for desk in desks]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        for server in servers:
            server.stop()

    every = [t for desk in desks for times in desk.timings.values() for t in times]
    errors = [e for desk in desks for e in desk.errors]
    print(f"\ndesk load on {backend}, {instances} instance(s), {USERS} desks, "
          f"{elapsed:.0f} s: {len(every) / elapsed:.1f} requests/s, "
          f"p50 {_percentile(every, 0.50):.0f} ms, p95 {_percentile(every, 0.95):.0f} ms, "
          f"p99 {_percentile(every, 0.99):.0f} ms, {len(errors)} error(s)")
    for what in MIX:
        times = [t for desk in desks for t in desk.timings[what]]
        if times:
            print(f"  {what:8} {len(times):6} requests, p50 {_percentile(times, 0.5):.0f} ms, "
                  f"p95 {_percentile(times, 0.95):.0f} ms, p99 {_percentile(times, 0.99):.0f}"
                  f" ms, mean {statistics.mean(times) * 1000:.0f} ms")
    for error in errors[:5]:
        print("  error:", error)
    assert not errors, f"{len(errors)} error(s), the first: {errors[0]}"
