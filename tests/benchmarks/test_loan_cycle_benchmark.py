"""Loan speed: issue-and-return cycles over HTTP against a real server on loopback.

A cycle is a loan's life at the desk: issue a device (POST /loans) and take it back
(POST /loans/{id}/return). Each desk has a recipient of its own and a shelf of devices, one
per cycle (a returned device waits for its wipe, which is not part of the cycle).
The service runs in a uvicorn subprocess (`lending.app:create_app`, factory
mode). The floor is a minimal Litestar app in the same kind of subprocess, on the same
database, doing the same reads and writes in hand-written SQL: the token lookup, the
recipient and device locks, the loan counts the policy needs, the decision, the loan, the
device status, the waitlist look-ups, the audit rows, and the texts (the receipt written
with the loan, called off by the return, the survey written with the return; every desk's
recipient has a mobile). The ratio is the service's cycles per second over the floor's.

Run with `make bench`, or:
    .venv/bin/pytest tests/benchmarks/test_loan_cycle_benchmark.py -s -o addopts=""
"""

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from eligibility import load_policy
from inventory.schemas import LocationCreate
from inventory.service import create_location, import_devices
from lending.db import session_for
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from tests.conftest import add_user

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = (1, 4)
CYCLES_PER_CLIENT = 60
WARM_UP = 5
ROUNDS = 2
GOAL = 0.5
NEEDY = {"has_suitable_device": False, "has_home_internet": False, "can_afford_data": False,
         "referred_by_practitioner": True}


# --- the floor: a minimal Litestar app with hand-written SQL ------------------------------

