"""The simulator's own compliance checker, written apart from the gate so that it can catch it.

It never imports ``optimizer.compliance``: the state windows below are typed in from
docs/compliance-rules.md section 3 (local hours [start, end), every candidate zone of the number,
the area code's state), holidays come straight from the ``holidays`` package. It counts texts
*delivered* inside legal quiet hours or on a banned day (marketing texts), after an opt-out (any
text but one non-marketing confirmation within the grace period), or without consent (marketing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays
import numpy as np

from optimizer.simulation.geography import DAY, HOUR, ZoneClock, area_codes

FEDERAL = (8, 21)
OK, QUIET_HOURS, BANNED_DAY = 0, 1, 2
VIOLATION_KINDS = ("quiet_hours", "banned_day", "after_opt_out", "no_consent")


@dataclass(frozen=True)
class StateRule:
    weekday: tuple[int, int]
    saturday: tuple[int, int]
    sunday: tuple[int, int] | None  # None = Sunday banned
    holidays_banned: bool = False


# compliance-rules.md section 3 (UT bans Sundays/holidays only without consent: a text without
# consent is already a violation, so UT keeps the federal window here).
STATE_RULES: dict[str, StateRule] = {
    "FL": StateRule((8, 20), (8, 20), (8, 20)),
    "OK": StateRule((8, 20), (8, 20), (8, 20)),
    "MD": StateRule((8, 20), (8, 20), (8, 20)),
    "WA": StateRule((8, 20), (8, 20), (8, 20)),
    "TX": StateRule((9, 21), (9, 21), (12, 21)),
    "CT": StateRule((9, 20), (9, 20), (9, 20)),
    "AL": StateRule((8, 20), (8, 20), None, holidays_banned=True),
    "LA": StateRule((8, 20), (8, 20), None, holidays_banned=True),
    "MS": StateRule((8, 20), (8, 20), None),
    "RI": StateRule((9, 18), (10, 17), None, holidays_banned=True),
    "KY": StateRule((10, 21), (10, 21), (10, 21)),
}


@lru_cache(maxsize=64)
def _holiday_days(state: str, first_year: int, last_year: int) -> np.ndarray:
    table = holidays.country_holidays("US", subdiv=state, years=range(first_year, last_year + 1))
    epoch = dt.date(1970, 1, 1)
    return np.array(sorted((day - epoch).days for day in table), dtype=np.int64)


class ComplianceChecker:
    """Vectorised legal-time check over (area code, candidate zones, instant)."""

    def __init__(self, clock: ZoneClock) -> None:
        self.clock = clock
        table = area_codes()
        states = sorted(set(table.states))
        self._state_names = states
        self._area_state = np.array([states.index(s) for s in table.states], dtype=np.int64)
        # window[state, weekday] = (start hour, end hour); (0, 0) = banned all day.
        window = np.zeros((len(states), 7, 2), dtype=np.int64)
        self._holiday_banned = np.zeros(len(states), dtype=bool)
        for i, state in enumerate(states):
            rule = STATE_RULES.get(state)
            for d in range(7):
                if rule is None:
                    span: tuple[int, int] | None = FEDERAL
                else:
                    span = rule.weekday if d < 5 else (rule.saturday if d == 5 else rule.sunday)
                if span is None:
                    window[i, d] = (0, 0)
                else:
                    window[i, d] = (max(span[0], FEDERAL[0]), min(span[1], FEDERAL[1]))
            self._holiday_banned[i] = bool(rule and rule.holidays_banned)
        self._window = window

    def state_of(self, area_idx: np.ndarray) -> np.ndarray:
        return self._area_state[area_idx]

    def time_status(
        self, area_idx: np.ndarray, cand_zones: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """0 = legal, 1 = quiet hours, 2 = banned day, for each (number, instant)."""
        area_idx = np.asarray(area_idx, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        status = np.zeros(len(t), dtype=np.int8)
        if len(t) == 0:
            return status
        state = self._area_state[area_idx]
        for j in range(cand_zones.shape[1]):
            zone = cand_zones[:, j]
            has = zone >= 0
            if not has.any():
                continue
            local = self.clock.local(np.where(has, zone, 0), t)
            day = local // DAY
            weekday = (day + 3) % 7
            seconds = local - day * DAY
            start = self._window[state, weekday, 0] * HOUR
            end = self._window[state, weekday, 1] * HOUR
            banned = has & (start == end)
            quiet = has & ~banned & ((seconds < start) | (seconds >= end))
            holiday = has & self._holiday_banned[state] & self._is_holiday(state, day)
            status = np.where(
                banned | holiday, BANNED_DAY, np.where(quiet & (status == 0), QUIET_HOURS, status)
            )
        return status

    def _is_holiday(self, state: np.ndarray, day: np.ndarray) -> np.ndarray:
        out = np.zeros(len(day), dtype=bool)
        for s in np.unique(state[self._holiday_banned[state]]):
            sel = state == s
            years = [
                (dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).year
                for d in (day[sel].min(), day[sel].max())
            ]
            out[sel] = np.isin(day[sel], _holiday_days(self._state_names[s], years[0], years[1]))
        return out

    def next_legal(
        self, area_idx: np.ndarray, cand_zones: np.ndarray, t: np.ndarray, max_hours: int = 24 * 9
    ) -> np.ndarray:
        """The first instant >= t (whole hours after t) that is legal; -1 if none in max_hours."""
        out = np.asarray(t, dtype=np.int64).copy()
        todo = np.arange(len(out))
        for _ in range(max_hours + 1):
            if len(todo) == 0:
                break
            ok = self.time_status(area_idx[todo], cand_zones[todo], out[todo]) == OK
            todo = todo[~ok]
            out[todo] = (out[todo] // HOUR + 1) * HOUR
        out[todo] = -1
        return out
