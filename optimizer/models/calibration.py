"""Probability calibration (isotonic or sigmoid), chosen on held-out rows, stored as plain numbers.

Rule: both calibrators are cross-fitted on the held-out rows (fit on one half, scored on the
other, then the other way round); the one with the lower Brier score wins and is refitted on all
held-out rows. Unless the winner beats the raw probabilities' Brier score on those rows by at
least ``MIN_GAIN`` (1%, relative), the raw probabilities are kept (method ``identity``): LightGBM's
log-loss objective is usually calibrated already when the held-out rows look like the training
rows, and a calibrator fitted to noise made the test Brier score slightly worse on the bank data.
Between the two, the sigmoid (monotone, keeps the model's ranking) is preferred unless isotonic
is better by ``MIN_GAIN`` as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Method = Literal["isotonic", "sigmoid", "identity"]
_EPS = 1e-6
MIN_GAIN = 0.01


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibrator:
    method: Method
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    shift: float = 0.0  # added in log-odds after the method (a recent-level shift; 0 = none)

    def apply(self, p: np.ndarray) -> np.ndarray:
        out = self._method(np.asarray(p, dtype=np.float64))
        if self.shift == 0.0:
            return out
        return 1.0 / (1.0 + np.exp(-(_logit(out) + self.shift)))

    def _method(self, p: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(self.a * _logit(p) + self.b)))
        if self.method == "isotonic":
            return np.interp(p, np.asarray(self.x), np.asarray(self.y))
        return p

    def to_json(self) -> dict[str, object]:
        return {
            "method": self.method,
            "a": self.a,
            "b": self.b,
            "x": list(self.x),
            "y": list(self.y),
            "shift": self.shift,
        }

    @classmethod
    def from_json(cls, payload: dict[str, object]) -> Calibrator:
        method = str(payload["method"])
        assert method in ("isotonic", "sigmoid", "identity")
        return cls(
            method=method,  # type: ignore[arg-type]
            a=float(payload["a"]),  # type: ignore[arg-type]
            b=float(payload["b"]),  # type: ignore[arg-type]
            x=tuple(float(v) for v in payload["x"]),  # type: ignore[attr-defined]
            y=tuple(float(v) for v in payload["y"]),  # type: ignore[attr-defined]
            shift=float(payload.get("shift", 0.0)),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class CalibrationChoice:
    calibrator: Calibrator
    brier_raw: float
    brier_isotonic: float
    brier_sigmoid: float


def fit_sigmoid(p: np.ndarray, y: np.ndarray) -> Calibrator:
    if len(np.unique(y)) < 2:
        return Calibrator("identity")
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(_logit(np.asarray(p)).reshape(-1, 1), y)
    return Calibrator("sigmoid", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))


def fit_isotonic(p: np.ndarray, y: np.ndarray) -> Calibrator:
    if len(np.unique(y)) < 2:
        return Calibrator("identity")
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return Calibrator(
        "isotonic",
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in iso.y_thresholds_),
    )


def _brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def choose_calibrator(p: np.ndarray, y: np.ndarray) -> CalibrationChoice:
    """Pick isotonic, sigmoid or identity by (cross-fitted) Brier score on held-out ``(p, y)``."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    halves = (np.arange(len(p)) % 2 == 0, np.arange(len(p)) % 2 == 1)
    scores = {"isotonic": 0.0, "sigmoid": 0.0}
    for fit_mask, eval_mask in (halves, halves[::-1]):
        for name, fitter in (("isotonic", fit_isotonic), ("sigmoid", fit_sigmoid)):
            cal = fitter(p[fit_mask], y[fit_mask])
            scores[name] += _brier(y[eval_mask], cal.apply(p[eval_mask])) * eval_mask.sum()
    n = max(len(p), 1)
    brier_iso, brier_sig = scores["isotonic"] / n, scores["sigmoid"] / n
    brier_raw = _brier(y, p)
    if min(brier_iso, brier_sig) > brier_raw * (1.0 - MIN_GAIN):
        best = Calibrator("identity")
    else:
        # Isotonic must win clearly: its flat steps tie leads that the model had ranked apart.
        clearly_better = brier_iso < brier_sig * (1.0 - MIN_GAIN)
        best = fit_isotonic(p, y) if clearly_better else fit_sigmoid(p, y)
    return CalibrationChoice(
        calibrator=best,
        brier_raw=brier_raw,
        brier_isotonic=brier_iso,
        brier_sigmoid=brier_sig,
    )


def level_shift(p: np.ndarray, rate: float, *, rows: int) -> float:
    """The log-odds shift ``c`` with ``mean(sigmoid(logit(p) + c)) == rate``: moves the level of
    ``p`` to the rate seen on ``rows`` labelled rows (clipped half a row from 0 and 1, so a slice
    with no positive still gives a finite shift)."""
    z = _logit(np.asarray(p, dtype=np.float64))
    if len(z) == 0 or rows < 1:
        raise ValueError(f"level shift needs rows (got {len(z)} predictions, {rows} rows)")
    target = float(np.clip(rate, 0.5 / rows, 1.0 - 0.5 / rows))
    low, high = -30.0, 30.0
    for _ in range(100):  # bisection: the mean is increasing in c
        mid = 0.5 * (low + high)
        if float(np.mean(1.0 / (1.0 + np.exp(-(z + mid))))) < target:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)
