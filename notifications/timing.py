"""When a text may go: the sending window (`LENDING_QUIET_HOURS`), Sundays and bank
holidays, the retry backoff, and the cap on texts a minute."""

import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

SUNDAY = 6


@dataclass(frozen=True)
class SendingWindow:
    """The local hours in which texts may be sent, e.g. 09:00 to 20:00."""

    start: clock_time
    end: clock_time


def parse_sending_window(text: str) -> SendingWindow:
    """"09:00-20:00" as a `SendingWindow`; a ValueError names what is wrong."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"quiet hours {text!r}: expected HH:MM-HH:MM, e.g. 09:00-20:00")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    try:
        window = SendingWindow(clock_time(start_h, start_m), clock_time(end_h, end_m))
    except ValueError as error:
        raise ValueError(f"quiet hours {text!r}: {error}") from None
    if window.start >= window.end:
        raise ValueError(f"quiet hours {text!r}: the start must come before the end")
    return window


def uk_bank_holidays(nation: str = "ENG") -> Container[date]:
    """The bank holidays of a UK nation (ENG, WLS, SCT or NIR), any year."""
    return holiday_calendars.country_holidays("GB", subdiv=nation)


def next_allowed_time(now: datetime, zone: ZoneInfo, window: SendingWindow,
                      closed_days: Container[date] = ()) -> datetime:
    """The first moment at or after `now` inside the window, local time in `zone`, on a day
    that is neither a Sunday nor in `closed_days` (bank holidays). Aware UTC."""
    local = now.astimezone(zone)
    day = local.date()
    for _ in range(400):
        if day.weekday() != SUNDAY and day not in closed_days:
            opens = datetime.combine(day, window.start, tzinfo=zone)
            closes = datetime.combine(day, window.end, tzinfo=zone)
            if local < opens:
                return opens.astimezone(UTC)
            if local < closes:
                return now.astimezone(UTC)
        day += timedelta(days=1)
        local = datetime.combine(day, clock_time(0), tzinfo=zone)
    raise ValueError("no allowed sending time within a year")


MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 60.0
LONGEST_RETRY_SECONDS = 3600.0


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after the `attempts`-th try: doubling from a minute up to an hour,
    with jitter (half fixed, half random) so that many retries do not arrive together, and
    never sooner than the provider asked."""
    base = min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    seconds = base / 2 + random.uniform(0, base / 2)
    return timedelta(seconds=max(seconds, retry_after or 0.0))


class RateLimit:
    """At most `limit` sends in any `window` seconds, however many threads share it.

    A send holds a slot from before it starts until `window` seconds after it has finished,
    so a provider counting arrivals can never see more than `limit` in one window."""

    def __init__(self, limit: int = 3000, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs a positive limit and window")
        self.limit, self.window, self.clock = limit, window, clock
        self._finished: deque[float] = deque()
        self._in_flight = 0
        self._changed = threading.Condition()

    def acquire(self) -> None:
        with self._changed:
            while True:
                now = self.clock()
                while self._finished and self._finished[0] <= now - self.window:
                    self._finished.popleft()
                if len(self._finished) + self._in_flight < self.limit:
                    self._in_flight += 1
                    return
                wait = (self._finished[0] + self.window - now) if self._finished else None
                self._changed.wait(timeout=wait)

    def release(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._finished.append(self.clock())
            self._changed.notify_all()


# Notify allows 3,000 texts a minute; the dispatcher of a process shares this one.
DEFAULT_RATE_LIMIT = RateLimit(3000, 60.0)