def floor_app():
    """The same reads and writes as the service's issue and return, by hand."""
    from litestar import Litestar, Request, post
    from litestar.exceptions import NotAuthorizedException
    from litestar.response import Response

    from lending.db import make_engine

    engine = make_engine(os.environ["LENDING_DATABASE_URL"])
    pg = engine.dialect.name == "postgresql"

    def lock_of(*tables: str) -> str:
        return f" FOR UPDATE OF {', '.join(tables)}" if pg else ""

    as_json = "CAST(:changes AS JSON)" if pg else ":changes"
    text_sql = text(
        "INSERT INTO outbox (key, \"to\", language, kind, body, status, attempts,"
        " next_attempt_at, reference, recipient_id, loan_id, created_at, updated_at)"
        " SELECT :key, r.mobile, r.language, :kind, 'Hi ' || r.name || ', your ' || d.kind"
        " || ' is due back on ' || CAST(l.due_on AS TEXT) || ' at ' || o.name, 'queued', 0,"
        " :at, :reference, r.id, l.id, :at, :at FROM loans l JOIN recipients r ON"
        " r.id = l.recipient_id JOIN devices d ON d.id = l.device_id JOIN locations o ON"
        " o.id = d.location_id WHERE l.id = :loan AND r.mobile IS NOT NULL"
        " ON CONFLICT (key) DO NOTHING")

    def write_text(connection, loan_id: int, kind: str, at: datetime) -> None:
        connection.execute(text_sql, {"key": f"loan:{loan_id}:{kind}", "kind": kind,
                                      "at": at, "reference": os.urandom(16).hex(),
                                      "loan": loan_id})

    audit_sql = text("INSERT INTO audit_entries (at, actor_id, actor, action, entity, "
                     f"entity_id, changes) VALUES (:at, :actor_id, :actor, :action, :entity, "
                     f":entity_id, {as_json})")

    def user_of(request: Request) -> tuple[int, str]:
        secret = request.headers.get("authorization", "").partition(" ")[2]
        with engine.begin() as connection:
            row = connection.execute(text(
                "SELECT u.id, u.email, t.revoked_at, u.active FROM tokens t JOIN users u"
                " ON u.id = t.user_id WHERE t.secret_hash = :h"),
                {"h": hashlib.sha256(secret.encode()).hexdigest()}).first()
        if row is None or row.revoked_at or not row.active:
            raise NotAuthorizedException()
        return row.id, row.email

    def audit(connection, user, entries):
        """One statement for the transaction's audit rows, as the service's listener."""
        at = datetime.now(UTC)
        connection.execute(audit_sql, [
            {"at": at, "actor_id": user[0], "actor": user[1], "action": action,
             "entity": entity, "entity_id": str(entity_id), "changes": json.dumps(changes)}
            for action, entity, entity_id, changes in entries])

    def plain(body: dict) -> dict:
        return {k: v.isoformat() if isinstance(v, datetime | date) else v
                for k, v in body.items()}

    @post("/loans", sync_to_thread=True)
    def issue(request: Request, data: dict) -> Response:
        user = user_of(request)
        now = datetime.now(UTC)
        today = now.date()
        with engine.begin() as c:
            recipient = c.execute(text(
                "SELECT r.id, r.name, r.facts, r.status, r.device_restriction,"
                " r.location_id, loc.code, loc.nation, loc.opening_days, EXISTS (SELECT 1"
                " FROM waitlist_requests w WHERE w.recipient_id = r.id AND w.status IN"
                " ('waiting', 'offered')) AS waiting FROM recipients r JOIN locations loc"
                f" ON loc.id = r.location_id WHERE r.id = :id{lock_of('r')}"),
                {"id": data["recipient_id"]}).one()
            device = c.execute(text(
                "SELECT d.id, d.asset_tag, d.kind, d.make, d.model, d.status, w.recipient_id"
                " AS held_for FROM devices d LEFT JOIN waitlist_requests w ON"
                " w.offered_device_id = d.id AND w.status = 'offered' WHERE d.asset_tag = :t"
                f"{lock_of('d')}"), {"t": data["asset_tag"]}).one()
            if device.status != "available":
                return Response({"detail": device.status}, status_code=409)
            loans = c.execute(text(
                "SELECT d.kind, l.status, l.due_on, l.lost_at FROM loans l JOIN devices d"
                " ON d.id = l.device_id WHERE l.recipient_id = :r"
                " AND l.status IN ('active', 'lost')"), {"r": recipient.id}).all()
            if any(row.status == "active" and row.kind == device.kind for row in loans):
                return Response({"detail": "limit"}, status_code=422)
            due_on = today + timedelta(days=28)
            reasons = [{"code": "need_shown", "message": "No suitable device of their own"}]
            facts = {"facts": NEEDY, "recipient_active": True, "device_restriction": False,
                     "active_loans_by_kind": {}, "overdue_loans": 0, "last_lost_on": None,
                     "today": today.isoformat()}
            loan = {"device_id": device.id, "recipient_id": recipient.id, "status": "active",
                    "issued_at": now, "issued_by": user[1], "due_on": due_on, "renewals": 0,
                    "accessories": [], "agreement_accepted_at": now,
                    "missing_accessories": [], "return_notes": "", "stolen": False,
                    "lost_notes": ""}
            loan_id = c.execute(text(
                "INSERT INTO loans (device_id, recipient_id, status, issued_at, issued_by,"
                " due_on, renewals, accessories, agreement_accepted_at, missing_accessories,"
                " return_notes, stolen, lost_notes) VALUES (:device_id, :recipient_id,"
                " 'active', :issued_at, :issued_by, :due_on, 0, '[]', :agreement_accepted_at,"
                " '[]', '', false, '') RETURNING id"), loan).scalar_one()
            decision_id = c.execute(text(
                "INSERT INTO eligibility_decisions (recipient_id, kind, outcome, reasons,"
                " policy_version, facts, overridable, decided_at, decided_by, purpose,"
                f" loan_id) VALUES (:r, :k, 'eligible', {as_json.replace('changes', 'reasons')},"
                f" 'default-2025.1', {as_json.replace('changes', 'facts')}, true, :at, :by,"
                " 'issue', :loan) RETURNING id"),
                {"r": recipient.id, "k": device.kind, "reasons": json.dumps(reasons),
                 "facts": json.dumps(facts), "at": now, "by": user[1], "loan": loan_id}
            ).scalar_one()
            c.execute(text("UPDATE devices SET status = 'on_loan' WHERE id = :id"),
                      {"id": device.id})
            write_text(c, loan_id, "loan_receipt", now)
            audit(c, user, [
                ("create", "loan", loan_id, {"after": plain(loan)}),
                ("create", "eligibility_decision", decision_id,
                 {"after": {"outcome": "eligible", "reasons": reasons, "facts": facts,
                            "loan_id": loan_id}}),
                ("status", "device", device.id, {"status": ["available", "on_loan"]})])
        body = {"id": loan_id, "asset_tag": device.asset_tag, "kind": device.kind,
                "make": device.make, "model": device.model, "recipient_name": recipient.name,
                "location": recipient.code, "with_loan_id": None, "returned_at": None,
                "overdue": False, **loan}
        return Response(plain(body), status_code=201)

    @post("/loans/{loan_id:int}/return", sync_to_thread=True, status_code=200)
    def give_back(request: Request, loan_id: int, data: dict) -> dict:
        user = user_of(request)
        now = datetime.now(UTC)
        with engine.begin() as c:
            row = c.execute(text(
                "SELECT l.*, d.asset_tag, d.kind, d.make, d.model, d.status AS device_status,"
                " r.name AS recipient_name, loc.code AS location FROM loans l JOIN devices d"
                " ON d.id = l.device_id JOIN recipients r ON r.id = l.recipient_id JOIN"
                f" locations loc ON loc.id = r.location_id WHERE l.id = :id{lock_of('l', 'd')}"),
                {"id": loan_id}).one()
            c.execute(text("UPDATE devices SET status = 'awaiting_wipe', condition = :g"
                           " WHERE id = :id"), {"g": data["condition"], "id": row.device_id})
            c.execute(text("UPDATE loans SET status = 'returned', returned_at = :at,"
                           " returned_condition = :g, missing_accessories = '[]',"
                           " return_notes = '' WHERE id = :id"),
                      {"at": now, "g": data["condition"], "id": loan_id})
            c.execute(text("UPDATE outbox SET status = 'cancelled', error_code = 'superseded',"
                           " updated_at = :at WHERE status = 'queued' AND loan_id = :id AND"
                           " kind NOT IN ('survey', 'thanks', 'survey_again')"),
                      {"at": now, "id": loan_id})
            write_text(c, loan_id, "survey", now)
            audit(c, user, [
                ("status", "device", row.device_id, {"status": ["on_loan", "awaiting_wipe"]}),
                ("status", "loan", loan_id, {"status": ["active", "returned"],
                                             "returned_at": [None, now.isoformat()]})])
        body = dict(row._mapping)
        body.update(status="returned", returned_at=now, returned_condition=data["condition"],
                    overdue=False)
        return plain(body)

    from litestar import Router
    return Litestar(route_handlers=[Router("/api/v1", route_handlers=[issue, give_back])],
                    debug=False)


