"""Sample-ratio mismatch: did each arm get the traffic it was meant to get?

* Intended split (classic A/B): Pearson chi-square goodness of fit of the sends against the
  weights.
* Bandit traffic: the split moves on purpose, so compare against the logged propensities.
  For each arm, ``H_i = Σ_{sends to i} 1 / p`` is an unbiased (Horvitz–Thompson) estimate of
  the total number of sends, with variance estimated by ``Σ (1/p² − 1/p)``; each arm gives a
  z-score against the actual total, and the p-value is the Bonferroni minimum over arms.
  Without ``Σ 1/p²`` the variance uses ``(Σ 1/p)² / sends`` (a lower bound: stricter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from optimizer.errors import InvalidInput

SRM_ALPHA = 0.001
WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SrmResult:
    p_value: float | None
    expected: tuple[float, ...]
    observed: tuple[int, ...]
    mismatch: bool
    method: str  # weights | propensities | none


def check_weights(weights: Sequence[float], n_arms: int) -> tuple[float, ...]:
    values = tuple(float(w) for w in weights)
    if len(values) != n_arms:
        raise InvalidInput(
            f"weights {list(values)}: {len(values)} given for {n_arms} arms", field="weights"
        )
    if any(not math.isfinite(w) or w <= 0 for w in values):
        raise InvalidInput(f"weights {list(values)}: each must be > 0", field="weights")
    if abs(sum(values) - 1.0) > WEIGHT_TOLERANCE:
        raise InvalidInput(
            f"weights {list(values)} sum to {sum(values):.6g} (they must sum to 1)",
            field="weights",
        )
    return values


def srm_against_weights(sends: Sequence[int], weights: Sequence[float]) -> SrmResult:
    values = check_weights(weights, len(sends))
    total = int(sum(sends))
    expected = tuple(total * w for w in values)
    if total == 0:
        return SrmResult(None, expected, tuple(sends), False, "weights")
    result = sps.chisquare(np.asarray(sends, dtype=float), np.asarray(expected))
    p_value = float(result.pvalue)
    return SrmResult(
        p_value, expected, tuple(int(s) for s in sends), p_value < SRM_ALPHA, "weights"
    )


def srm_against_propensities(
    sends: Sequence[int],
    inverse_propensity_sums: Sequence[float],
    inverse_propensity_sq_sums: Sequence[float] | None = None,
) -> SrmResult:
    total = int(sum(sends))
    observed = tuple(int(s) for s in sends)
    expected = tuple(float(h) for h in inverse_propensity_sums)
    if total == 0:
        return SrmResult(None, expected, observed, False, "propensities")
    p_values = []
    for i, (n, h) in enumerate(zip(sends, inverse_propensity_sums, strict=True)):
        if n == 0:
            continue
        sq = inverse_propensity_sq_sums[i] if inverse_propensity_sq_sums is not None else h * h / n
        variance = max(sq - h, 0.0)
        if variance <= 0:
            continue
        z = (h - total) / math.sqrt(variance)
        p_values.append(2 * float(sps.norm.sf(abs(z))))
    if not p_values:
        return SrmResult(None, expected, observed, False, "propensities")
    p_value = min(1.0, len(sends) * min(p_values))
    return SrmResult(p_value, expected, observed, p_value < SRM_ALPHA, "propensities")


def srm_against_expected(sends: Sequence[int], expected: Sequence[float]) -> SrmResult:
    """Chi-square of the sends against expected counts, e.g. the sum over decisions of each
    arm's logged choice probability (exact when eligibility differs between decisions)."""
    observed = tuple(int(s) for s in sends)
    expect = np.asarray(expected, dtype=float)
    total = int(sum(observed))
    keep = expect > 0
    obs = np.asarray(observed, dtype=float)
    if np.any(obs[~keep] > 0):  # sends to an arm that could never be chosen
        return SrmResult(
            0.0, tuple(float(e) for e in expect), observed, True, "choice_probabilities"
        )
    if total == 0 or keep.sum() < 2:
        return SrmResult(
            None, tuple(float(e) for e in expect), observed, False, "choice_probabilities"
        )
    statistic = float(np.sum((obs[keep] - expect[keep]) ** 2 / expect[keep]))
    p_value = float(sps.chi2.sf(statistic, int(keep.sum()) - 1))
    return SrmResult(
        p_value,
        tuple(float(e) for e in expect),
        observed,
        p_value < SRM_ALPHA,
        "choice_probabilities",
    )
