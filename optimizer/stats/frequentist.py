"""Frequentist tests over summary statistics: p-values and lift against a control."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from optimizer.stats.intervals import z_value
from optimizer.stats.summary import ArmSummary


@dataclass(frozen=True)
class Lift:
    """Relative lift of an arm over the control ((rate / control) − 1) and absolute difference."""

    lift: float | None
    ci_low: float | None
    ci_high: float | None
    difference: float
    difference_ci_low: float
    difference_ci_high: float
    p_value: float | None


def chi_square_p_value(arms: Sequence[ArmSummary]) -> float | None:
    """Pearson chi-square test of equal rates (k × 2 table, no continuity correction).

    For two arms it equals the two-sided two-proportion z-test. None when undefined (no
    successes or no failures at all).
    """
    successes = np.array([a.successes for a in arms], dtype=float)
    failures = np.array([a.sends - a.successes for a in arms], dtype=float)
    if successes.sum() == 0 or failures.sum() == 0 or any(a.sends == 0 for a in arms):
        return None
    table = np.vstack([successes, failures]).T
    result = sps.chi2_contingency(table, correction=False)
    return float(result.pvalue)


def anova_p_value(arms: Sequence[ArmSummary]) -> float | None:
    """Welch's t-test (2 arms) or one-way ANOVA (more) on a continuous value per send."""
    if any(a.sends < 2 for a in arms):
        return None
    if len(arms) == 2:
        a, b = arms
        se = math.sqrt(a.variance / a.sends + b.variance / b.sends)
        if se == 0:
            return None
        z = (b.mean - a.mean) / se
        return float(2 * sps.norm.sf(abs(z)))
    n_total = sum(a.sends for a in arms)
    grand = sum(a.value_sum for a in arms) / n_total
    between = sum(a.sends * (a.mean - grand) ** 2 for a in arms)
    within = sum(a.variance * (a.sends - 1) for a in arms)
    df_between, df_within = len(arms) - 1, n_total - len(arms)
    if within == 0:
        return None
    f_stat = (between / df_between) / (within / df_within)
    return float(sps.f.sf(f_stat, df_between, df_within))


def lift_binary(arm: ArmSummary, control: ArmSummary, confidence: float = 0.95) -> Lift:
    """Lift with a log-ratio (Katz) interval; difference with a Wald interval; z-test p."""
    z = z_value(confidence)
    p1, p0 = arm.rate, control.rate
    diff = p1 - p0
    se_diff = (
        math.sqrt(p1 * (1 - p1) / arm.sends + p0 * (1 - p0) / control.sends)
        if arm.sends and control.sends
        else math.inf
    )
    lift = low = high = p_value = None
    if p0 > 0 and p1 > 0:
        lift = p1 / p0 - 1
        se_log = math.sqrt((1 - p1) / (p1 * arm.sends) + (1 - p0) / (p0 * control.sends))
        log_ratio = math.log(p1 / p0)
        low, high = math.exp(log_ratio - z * se_log) - 1, math.exp(log_ratio + z * se_log) - 1
    pooled_n = arm.sends + control.sends
    if pooled_n and arm.sends and control.sends:
        pooled = (arm.successes + control.successes) / pooled_n
        se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / arm.sends + 1 / control.sends))
        if se_pooled > 0:
            p_value = float(2 * sps.norm.sf(abs(diff) / se_pooled))
    return Lift(lift, low, high, diff, diff - z * se_diff, diff + z * se_diff, p_value)


def lift_continuous(arm: ArmSummary, control: ArmSummary, confidence: float = 0.95) -> Lift:
    """Lift of the mean value per send, delta-method interval on the ratio."""
    z = z_value(confidence)
    m1, m0 = arm.mean, control.mean
    v1 = arm.variance / arm.sends if arm.sends else math.inf
    v0 = control.variance / control.sends if control.sends else math.inf
    diff = m1 - m0
    se_diff = math.sqrt(v1 + v0)
    lift = low = high = p_value = None
    if m0 > 0:
        lift = m1 / m0 - 1
        se_ratio = math.sqrt(v1 / m0**2 + m1**2 * v0 / m0**4)
        low, high = lift - z * se_ratio, lift + z * se_ratio
    if 0 < se_diff < math.inf:
        p_value = float(2 * sps.norm.sf(abs(diff) / se_diff))
    return Lift(lift, low, high, diff, diff - z * se_diff, diff + z * se_diff, p_value)
