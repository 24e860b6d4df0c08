"""Training data sets: a labelled feature frame with its name, size, hash and order.

:func:`load_csv` reads any reasonable tabular file (a team's own history). Bad input is refused
with an :class:`~optimizer.errors.InvalidInput` naming the file, column and values found.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from optimizer.errors import InvalidInput

POSITIVE_WORDS = ("1", "1.0", "true", "yes", "y", "t", "positive", "pos", "converted")
MIN_CLASS_ROWS = 5
_SEPARATORS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class TrainingData:
    frame: pd.DataFrame  # feature columns only, in time order when time_ordered
    y: np.ndarray  # int64 0/1
    name: str
    source: str  # file path, or "store"
    digest: str  # sha256 of the file bytes (or of the rows for the store)
    time_ordered: bool
    feature_source: str  # "csv:<digest of columns>" or "store:v1"
    target: str
    positive: str
    warnings: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return len(self.frame)


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _first_line(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            return handle.readline()
    except (OSError, EOFError) as exc:
        raise InvalidInput(f"file {str(path)!r} cannot be read: {exc}") from exc


def sniff_separator(header: str) -> str:
    """The separator that splits the header line into the most fields (',' by default)."""
    counts = {sep: len(next(csv.reader(io.StringIO(header), delimiter=sep))) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: (counts[sep], sep == ","))
    return best if counts[best] > 1 else ","


def _read(path: Path, sep: str | None) -> tuple[pd.DataFrame, str]:
    if not path.exists():
        raise InvalidInput(f"file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise InvalidInput(f"file {str(path)!r} is empty (a header and data rows expected)")
    header = _first_line(path)
    if not header.strip():
        raise InvalidInput(f"file {str(path)!r} is empty (a header and data rows expected)")
    sep = sep or sniff_separator(header)
    try:
        frame = pd.read_csv(path, sep=sep, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput(
            f"file {str(path)!r} is empty (a header and data rows expected)"
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"file {str(path)!r} cannot be read as a table with separator {sep!r}: {first}"
        ) from exc
    if frame.empty:
        raise InvalidInput(f"file {str(path)!r} has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, sep


def read_table(path: Path, sep: str | None = None) -> tuple[pd.DataFrame, str]:
    """The table in ``path`` (separator sniffed unless given) and the separator used."""
    return _read(path, sep)


def values_text(values: Sequence[object], limit: int = 8) -> str:
    """Up to ``limit`` values, quoted, for an error message."""
    return _values_text(values, limit)


def _values_text(values: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def binarize_target(
    series: pd.Series, *, column: str, positive: str | None
) -> tuple[np.ndarray, str]:
    """0/1 labels from a target column; refuses anything that is not two classes."""
    values = series.dropna()
    distinct = sorted({str(v) for v in values.unique()}, key=str)
    if positive is not None:
        if positive not in distinct:
            raise InvalidInput(
                f"--positive {positive!r} is not a value of target column {column!r} "
                f"(values found: {_values_text(distinct)})"
            )
        chosen = positive
    else:
        if len(distinct) == 2:
            lower = {v.lower(): v for v in distinct}
            hits = [lower[w] for w in POSITIVE_WORDS if w in lower]
            if not hits:
                raise InvalidInput(
                    f"target column {column!r} has values {_values_text(distinct)}: "
                    "pass --positive VALUE to say which one is the positive class"
                )
            chosen = hits[0]
        elif len(distinct) < 2:
            raise InvalidInput(
                f"target column {column!r} has one class only "
                f"(values found: {_values_text(distinct) or 'none'}); two classes are needed"
            )
        else:
            raise InvalidInput(
                f"target column {column!r} is not binary: {len(distinct)} distinct values "
                f"({_values_text(distinct)}); pass --positive VALUE for one-vs-rest"
            )
    labels = (series.astype("str") == chosen).to_numpy() & series.notna().to_numpy()
    y = labels.astype(np.int64)
    for cls_value, count in ((1, int(y.sum())), (0, int(len(y) - y.sum()))):
        if count < MIN_CLASS_ROWS:
            kind = f"positive ({chosen!r})" if cls_value == 1 else f"negative (not {chosen!r})"
            raise InvalidInput(
                f"target column {column!r} has {count} {kind} rows "
                f"(at least {MIN_CLASS_ROWS} of each class needed; values found: "
                f"{_values_text(distinct)})"
            )
    return y, chosen


def _looks_like_dates(series: pd.Series) -> bool:
    sample = series.dropna().astype("str").head(200)
    if sample.empty or not sample.str.contains(r"\d{4}-\d{2}-\d{2}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="ISO8601")
    return bool(parsed.notna().mean() >= 0.95)


def clean_features(frame: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Drop ID-like and constant columns (with a warning each); parse ISO date columns."""
    warnings: list[str] = []
    keep = {}
    n = len(frame)
    for name in frame.columns:
        series = frame[name]
        unique = series.nunique(dropna=True)
        is_text = not (ptypes.is_numeric_dtype(series) or ptypes.is_bool_dtype(series))
        if unique <= 1:
            warnings.append(f"column {name!r} has a single value: dropped")
            continue
        if is_text and _looks_like_dates(series):
            keep[name] = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
            continue
        if n >= 20 and unique == n and (is_text or ptypes.is_integer_dtype(series)):
            warnings.append(f"column {name!r} looks like an ID (every value is unique): dropped")
            continue
        keep[name] = series
    return pd.DataFrame(keep, index=frame.index), tuple(warnings)


def load_csv(
    path: Path,
    *,
    target: str,
    positive: str | None = None,
    sep: str | None = None,
    drop: Sequence[str] = (),
    time_order: bool = False,
) -> TrainingData:
    """Read a labelled table; the separator is sniffed from the header unless given."""
    frame, used_sep = _read(path, sep)
    columns = list(frame.columns)
    if target not in columns:
        hint = ""
        if len(columns) == 1:
            hint = f" (the file was read as one column with separator {used_sep!r}: try --sep)"
        raise InvalidInput(
            f"target column {target!r} is not in {str(path)!r} "
            f"(columns: {_values_text(columns, 12)}){hint}"
        )
    for name in drop:
        if name not in columns:
            raise InvalidInput(
                f"--drop column {name!r} is not in {str(path)!r} (columns: {_values_text(columns, 12)})"
            )
        if name == target:
            raise InvalidInput(f"--drop column {name!r} is the target")
    warnings: list[str] = []
    missing_target = frame[target].isna()
    if missing_target.all():
        raise InvalidInput(f"target column {target!r} is empty in every row")
    if missing_target.any():
        warnings.append(f"{int(missing_target.sum())} rows without a target value: dropped")
        frame = frame.loc[~missing_target].reset_index(drop=True)
    y, chosen = binarize_target(frame[target], column=target, positive=positive)
    features, cleaning = clean_features(frame.drop(columns=[target, *drop]))
    warnings.extend(cleaning)
    if features.shape[1] == 0:
        raise InvalidInput(f"{str(path)!r} has no feature columns left after dropping {list(drop)}")
    column_digest = hashlib.sha256("\x1f".join(features.columns).encode()).hexdigest()[:12]
    return TrainingData(
        frame=features,
        y=y,
        name=path.name,
        source=str(path),
        digest=file_digest(path),
        time_ordered=time_order,
        feature_source=f"csv:{column_digest}",
        target=target,
        positive=chosen,
        warnings=tuple(warnings),
    )
