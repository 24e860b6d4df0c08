"""Training on drifting, time-ordered rows: recency weights, past-only changes, monotone rules.

Every option here reads the rows in time order and is off by default. What each needs:

- ``half_life``: rows of a fit decay in weight with their age inside the fitted slice (the newest
  row weighs 1, a row ``half_life`` rows older 0.5). Needs the rows in time order; the store's
  training rows always are (by send time), so the store path gets it too.
- ``changes``: for each named numeric column, features computed from the row itself and the
  rows *before* it only (never a later row): the difference from the previous distinct value
  (``<col>.step``), from the mean of the previous ``change_window`` rows (``<col>.vs_mean``), and
  the number of earlier rows in the current run of the same value (``<col>.run``), and the
  number of rows among this one and the ``change_window - 1`` before it where the value moved
  (``<col>.moves``: for a daily rate such as euribor3m, how many days the latest contacts
  span, that is the contact pace). They are
  built on the whole time-ordered table before any split, so a scored row sees the rows before
  it as a caller would at serving time. The store's features have no such columns (its
  ``changes`` stay empty), and a model trained with them needs the same columns at serving:
  the caller computes them with :func:`past_changes` over its own history.
- ``monotone``: LightGBM monotone constraints by column name (+1 increasing, -1 decreasing).
- ``recent_validation``: the early-stopping, calibration and cut-off rows are the most recent
  slice of the fitted rows instead of a stratified sample.
- ``recent_level``: after calibration, the model's probabilities are shifted in log-odds so that
  their mean over the newest ``recent_level`` fitted rows equals those rows' observed rate (the
  shift is stored in the calibrator and applies at serving). Only labels of fitted rows are read:
  in a walk-forward step, the window's, never the step's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from optimizer.errors import InvalidInput

CHANGE_SUFFIXES = (".step", ".vs_mean", ".run", ".moves")
# A weight never reaches 0 (LightGBM and scikit-learn would drop the row silently): the oldest
# rows of a very short half-life keep this floor.
MIN_WEIGHT = 1e-9


@dataclass(frozen=True)
class DriftOptions:
    half_life: float | None = None
    changes: tuple[str, ...] = ()
    change_window: int = 1000
    keep_levels: bool = True
    monotone: tuple[tuple[str, int], ...] = ()
    recent_validation: bool = False
    recent_level: int | None = None

    def __post_init__(self) -> None:
        if self.half_life is not None and not (
            math.isfinite(self.half_life) and self.half_life > 0
        ):
            raise InvalidInput(
                f"--half-life {self.half_life}: a positive number of rows expected "
                "(leave it out for equal weights)"
            )
        if self.recent_level is not None and self.recent_level < 1:
            raise InvalidInput(
                f"--recent-level {self.recent_level}: a number of rows >= 1 expected "
                "(leave it out for no level shift)"
            )
        if self.change_window < 1:
            raise InvalidInput(f"--change-window {self.change_window}: at least 1 row expected")
        if len(set(self.changes)) != len(self.changes):
            raise InvalidInput(f"--changes {list(self.changes)}: a column is named twice")
        if not self.keep_levels and not self.changes:
            raise InvalidInput("--no-levels needs --changes COL (the columns to replace)")
        for name, sign in self.monotone:
            if sign not in (-1, 1):
                raise InvalidInput(f"--monotone {name}={sign}: +1 or -1 expected")

    @property
    def active(self) -> bool:
        return self != DriftOptions()

    def as_params(self) -> dict[str, object]:
        return {
            "drift.half_life": self.half_life if self.half_life is not None else "none",
            "drift.changes": ",".join(self.changes) or "none",
            "drift.change_window": self.change_window,
            "drift.keep_levels": self.keep_levels,
            "drift.monotone": ",".join(f"{n}={s:+d}" for n, s in self.monotone) or "none",
            "drift.recent_validation": self.recent_validation,
            "drift.recent_level": self.recent_level if self.recent_level is not None else "none",
        }


def parse_monotone(items: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """``["nr.employed=-1", "previous=+1"]`` -> ``(("nr.employed", -1), ("previous", 1))``."""
    out: list[tuple[str, int]] = []
    for item in items:
        name, sep, sign = item.rpartition("=")
        if not sep or not name or sign.strip() not in ("+1", "1", "-1"):
            raise InvalidInput(f"--monotone {item!r}: COLUMN=+1 or COLUMN=-1 expected")
        if any(name == seen for seen, _ in out):
            raise InvalidInput(f"--monotone {item!r}: column {name!r} is named twice")
        out.append((name, int(sign)))
    return tuple(out)


def recency_weights(rows: int, half_life: float | None) -> np.ndarray:
    """Weight of each of ``rows`` time-ordered rows: ``0.5 ** (age / half_life)``, newest = 1.

    >>> recency_weights(3, 1.0).tolist()
    [0.25, 0.5, 1.0]
    """
    if rows < 0:
        raise InvalidInput(f"rows {rows}: a count >= 0 expected")
    if half_life is None:
        return np.ones(rows)
    if not (math.isfinite(half_life) and half_life > 0):
        raise InvalidInput(f"half-life {half_life}: a positive number of rows expected")
    age = np.arange(rows - 1, -1, -1, dtype=np.float64)
    return np.maximum(np.exp2(-age / half_life), MIN_WEIGHT)


def _numeric(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise InvalidInput(
            f"--changes column {name!r} is not a feature (columns: {list(frame.columns)[:12]})"
        )
    series = frame[name]
    if ptypes.is_bool_dtype(series) or not ptypes.is_numeric_dtype(series):
        raise InvalidInput(
            f"--changes column {name!r} is {series.dtype}: a numeric column expected"
        )
    return series.astype(np.float64)


def past_changes(frame: pd.DataFrame, columns: Sequence[str], *, window: int) -> pd.DataFrame:
    """The change features of ``columns`` (see the module docstring), row by row in the order
    of ``frame``; a missing value gives missing features and is skipped by later rows."""
    if window < 1:
        raise InvalidInput(f"--change-window {window}: at least 1 row expected")
    out: dict[str, pd.Series] = {}
    for name in columns:
        series = _numeric(frame, name).reset_index(drop=True)
        present = series.dropna()
        values = present.to_numpy()
        starts = np.ones(len(values), dtype=bool)
        starts[1:] = values[1:] != values[:-1]
        run_id = np.cumsum(starts) - 1
        run_values = values[starts]
        previous = np.full(len(run_values), np.nan)
        previous[1:] = run_values[:-1]
        step = values - previous[run_id]
        run_start = np.flatnonzero(starts)[run_id]
        run = np.arange(len(values)) - run_start
        index = present.index
        prior_mean = series.shift(1).rolling(window, min_periods=1).mean()
        out[f"{name}.step"] = pd.Series(step, index=index).reindex(series.index)
        out[f"{name}.vs_mean"] = series - prior_mean
        out[f"{name}.run"] = pd.Series(run.astype(np.float64), index=index).reindex(series.index)
        moved = pd.Series(starts.astype(np.float64), index=index).reindex(series.index)
        out[f"{name}.moves"] = moved.fillna(0.0).rolling(window, min_periods=1).sum()
    result = pd.DataFrame(out)
    result.index = frame.index
    return result


def with_changes(frame: pd.DataFrame, options: DriftOptions) -> pd.DataFrame:
    """``frame`` with the change features of ``options.changes`` (and without their levels
    when ``keep_levels`` is off)."""
    if not options.changes:
        return frame
    clash = [c for c in frame.columns if str(c).endswith(CHANGE_SUFFIXES)]
    if clash:
        raise InvalidInput(
            f"columns {clash[:5]} end like change features ({', '.join(CHANGE_SUFFIXES)}): "
            "rename them or leave out --changes"
        )
    changes = past_changes(frame, options.changes, window=options.change_window)
    base = frame if options.keep_levels else frame.drop(columns=list(options.changes))
    return pd.concat([base, changes], axis=1)


def monotone_vector(
    names: Sequence[str], categorical: Sequence[int], options: DriftOptions
) -> list[int] | None:
    """LightGBM's ``monotone_constraints`` for the encoded columns ``names`` (None when no
    column is constrained); a constraint on an absent or categorical column is refused."""
    if not options.monotone:
        return None
    position = {name: i for i, name in enumerate(names)}
    vector = [0] * len(names)
    for name, sign in options.monotone:
        if name not in position:
            raise InvalidInput(f"--monotone column {name!r} is not a feature of this data")
        if position[name] in set(categorical):
            raise InvalidInput(f"--monotone column {name!r} is categorical: numeric expected")
        vector[position[name]] = sign
    return vector