# --- the harness ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A uvicorn subprocess serving an app factory on loopback."""

    def __init__(self, factory: str, database_url: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LENDING_DATABASE_URL": database_url, "LENDING_SCHEDULER": "off",
               # The tests' secret: it opens the recipient keys the set-up made.
               "LENDING_SECRET_KEY": "test-secret", "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                assert self.process.poll() is None, f"{factory} did not start"
                assert time.monotonic() < deadline, f"{factory} did not start in time"
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def cycle(http: httpx.Client, tag: str, recipient_id: int) -> None:
    issued = http.post("/api/v1/loans", json={"asset_tag": tag, "recipient_id": recipient_id})
    assert issued.status_code == 201, issued.text
    returned = http.post(f"/api/v1/loans/{issued.json()['id']}/return",
                         json={"condition": "A"})
    assert returned.status_code == 200, returned.text


def cycles_per_second(base: str, headers: dict, desks: list[tuple[Iterator[str], int]]
                      ) -> float:
    """Each desk (a recipient and a shelf of devices) runs its cycles in its own thread."""
    clients = [httpx.Client(base_url=base, headers=headers, timeout=60) for _ in desks]
    for http, (shelf, rid) in zip(clients, desks, strict=True):
        for _ in range(WARM_UP):
            cycle(http, next(shelf), rid)
    barrier = threading.Barrier(len(desks) + 1)
    failures = []

    def run(http, shelf, rid):
        barrier.wait()
        try:
            for _ in range(CYCLES_PER_CLIENT):
                cycle(http, next(shelf), rid)
        except Exception as error:  # reported below, so that a failure is not a hang
            failures.append(error)

    threads = [threading.Thread(target=run, args=(http, shelf, rid))
               for http, (shelf, rid) in zip(clients, desks, strict=True)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    for http in clients:
        http.close()
    assert not failures, failures[0]
    return len(desks) * CYCLES_PER_CLIENT / elapsed


def test_issue_and_return_cycles(engine, database_url):
    runs = ROUNDS * 2  # each round runs the service and the floor
    shelf_sizes = [runs * (WARM_UP + CYCLES_PER_CLIENT) * sum(clients > n for clients in CLIENTS)
                   for n in range(max(CLIENTS))]
    with session_for(engine, actor="bench") as session:
        create_location(session, LocationCreate(code="LDN", name="London"))
        policy = load_policy()
        recipients = [create_recipient(session, RecipientCreate(
            name=f"Bench {n}", location="LDN", mobile=f"07700 900{n:03d}", facts=NEEDY),
            policy).id
            for n in range(max(CLIENTS))]
        csv = "kind,make,model,location\n" + "laptop,Make,Bench,LDN\n" * sum(shelf_sizes)
        tags = iter(import_devices(session, csv))
    desks = [(iter([next(tags) for _ in range(size)]), rid)
             for size, rid in zip(shelf_sizes, recipients, strict=True)]
    headers = add_user(engine, "bench@example.org", "staff")
    backend = engine.dialect.name
    with engine.connect() as connection:  # nothing else holds the database
        connection.execute(text("SELECT 1"))
    engine.dispose()

    results = {}
    for clients in CLIENTS:
        best = {"service": 0.0, "floor": 0.0}
        for _ in range(ROUNDS):
            for name, factory in (("service", "lending.app:create_app"),
                                  ("floor", "tests.benchmarks.test_loan_cycle_benchmark:"
                                            "floor_app")):
                server = Server(factory, database_url)
                try:
                    rate = cycles_per_second(server.base, headers, desks[:clients])
                finally:
                    server.stop()
                best[name] = max(best[name], rate)
        results[clients] = best
        ratio = best["service"] / best["floor"]
        print(f"\n[{backend}] issue-and-return cycles, {clients} desk(s): service "
              f"{best['service']:.1f}/s, floor {best['floor']:.1f}/s, ratio {ratio:.2f}x "
              f"(goal >= {GOAL}x)")
    for clients, best in results.items():
        assert best["service"] / best["floor"] >= GOAL, (backend, clients, best)
