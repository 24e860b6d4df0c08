"""Candidate targeting rules evaluated on an experiment's randomised holdout.

An experiment with a holdout assigns each eligible lead at random: texted with probability
1 − share, held out with probability share (the propensity logged with each decision). A
targeting rule says, from what the decision logged about the lead (its lead score's calibrated
probability and hot/warm/cold band), whether to text it. Its value — the outcome rate if the
rule had decided — is estimated off-policy from the holdout's log, with actions ``0`` = hold and
``1`` = text:

- ``target:all`` texts every lead, ``target:none`` holds every one;
- ``target:score>=P`` texts the leads whose logged probability is at least ``P`` (0 to 1);
- ``target:band=hot,warm`` texts the leads in those bands.

A lead the decision logged no score for is held by the score and band rules (a rule that cannot
be read does not text).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from optimizer.errors import InvalidInput
from optimizer.ope.data import BanditFeedback

HOLD, TEXT = 0, 1
ACTIONS = ("hold", "text")
BANDS = ("hot", "warm", "cold")
PREFIX = "target:"


def is_targeting(policy: str) -> bool:
    return policy.startswith(PREFIX)


def _error(policy: str) -> InvalidInput:
    return InvalidInput(
        f"--policy {policy!r} is not target:all, target:none, target:score>=P (P from 0 to 1) "
        f"or target:band=B[,B] (B one of {', '.join(BANDS)})",
        field="policy",
    )


def targeting_texts(
    policy: str,
    probability: Sequence[float | None],
    segment: Sequence[str | None],
) -> np.ndarray:
    """Whether the rule ``policy`` texts each lead (bool array), from its logged score."""
    if len(probability) != len(segment):
        raise InvalidInput(
            f"probability ({len(probability)}) and segment ({len(segment)}) differ in length"
        )
    if not is_targeting(policy):
        raise _error(policy)
    rule = policy[len(PREFIX) :]
    n = len(probability)
    if rule == "all":
        return np.ones(n, dtype=bool)
    if rule == "none":
        return np.zeros(n, dtype=bool)
    if rule.startswith("score>="):
        try:
            threshold = float(rule[len("score>=") :])
        except ValueError:
            raise _error(policy) from None
        if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
            raise _error(policy)
        return np.array(
            [p is not None and math.isfinite(p) and p >= threshold for p in probability],
            dtype=bool,
        )
    if rule.startswith("band="):
        bands = {b.strip() for b in rule[len("band=") :].split(",") if b.strip()}
        if not bands or not bands <= set(BANDS):
            raise _error(policy)
        return np.array([s in bands for s in segment], dtype=bool)
    raise _error(policy)


def targeting_feedback(
    texted: np.ndarray, propensity: np.ndarray, reward: np.ndarray, rule_texts: np.ndarray
) -> BanditFeedback:
    """The holdout's log as bandit feedback (action 1 = texted) with the rule's (deterministic)
    action distribution."""
    n = int(np.asarray(texted).shape[0])
    if n == 0:
        raise InvalidInput("the holdout's log has no lead with a closed outcome window yet")
    dist = np.zeros((n, 2))
    dist[np.arange(n), np.asarray(rule_texts, dtype=np.int64)] = 1.0
    return BanditFeedback(
        context=np.zeros((n, 0)),
        action=np.asarray(texted, dtype=np.int64),
        reward=np.asarray(reward, dtype=float),
        pscore=np.asarray(propensity, dtype=float),
        action_dist=dist,
    )
