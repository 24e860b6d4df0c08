"""A randomised experiment's table as uplift training data: features, outcome, treatment flag.

Bad input is refused with an :class:`~optimizer.errors.InvalidInput` naming the column and the
values found: a missing column, a control or treated value that does not occur, an ambiguous
treatment (more than one non-control value and no ``treated``), a missing treatment or outcome
value, a non-binary outcome for ``outcome='binary'``, a non-numeric one for ``'continuous'``.
Missing feature values are kept (LightGBM routes them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from optimizer.errors import InvalidInput
from optimizer.models.uplift import OUTCOMES, Outcome
from training.datasets import clean_features, file_digest, read_table, values_text

MIN_GROUP_ROWS = 20


@dataclass(frozen=True)
class UpliftData:
    frame: pd.DataFrame  # feature columns only
    y: np.ndarray  # float64: 0/1 for a binary outcome
    treatment: np.ndarray  # int64: 1 treated, 0 control
    name: str
    source: str
    digest: str
    feature_source: str
    target: str
    outcome: Outcome
    treatment_column: str
    control: str
    treated: str
    warnings: tuple[str, ...] = ()
    # The probability each row had of the arm it is in (a randomised holdout: 1 − share for a
    # treated row, share for a control row), and the inverse-propensity weights the learners
    # fit with (normalised to mean 1); None for a file, whose rows count equally.
    propensity: np.ndarray | None = None
    weight: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def treated_share(self) -> float:
        return float(self.treatment.mean())

    @property
    def weighted_treated_share(self) -> float:
        """The treated share the learners see (the plain share when rows are not weighted)."""
        if self.weight is None:
            return self.treated_share
        return float(self.weight[self.treatment == 1].sum() / self.weight.sum())


def _text(series: pd.Series) -> pd.Series:
    """Values as the text a user types: integral floats without '.0' (a column with NaN)."""
    if ptypes.is_float_dtype(series):
        whole = series.dropna()
        if (whole == whole.round()).all():
            return series.map(lambda v: str(int(v)) if pd.notna(v) else v)
    return series.astype("str").str.strip()


def _treatment(
    column: pd.Series, *, name: str, control: str, treated: str | None
) -> tuple[pd.Series, str]:
    """(mask of the rows kept, the treated value)."""
    missing = int(column.isna().sum())
    if missing:
        raise InvalidInput(f"treatment column {name!r} has {missing} rows without a value")
    text = _text(column)
    distinct = sorted(text.unique(), key=str)
    if control not in distinct:
        raise InvalidInput(
            f"--control {control!r} is not a value of treatment column {name!r} "
            f"(values found: {values_text(distinct)})"
        )
    others = [v for v in distinct if v != control]
    if treated is None:
        if len(others) != 1:
            raise InvalidInput(
                f"treatment column {name!r} has {len(others)} values besides the control "
                f"{control!r} ({values_text(others)}): pass --treated VALUE"
                if others
                else f"treatment column {name!r} holds the control {control!r} only"
            )
        treated = others[0]
    elif treated not in distinct:
        raise InvalidInput(
            f"--treated {treated!r} is not a value of treatment column {name!r} "
            f"(values found: {values_text(distinct)})"
        )
    elif treated == control:
        raise InvalidInput(f"--treated and --control are both {control!r}")
    return text.isin([control, treated]), treated


def _outcome(series: pd.Series, *, name: str, outcome: Outcome) -> np.ndarray:
    missing = int(series.isna().sum())
    if missing:
        raise InvalidInput(f"target column {name!r} has {missing} rows without a value (NaN)")
    if outcome == "continuous":
        numbers = pd.to_numeric(series, errors="coerce")
        bad = series[numbers.isna()]
        if len(bad):
            raise InvalidInput(
                f"target column {name!r} is not numeric: {len(bad)} rows like "
                f"{values_text(list(bad.astype('str').unique()), 3)}"
            )
        values = numbers.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise InvalidInput(f"target column {name!r} holds an infinite value")
        return values
    text = _text(series).str.lower()
    distinct = sorted(text.unique())
    mapping = {"0": 0.0, "1": 1.0, "false": 0.0, "true": 1.0}
    if not set(distinct) <= set(mapping):
        raise InvalidInput(
            f"target column {name!r} is not binary (0/1 or true/false): {len(distinct)} "
            f"distinct values ({values_text(distinct)}); for revenue pass --outcome continuous"
        )
    return text.map(mapping).to_numpy(dtype=np.float64)


def load_uplift_csv(
    path: Path,
    *,
    treatment: str,
    control: str,
    target: str,
    treated: str | None = None,
    outcome: Outcome = "binary",
    sep: str | None = None,
    drop: Sequence[str] = (),
) -> UpliftData:
    """Read a randomised experiment's table; rows of other treatment arms are left out."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"--outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    frame, used_sep = read_table(path, sep)
    columns = list(frame.columns)
    for option, name in (
        ("--treatment", treatment),
        ("--target", target),
        *(("--drop", d) for d in drop),
    ):
        if name not in columns:
            hint = (
                f" (the file was read as one column with separator {used_sep!r}: try --sep)"
                if len(columns) == 1
                else ""
            )
            raise InvalidInput(
                f"{option} column {name!r} is not in {str(path)!r} "
                f"(columns: {values_text(columns, 12)}){hint}"
            )
    if treatment == target:
        raise InvalidInput(f"--treatment and --target are both {target!r}")
    keep, treated_value = _treatment(
        frame[treatment], name=treatment, control=control, treated=treated
    )
    warnings: list[str] = []
    left_out = int((~keep).sum())
    if left_out:
        warnings.append(
            f"{left_out} rows with other values of {treatment!r} (neither {control!r} nor "
            f"{treated_value!r}) left out"
        )
    frame = frame.loc[keep].reset_index(drop=True)
    flags = (_text(frame[treatment]) == treated_value).to_numpy().astype(np.int64)
    y = _outcome(frame[target], name=target, outcome=outcome)
    for label, count in (("treated", int(flags.sum())), ("control", int(len(flags) - flags.sum()))):
        if count < MIN_GROUP_ROWS:
            raise InvalidInput(
                f"the {label} group has {count} rows (at least {MIN_GROUP_ROWS} needed)"
            )
    if outcome == "binary" and not 0 < y.sum() < len(y):
        raise InvalidInput(f"target column {target!r} has one class only in the kept rows")
    features, cleaning = clean_features(frame.drop(columns=[treatment, target, *drop]))
    warnings.extend(cleaning)
    if features.shape[1] == 0:
        raise InvalidInput(f"{str(path)!r} has no feature columns left")
    column_digest = hashlib.sha256("\x1f".join(features.columns).encode()).hexdigest()[:12]
    return UpliftData(
        frame=features,
        y=y,
        treatment=flags,
        name=path.name,
        source=str(path),
        digest=file_digest(path),
        feature_source=f"csv:{column_digest}",
        target=target,
        outcome=outcome,
        treatment_column=treatment,
        control=control,
        treated=treated_value,
        warnings=tuple(warnings),
    )
