"""Confidence intervals for a rate (Wilson score) and a mean (normal approximation)."""

from __future__ import annotations

import math

from scipy import stats as sps


def z_value(confidence: float = 0.95) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(successes: int, sends: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval; (0, 1) when there are no sends."""
    if sends == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    rate = successes / sends
    denominator = 1.0 + z * z / sends
    centre = (rate + z * z / (2 * sends)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / sends + z * z / (4 * sends * sends)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(
    mean: float, variance: float, sends: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Normal-approximation interval for a mean value per send."""
    if sends == 0:
        return -math.inf, math.inf
    half = z_value(confidence) * math.sqrt(variance / sends)
    return mean - half, mean + half


def newcombe_difference(
    successes: int, sends: int, control_successes: int, control_sends: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for a difference of rates (arm − control), from the
    two Wilson intervals (Newcombe 1998, method 10): unlike Wald's, it stays honest when a
    group is small or its rate is 0 (a holdout with no outcome yet). (−1, 1) when a group is
    empty."""
    if sends == 0 or control_sends == 0:
        return -1.0, 1.0
    p1, p0 = successes / sends, control_successes / control_sends
    l1, u1 = wilson_interval(successes, sends, confidence)
    l0, u0 = wilson_interval(control_successes, control_sends, confidence)
    diff = p1 - p0
    return (
        diff - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        diff + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )
