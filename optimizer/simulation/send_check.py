"""The independent checker over a log of texts whose leads' histories are known: every text is
judged from the truth, never from what the gate was told or answered.

``ComplianceChecker`` judges the local time (quiet hours, banned days) in every candidate zone of
the number under its area code's state; a known address state is judged too, in the zones of that
state's area codes (``area_codes.csv``). The rest is typed in from docs/compliance-rules.md apart
from ``optimizer.compliance`` (never imported here): marketing needs a consent granted at or
before the text and not ended by an opt-out since (or granted again after it); no text at all
after an opt-out; at most 3 marketing texts per rolling 24 h where FL, OK or MD law applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from optimizer.simulation.checker import BANNED_DAY, QUIET_HOURS, ComplianceChecker
from optimizer.simulation.geography import DAY, ZoneClock, area_codes

NEVER = np.iinfo(np.int64).max
STATE_CAPS_24H = {"FL": 3, "OK": 3, "MD": 3}  # compliance-rules.md section 3
SEND_VIOLATION_KINDS = ("quiet_hours", "banned_day", "no_consent", "after_opt_out", "state_cap_24h")


# Where residents of a state may live, for the states whose territory spans zones (the US time
# zone boundaries, typed in here): West Wendover NV keeps Mountain time, the Aleutians
# Hawaii-Aleutian time with DST (America/Adak), the Navajo Nation in AZ Mountain time with DST.
# Other states: the zones of their area codes in area_codes.csv (whose zone names are used).
STATE_ZONES = {
    "AK": ("America/Anchorage", "America/Juneau", "America/Adak"),
    "AZ": ("America/Phoenix", "America/Denver"),
    "FL": ("America/New_York", "America/Chicago"),
    "ID": ("America/Boise", "America/Los_Angeles"),
    "IN": ("America/New_York", "America/Chicago"),  # Indianapolis keeps Eastern rules
    "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"),
    "MI": ("America/New_York", "America/Chicago"),  # Detroit: Eastern; Menominee: Central
    "ND": ("America/Chicago", "America/Denver"),
    "NE": ("America/Chicago", "America/Denver"),
    "NV": ("America/Los_Angeles", "America/Denver"),
    "OR": ("America/Los_Angeles", "America/Boise"),
    "SD": ("America/Chicago", "America/Denver"),
    "TN": ("America/Chicago", "America/New_York"),
    "TX": ("America/Chicago", "America/Denver"),
}


@dataclass(frozen=True)
class LeadTruth:
    """What is true of each lead (index i), times in epoch seconds (``NEVER`` = did not happen).

    Consent for the brand holds from ``grant_at`` until ``opt_out_at`` and again from
    ``regrant_at``; any text at or after ``opt_out_at`` breaks the opt-out."""

    area_idx: np.ndarray  # int64 index into area_codes()
    cand_zones: np.ndarray  # (n, width) int64 zone indices into area_codes().zone_names, -1 pads
    address_state: np.ndarray  # object: two-letter state or None
    grant_at: np.ndarray
    opt_out_at: np.ndarray
    regrant_at: np.ndarray


@dataclass(frozen=True)
class SendLog:
    lead: np.ndarray  # int64 lead index per text
    at: np.ndarray  # int64 epoch seconds
    marketing: np.ndarray  # bool


@lru_cache(maxsize=1)
def _state_tables() -> tuple[dict[str, int], dict[str, tuple[int, ...]]]:
    """Per state: one of its area codes (the checker reads the state through it) and the zones
    its residents may live in (``STATE_ZONES``, else those of its area codes)."""
    table = area_codes()
    names = list(table.zone_names)
    clock_names = table.zone_names
    first: dict[str, int] = {}
    zones: dict[str, set[int]] = {}
    for i, state in enumerate(table.states):
        first.setdefault(state, i)
        zones.setdefault(state, set()).update(int(z) for z in table.zone_index[i] if z >= 0)
    for state, typed in STATE_ZONES.items():
        missing = [z for z in typed if z not in clock_names]
        if missing:
            raise ValueError(f"zones {missing} of {state} are not in area_codes.csv's zones")
        zones[state] = {names.index(z) for z in typed}
    return first, {s: tuple(sorted(z)) for s, z in zones.items()}


def make_checker() -> ComplianceChecker:
    return ComplianceChecker(ZoneClock(area_codes().zone_names))


def check_sends(
    truth: LeadTruth, sends: SendLog, checker: ComplianceChecker | None = None
) -> dict[str, np.ndarray]:
    """Per violation kind, a bool per text: does this text break that rule?"""
    checker = checker or make_checker()
    lead = np.asarray(sends.lead, dtype=np.int64)
    at = np.asarray(sends.at, dtype=np.int64)
    marketing = np.asarray(sends.marketing, dtype=bool)
    n = len(at)
    out = {kind: np.zeros(n, dtype=bool) for kind in SEND_VIOLATION_KINDS}
    if n == 0:
        return out
    status = checker.time_status(truth.area_idx[lead], truth.cand_zones[lead], at)
    quiet, banned = status == QUIET_HOURS, status == BANNED_DAY
    # The address state's law too, in its zones and the number's.
    first, state_zones = _state_tables()
    address = truth.address_state[lead]
    known = np.flatnonzero(np.array([a is not None and a in first for a in address], dtype=bool))
    if known.size:
        width = truth.cand_zones.shape[1] + max(len(z) for z in state_zones.values())
        zones = np.full((known.size, width), -1, dtype=np.int64)
        areas = np.empty(known.size, dtype=np.int64)
        for row, k in enumerate(known):
            state = str(address[k])
            own = [int(z) for z in truth.cand_zones[lead[k]] if z >= 0]
            merged = sorted(set(own) | set(state_zones[state]))
            zones[row, : len(merged)] = merged
            areas[row] = first[state]
        extra = checker.time_status(areas, zones, at[known])
        quiet[known] |= extra == QUIET_HOURS
        banned[known] |= extra == BANNED_DAY
    out["banned_day"] = marketing & banned
    out["quiet_hours"] = marketing & quiet & ~banned
    consented = ((truth.grant_at[lead] <= at) & (at < truth.opt_out_at[lead])) | (
        truth.regrant_at[lead] <= at
    )
    out["no_consent"] = marketing & ~consented
    out["after_opt_out"] = truth.opt_out_at[lead] <= at
    out["state_cap_24h"] = _over_state_cap(truth, lead, at, marketing, address)
    return out


def _over_state_cap(
    truth: LeadTruth,
    lead: np.ndarray,
    at: np.ndarray,
    marketing: np.ndarray,
    address: np.ndarray,
) -> np.ndarray:
    """Marketing texts that are more than the cap within the rolling 24 h ending at them."""
    states = area_codes().states
    caps = np.array(
        [
            min(
                (
                    STATE_CAPS_24H[s]
                    for s in (states[int(truth.area_idx[lead[k]])], address[k])
                    if s in STATE_CAPS_24H
                ),
                default=0,
            )
            for k in range(len(at))
        ],
        dtype=np.int64,
    )
    over = np.zeros(len(at), dtype=bool)
    idx = np.flatnonzero(marketing & (caps > 0))
    if idx.size == 0:
        return over
    # Every marketing text of a lead counts, capped state or not; key = (lead, time).
    m = np.flatnonzero(marketing)
    keys = np.sort(lead[m] * (1 << 33) + at[m])
    mine = lead[idx] * (1 << 33) + at[idx]
    within = np.searchsorted(keys, mine, side="right") - np.searchsorted(keys, mine - DAY, "right")
    over[idx] = within > caps[idx]
    return over
