"""Candidate send-time policies evaluated on an experiment's decision log.

Every sent decision logs how its slot was chosen (:class:`optimizer.decide.types.SlotLog`): the
gate's allowed slots over the horizon, the greedy slot and the exploration share. The logging
policy's whole distribution over the slots is therefore known, not only the chosen slot's
probability: ``exploration / n`` on each of the ``n`` allowed slots plus ``1 − exploration`` on
the greedy one. A candidate puts its own distribution on the same allowed slots:

- ``slot:first`` — the first allowed slot (text as soon as the rules allow);
- ``slot:hour=H`` — the first allowed slot at local hour ``H`` (0–23) in the recipient's zone,
  or the first allowed slot when the horizon has none at that hour;
- ``slot:logged`` — the logging policy itself (a check: every weight is 1);
- each with ``,explore=E`` — a uniformly random allowed slot with probability ``E``.

An action is the slot's **local hour of the week** (Monday 00:00 = 0 … Sunday 23:00 = 167), so
that the reward model of DM and DR learns a response per local hour and weekday shared by all
decisions (its action features: hour-of-day and weekday one-hots). Slots that fall on the same
hour of the week (a horizon over 168 hours) share their probability. Decisions whose slot was
not chosen by a policy (``speed_to_lead``: a new lead texted at once) are left out: no
send-time policy decides them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from optimizer.decide.slots import candidate_slots64, unpack_mask
from optimizer.decide.types import SLOT_RULES
from optimizer.errors import InvalidInput
from optimizer.ope.data import BanditFeedback

PREFIX = "slot:"
HOURS_OF_WEEK = 168
# The reward model's features of each action (hour of the week): hour-of-day and weekday one-hots.
ACTION_FEATURES = np.hstack(
    [
        np.eye(24)[np.arange(HOURS_OF_WEEK) % 24],
        np.eye(7)[np.arange(HOURS_OF_WEEK) // 24],
    ]
)
_POLICY = re.compile(r"^slot:(first|logged|hour=(\d{1,2}))(?:,explore=([0-9.eE+-]+))?$")


def is_slot_policy(policy: str) -> bool:
    return policy.startswith(PREFIX)


def _error(policy: str) -> InvalidInput:
    return InvalidInput(
        f"--policy {policy!r} is not slot:first, slot:logged or slot:hour=H (H from 0 to 23), "
        "optionally followed by ,explore=E (E from 0 to 1)",
        field="policy",
    )


@dataclass(frozen=True)
class SlotPolicy:
    rule: str  # first | logged | hour
    hour: int | None = None
    explore: float | None = None  # None: the rule's own (the logged policy's, or 0)


def parse_slot_policy(policy: str) -> SlotPolicy:
    match = _POLICY.match(policy)
    if match is None:
        raise _error(policy)
    rule, hour_text, explore_text = match.group(1), match.group(2), match.group(3)
    hour = None
    if hour_text is not None:
        hour = int(hour_text)
        if not 0 <= hour <= 23:
            raise _error(policy)
        rule = "hour"
    explore = None
    if explore_text is not None:
        try:
            explore = float(explore_text)
        except ValueError:
            raise _error(policy) from None
        if not (math.isfinite(explore) and 0.0 <= explore <= 1.0):
            raise _error(policy)
    return SlotPolicy(rule=rule, hour=hour, explore=explore)


@dataclass(frozen=True)
class SlotDecisions:
    """The decisions a send-time policy chose, decoded: one row each."""

    allowed: np.ndarray  # (n, H) bool: the gate's allowed slots
    best: np.ndarray  # (n,) the logging policy's greedy slot
    chosen: np.ndarray  # (n,) the slot sent at
    exploration: np.ndarray  # (n,) the logging policy's exploration share
    hour_of_week: np.ndarray  # (n, H) each slot's local hour of the week
    propensity: np.ndarray  # (n,) the logged probability of the chosen slot
    reward: np.ndarray  # (n,)
    forced: int  # decisions texted at once by a rule (speed to lead), left out
    unreadable: int  # decisions whose slot record or zone could not be read, left out

    @property
    def n(self) -> int:
        return int(self.chosen.shape[0])


def local_hours_of_week(as_of: dt.datetime, zone: str, slots: int) -> np.ndarray:
    """The local hour of the week (Monday 00:00 = 0) of each of ``candidate_slots(as_of,
    slots)`` in ``zone``."""
    utc = pd.DatetimeIndex(candidate_slots64(as_of, slots)).tz_localize("UTC")
    local = utc.tz_convert(ZoneInfo(zone))
    return np.asarray(local.day_of_week * 24 + local.hour, dtype=np.int64)


def decode_slot_log(
    as_of: Sequence[dt.datetime],
    zones: Sequence[str | None],
    slots: Sequence[Mapping[str, Any]],
    propensity: np.ndarray,
    reward: np.ndarray,
) -> SlotDecisions:
    """The logged slot records as arrays. Rows texted at once by a rule are counted in
    ``forced``; rows whose record is malformed, whose chosen slot is not allowed, or whose zone
    is unknown, in ``unreadable`` (neither is evaluated)."""
    n_rows = len(slots)
    if not (len(as_of) == len(zones) == n_rows == len(propensity) == len(reward)):
        raise InvalidInput("the slot log's columns differ in length", field="log")
    width = max((int(s.get("slots", 0) or 0) for s in slots), default=0)
    allowed_rows, how_rows, best, chosen, explore, keep = [], [], [], [], [], []
    forced = unreadable = 0
    for i, (at, zone, record) in enumerate(zip(as_of, zones, slots, strict=True)):
        if record.get("rule") == "speed_to_lead":
            forced += 1
            continue
        try:
            if record.get("rule") not in SLOT_RULES or zone is None:
                raise ValueError("rule or zone")
            length = int(record["slots"])
            mask = unpack_mask(str(record["allowed"]), length)
            b, c = int(record["best"]), int(record["chosen"])
            e = float(record["exploration"])
            if not (0 <= b < length and 0 <= c < length and mask[b] and mask[c]):
                raise ValueError("slot outside the allowed mask")
            if not 0.0 <= e <= 1.0:
                raise ValueError("exploration")
            hours = local_hours_of_week(at, zone, length)
        except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
            unreadable += 1
            continue
        row_mask = np.zeros(width, dtype=bool)
        row_mask[:length] = mask
        row_hours = np.zeros(width, dtype=np.int64)
        row_hours[:length] = hours
        allowed_rows.append(row_mask)
        how_rows.append(row_hours)
        best.append(b)
        chosen.append(c)
        explore.append(e)
        keep.append(i)
    index = np.asarray(keep, dtype=np.int64)
    return SlotDecisions(
        allowed=np.asarray(allowed_rows, dtype=bool).reshape(len(keep), width),
        best=np.asarray(best, dtype=np.int64),
        chosen=np.asarray(chosen, dtype=np.int64),
        exploration=np.asarray(explore, dtype=float),
        hour_of_week=np.asarray(how_rows, dtype=np.int64).reshape(len(keep), width),
        propensity=np.asarray(propensity, dtype=float)[index],
        reward=np.asarray(reward, dtype=float)[index],
        forced=forced,
        unreadable=unreadable,
    )


def _epsilon_greedy(allowed: np.ndarray, greedy: np.ndarray, explore: np.ndarray) -> np.ndarray:
    """(n, H): ``explore`` spread evenly over each row's allowed slots, the rest on ``greedy``."""
    n = allowed.shape[0]
    counts = allowed.sum(axis=1, keepdims=True)
    dist = allowed * (explore[:, None] / counts)
    dist[np.arange(n), greedy] += 1.0 - explore
    return dist


