"""Banned days: Sundays and holidays of states that ban solicitation on them, plus run-time
additions (governor-declared holidays, emergencies) stored in the ``banned_dates`` table."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
import numpy as np

from optimizer.compliance.model import BannedDay

EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (the local-day numbering of :mod:`localtime`)."""
    return day.toordinal() - EPOCH_ORDINAL


def day_from_number(number: int) -> dt.date:
    return dt.date.fromordinal(number + EPOCH_ORDINAL)


@lru_cache(maxsize=1024)
def _holidays(state: str, year: int) -> tuple[tuple[int, str], ...]:
    try:
        table = holidays.country_holidays("US", subdiv=state, years=year)
    except NotImplementedError:
        table = holidays.country_holidays("US", years=year)
    return tuple(sorted((day_number(day), str(name)) for day, name in table.items()))


@lru_cache(maxsize=1024)
def holiday_days(state: str, first_year: int, last_year: int) -> np.ndarray:
    """Federal and state holidays (observed days included) as day numbers."""
    days = [n for year in range(first_year, last_year + 1) for n, _ in _holidays(state, year)]
    return np.array(sorted(set(days)), dtype=np.int64)


def holiday_name(state: str, day: dt.date) -> str | None:
    for number, name in _holidays(state, day.year):
        if number == day_number(day):
            return name
    return None


def extra_days(extra: tuple[BannedDay, ...], state: str) -> np.ndarray:
    """Run-time banned days that apply to ``state`` (state ``US`` applies to every state)."""
    return np.array(
        sorted({day_number(b.day) for b in extra if b.state.upper() in (state, "US")}),
        dtype=np.int64,
    )
