"""Latent hour-of-week responsiveness in LOCAL time: personas, vertical tilts, individual noise.

A lead's curve is its persona mix (morning, lunch, evening, weekend) times its vertical's tilt
(the seed material's windows: healthcare 10-12 and 14-16 on weekdays, retail 18-20, B2B
Tuesday-Thursday 9-11) times individual log-normal noise, normalised so that the mean over the
waking hours (08-21) of the week is 1. Index = weekday * 24 + hour, Monday = 0.
"""

from __future__ import annotations

import numpy as np

from optimizer.simulation.config import PERSONAS, SimConfig

WAKING = np.zeros(168, dtype=bool)
for _d in range(7):
    WAKING[_d * 24 + 8 : _d * 24 + 21] = True


def _curve(day_hours: dict[int, float], days: range, other_days: float = 0.5) -> np.ndarray:
    curve = np.full(168, 0.0)
    for d in range(7):
        scale = 1.0 if d in days else other_days
        for h in range(24):
            curve[d * 24 + h] = scale * day_hours.get(h, 0.35 if 8 <= h <= 21 else 0.0)
    return curve


def persona_curves(night_floor: float) -> np.ndarray:
    """(4, 168) base curves, one per persona, before normalisation."""
    weekdays = range(0, 5)
    every_day = range(0, 7)
    morning = _curve({7: 0.8, 8: 1.8, 9: 2.6, 10: 2.4, 11: 1.6, 12: 0.9}, weekdays, 0.6)
    lunch = _curve({11: 1.2, 12: 2.8, 13: 2.6, 14: 1.0}, weekdays, 0.6)
    evening = _curve({17: 1.2, 18: 2.4, 19: 2.8, 20: 2.2, 21: 1.0}, every_day)
    weekend = _curve({}, range(5, 7), 1.0)
    weekend[: 5 * 24] *= 0.7
    for d in (5, 6):
        for h, v in {9: 1.2, 10: 2.2, 11: 2.6, 12: 2.6, 13: 2.4, 14: 2.2, 15: 1.8, 16: 1.2}.items():
            weekend[d * 24 + h] = v
    curves = np.stack([morning, lunch, evening, weekend])
    curves = np.maximum(curves, night_floor)
    return curves / curves[:, WAKING].mean(axis=1, keepdims=True)


def vertical_tilt(vertical: str) -> np.ndarray:
    """The vertical's typical windows lift responsiveness (the priors are right on average)."""
    tilt = np.ones(168)
    if vertical == "healthcare":
        for d in range(5):
            tilt[d * 24 + 10 : d * 24 + 12] = 1.5
            tilt[d * 24 + 14 : d * 24 + 16] = 1.5
    elif vertical == "retail":
        for d in range(7):
            tilt[d * 24 + 18 : d * 24 + 20] = 1.5
    elif vertical == "b2b":
        for d in range(1, 4):
            tilt[d * 24 + 9 : d * 24 + 11] = 1.6
        tilt[5 * 24 :] = 0.5
    return tilt


def lead_curves(
    rng: np.random.Generator,
    config: SimConfig,
    persona_weights: np.ndarray,
    vertical_idx: np.ndarray,
) -> np.ndarray:
    """(n, 168) float32 curves, mean 1 over waking hours."""
    base = persona_curves(config.night_floor)
    tilts = np.stack([vertical_tilt(v.name) for v in config.verticals])
    curves = (persona_weights @ base) * tilts[vertical_idx]
    noise = rng.normal(0.0, config.hour_noise_sd, size=curves.shape)
    curves *= np.exp(noise - 0.5 * config.hour_noise_sd**2)
    curves /= curves[:, WAKING].mean(axis=1, keepdims=True)
    return curves.astype(np.float32)


def mixture_cdfs(config: SimConfig) -> np.ndarray:
    """(n_verticals, n_personas, 168) CDFs used to time engagement-history events."""
    base = persona_curves(config.night_floor)
    out = np.zeros((len(config.verticals), len(PERSONAS), 168))
    for v, profile in enumerate(config.verticals):
        tilted = base * vertical_tilt(profile.name)
        out[v] = np.cumsum(tilted, axis=1) / tilted.sum(axis=1, keepdims=True)
    return out
