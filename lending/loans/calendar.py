"""Open days: a due date never falls on a day the recipient's office is shut."""

from datetime import date, timedelta
from functools import lru_cache

import holidays

from inventory.models import Location


@lru_cache(maxsize=64)
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=nation, years=year))


def is_open(location: Location, day: date) -> bool:
    return (str(day.isoweekday()) in location.opening_days
            and day not in _bank_holidays(location.nation, day.year))


def next_open_day(location: Location, day: date) -> date:
    """`day` itself if the office opens then, else the next day it does."""
    for _ in range(366):
        if is_open(location, day):
            return day
        day += timedelta(days=1)
    raise ValueError(f"location {location.code} never opens")
