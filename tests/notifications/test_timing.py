"""The sending window, Sundays and bank holidays, backoff, and the rate cap."""

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications.timing import (
    RateLimit,
    next_allowed_time,
    parse_sending_window,
    retry_delay,
    uk_bank_holidays,
)

LONDON = ZoneInfo("Europe/London")
WINDOW = parse_sending_window("09:00-20:00")
ENGLAND = uk_bank_holidays("ENG")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)


@pytest.mark.parametrize("moment, expected", [
    ("2026-12-01 10:30", "2026-12-01 10:30"),  # inside: now
    ("2026-12-01 06:00", "2026-12-01 09:00"),  # before opening
    ("2026-12-01 20:00", "2026-12-02 09:00"),  # the end is exclusive
    ("2026-12-05 21:00", "2026-12-07 09:00"),  # Saturday night: not Sunday, Monday
    ("2026-12-06 12:00", "2026-12-07 09:00"),  # Sunday
    ("2026-12-24 20:30", "2026-12-29 09:00"),  # Christmas, Boxing Day, Sunday, its substitute
    ("2026-06-15 08:59", "2026-06-15 09:00"),  # summer time: 08:00 UTC
])
def test_next_allowed_time(moment, expected):
    assert next_allowed_time(at(moment), LONDON, WINDOW, ENGLAND) == at(expected)


def test_the_result_is_utc_and_summer_time_is_respected():
    result = next_allowed_time(datetime(2026, 6, 15, 5, 0, tzinfo=UTC), LONDON, WINDOW)
    assert result == datetime(2026, 6, 15, 8, 0, tzinfo=UTC) and result.tzinfo == UTC


@pytest.mark.parametrize("text", ["9-20", "20:00-09:00", "09:00-25:00", "", "09:00 20:00"])
def test_a_bad_window_is_refused_with_its_text(text):
    with pytest.raises(ValueError, match="quiet hours"):
        parse_sending_window(text)


def test_windows_parse_with_spaces():
    window = parse_sending_window(" 8:30 - 21:00 ")
    assert (window.start.hour, window.start.minute, window.end.hour) == (8, 30, 21)


def test_backoff_doubles_with_jitter_up_to_an_hour_and_honours_retry_after():
    for attempts in range(1, 12):
        base = min(3600, 60 * 2 ** (attempts - 1))
        delays = {retry_delay(attempts) for _ in range(20)}
        assert all(timedelta(seconds=base / 2) <= d <= timedelta(seconds=base) for d in delays)
        assert len(delays) > 1
    assert retry_delay(1, retry_after=900) == timedelta(seconds=900)


def test_the_rate_limit_is_never_exceeded_by_several_threads():
    limit = RateLimit(4, 0.2)
    finished: list[float] = []

    def send() -> None:
        for _ in range(6):
            limit.acquire()
            started = time.monotonic()
            time.sleep(0.001)
            finished.append(started)
            limit.release()

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(finished) == 18
    assert max(sum(1 for t in finished if s <= t < s + 0.2) for s in finished) <= 4
    with pytest.raises(ValueError):
        RateLimit(0)
