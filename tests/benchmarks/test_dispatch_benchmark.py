"""Dispatch speed: queued texts sent to a GOV.UK Notify stand-in on loopback.

Goals: at least 50 texts a second sustained, with every text claimed, sent outside the
transaction and recorded, one at a time; and a configured rate cap never exceeded in any
window, measured where the provider measures it, on arrival. The floor is the same
requests made by hand (a signed token and a POST per text, no database), in the same run.

Run with `make bench`, or:
    .venv/bin/pytest tests/benchmarks/test_dispatch_benchmark.py -s -o addopts=""
"""

import time
from datetime import UTC, datetime

import httpx
import pytest

from lending.db import session_for
from notifications.service import dispatch, queue_message
from notifications.timing import RateLimit
from tests.notifications.conftest import notify_for
from tests.notifications.standins import NotifyStandIn

TEXTS = 600
GOAL_PER_SECOND = 50
CAP, CAP_WINDOW, CAPPED_TEXTS = 40, 1.0, 130
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def standin():
    with NotifyStandIn() as standin:
        yield standin


def queue_texts(engine, count: int, prefix: str) -> None:
    with session_for(engine, actor="bench") as session:
        for index in range(count):
            queue_message(session, key=f"{prefix}:{index}", to="+447700900123",
                          language="en", kind="due_soon",
                          body=f"Hi Sam, your laptop is due back on Thursday 3 December at "
                               f"Leeds Hub. Need longer? Reply MORE. ({index})", now=NOW)
        session.commit()


def floor_per_second(standin: NotifyStandIn, count: int) -> float:
    provider = notify_for(standin)
    payload = {"phone_number": "+447700900123", "template_id": standin.template_id,
               "personalisation": {"body": "floor"}}
    with httpx.Client(base_url=standin.base_url) as client:
        started = time.perf_counter()
        for index in range(count):
            response = client.post("/v2/notifications/sms", headers=provider._headers(),
                                   json={**payload, "reference": f"floor-{index}"})
            assert response.status_code == 201
        elapsed = time.perf_counter() - started
    provider.close()
    return count / elapsed


def test_dispatch_throughput(engine, standin):
    queue_texts(engine, TEXTS, "bench")
    floor = floor_per_second(standin, 200)
    provider = notify_for(standin)
    started = time.perf_counter()
    report = dispatch(engine, provider, now=NOW, limit=TEXTS,
                      rate_limit=RateLimit(10**6, 60.0))
    elapsed = time.perf_counter() - started
    provider.close()
    per_second = TEXTS / elapsed
    print(f"\n[{engine.dialect.name}] dispatch: {TEXTS} texts in {elapsed:.2f} s = "
          f"{per_second:.0f}/s; floor (bare HTTP, no database) {floor:.0f}/s; "
          f"ratio {per_second / floor:.2f}")
    assert report.sent == TEXTS
    references = [item["reference"] for item in standin.accepted
                  if not item["reference"].startswith("floor-")]
    assert len(references) == len(set(references)) == TEXTS
    assert per_second >= GOAL_PER_SECOND


def test_the_rate_cap_is_never_exceeded(engine, standin):
    queue_texts(engine, CAPPED_TEXTS, "capped")
    provider = notify_for(standin)
    started = time.perf_counter()
    report = dispatch(engine, provider, now=NOW, limit=CAPPED_TEXTS,
                      rate_limit=RateLimit(CAP, CAP_WINDOW))
    elapsed = time.perf_counter() - started
    provider.close()
    arrivals = standin.arrivals
    busiest = max(sum(1 for later in arrivals if start <= later < start + CAP_WINDOW)
                  for start in arrivals)
    print(f"\n[{engine.dialect.name}] rate cap {CAP} per {CAP_WINDOW:.0f} s: "
          f"{CAPPED_TEXTS} texts in {elapsed:.2f} s ({CAPPED_TEXTS / elapsed:.1f}/s); "
          f"busiest window {busiest}")
    assert report.sent == CAPPED_TEXTS
    assert busiest <= CAP
    # The cap is a ceiling, not a brake: the texts go at close to the capped rate.
    assert elapsed < (CAPPED_TEXTS / CAP + 1) * CAP_WINDOW * 1.5