def logging_slot_distribution(decisions: SlotDecisions) -> np.ndarray:
    """The logging policy's probability of each slot, (n, H)."""
    return _epsilon_greedy(decisions.allowed, decisions.best, decisions.exploration)


def candidate_slot_distribution(policy: SlotPolicy, decisions: SlotDecisions) -> np.ndarray:
    """The candidate's probability of each slot, (n, H), on each decision's allowed slots."""
    allowed = decisions.allowed
    first = np.argmax(allowed, axis=1)
    if policy.rule == "logged":
        greedy = decisions.best
    elif policy.rule == "first":
        greedy = first
    else:
        at_hour = allowed & (decisions.hour_of_week % 24 == policy.hour)
        greedy = np.where(at_hour.any(axis=1), np.argmax(at_hour, axis=1), first)
    if policy.explore is None:  # the logged policy keeps its own exploration; the others none
        explore = decisions.exploration if policy.rule == "logged" else np.zeros(decisions.n)
    else:
        explore = np.full(decisions.n, policy.explore)
    return _epsilon_greedy(allowed, greedy, explore)


def by_hour_of_week(dist: np.ndarray, hour_of_week: np.ndarray) -> np.ndarray:
    """A distribution over slots (n, H) as one over the hours of the week (n, 168)."""
    n = dist.shape[0]
    out = np.zeros((n, HOURS_OF_WEEK))
    rows = np.repeat(np.arange(n), dist.shape[1])
    np.add.at(out, (rows, hour_of_week.reshape(-1)), dist.reshape(-1))
    return out


def slot_feedback(decisions: SlotDecisions, candidate: np.ndarray) -> BanditFeedback:
    """The log as bandit feedback over the hours of the week: the action is the chosen slot's
    local hour of the week, its logging probability the logging policy's (all slots on that
    hour), and ``candidate`` (n, H) the evaluation policy's distribution."""
    n = decisions.n
    if n == 0:
        raise InvalidInput(
            "the decision log has no send whose slot a send-time policy chose with a known "
            "reward yet",
            field="log",
        )
    action = decisions.hour_of_week[np.arange(n), decisions.chosen]
    logging = by_hour_of_week(logging_slot_distribution(decisions), decisions.hour_of_week)
    return BanditFeedback(
        context=np.zeros((n, 0)),
        action=action,
        reward=decisions.reward,
        pscore=logging[np.arange(n), action],
        action_dist=by_hour_of_week(candidate, decisions.hour_of_week),
    )


def agreement(decisions: SlotDecisions, candidate: np.ndarray) -> float:
    """The candidate's mean probability of the logging policy's greedy slot: how often it
    would send when the current policy does."""
    if decisions.n == 0:
        return 0.0
    return float(candidate[np.arange(decisions.n), decisions.best].mean())
