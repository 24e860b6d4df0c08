"""Turn a feature DataFrame into the float matrix a model reads, the same way at fit and serve.

A :class:`FeatureSpec` is fitted once on training rows and saved with the model (JSON). Numeric
and boolean columns pass through as floats; text columns become integer category codes (the most
frequent categories seen in training; every other value shares one "other" code, a missing
value stays NaN); datetime columns become days since 1970-01-01 (UTC).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from optimizer.errors import InvalidInput

ColumnKind = Literal["numeric", "categorical", "datetime"]

MAX_CATEGORIES = 200
MIN_CATEGORY_ROWS = 5
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: ColumnKind
    # For categorical columns: code i is categories[i]; len(categories) is the "other" code.
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureSpec:
    """The columns a model was trained on, in order, and how each is encoded."""

    columns: tuple[ColumnSpec, ...]
    source: str  # where the features come from: "store:v1" or "csv:<digest>"

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        """The column names in order (derived once: the single-lead path reads them twice)."""
        return tuple(c.name for c in self.columns)

    @property
    def categorical_indices(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.columns) if c.kind == "categorical")

    def missing_columns(self, columns: Sequence[str]) -> tuple[str, ...]:
        present = set(columns)
        return tuple(name for name in self.names if name not in present)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Float64 matrix (rows of ``frame`` × ``self.columns``); missing columns are refused."""
        missing = self.missing_columns(list(frame.columns))
        if missing:
            raise InvalidInput(
                f"features {list(missing)[:10]} are missing (the model was trained on "
                f"{len(self.columns)} columns from {self.source})"
            )
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, col in enumerate(self.columns):
            out[:, j] = _encode_column(frame[col.name], col)
        return out

    def encode_row(self, values: dict[str, object]) -> np.ndarray:
        """One lead as a (1, n_features) matrix without building a DataFrame (the fast path)."""
        out = np.empty((1, len(self.columns)), dtype=np.float64)
        for j, col in enumerate(self.columns):
            out[0, j] = _encode_scalar(values.get(col.name), col)
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "columns": [
                {"name": c.name, "kind": c.kind, "categories": list(c.categories)}
                for c in self.columns
            ],
        }

    @classmethod
    def from_json(cls, payload: dict[str, object]) -> FeatureSpec:
        raw_columns = payload["columns"]
        assert isinstance(raw_columns, list)
        columns = tuple(
            ColumnSpec(name=c["name"], kind=c["kind"], categories=tuple(c["categories"]))
            for c in raw_columns
        )
        return cls(columns=columns, source=str(payload["source"]))

    def digest(self) -> str:
        """Short hash of the column names and kinds (not the categories)."""
        text = json.dumps([[c.name, c.kind] for c in self.columns])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def fit_spec(
    frame: pd.DataFrame,
    *,
    source: str,
    max_categories: int = MAX_CATEGORIES,
    min_category_rows: int = MIN_CATEGORY_ROWS,
) -> FeatureSpec:
    """Choose each column's encoding from training rows.

    Categories: those seen in at least ``min_category_rows`` rows, the ``max_categories`` most
    frequent (ties broken by value), so a high-cardinality column cannot explode the model.
    """
    columns = []
    for name in frame.columns:
        series = frame[name]
        if ptypes.is_bool_dtype(series) or ptypes.is_numeric_dtype(series):
            columns.append(ColumnSpec(str(name), "numeric"))
        elif ptypes.is_datetime64_any_dtype(series):
            columns.append(ColumnSpec(str(name), "datetime"))
        else:
            counts = series.dropna().astype(str).value_counts()
            counts = counts[counts >= min_category_rows]
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
            columns.append(ColumnSpec(str(name), "categorical", tuple(str(k) for k, _ in ordered)))
    return FeatureSpec(columns=tuple(columns), source=source)


def _encode_column(series: pd.Series, col: ColumnSpec) -> np.ndarray:
    if col.kind == "numeric":
        if ptypes.is_bool_dtype(series) or ptypes.is_numeric_dtype(series):
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if col.kind == "datetime":
        stamps = pd.to_datetime(series, errors="coerce", utc=True)
        values = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        values[stamps.isna().to_numpy()] = np.nan
        return values / _NS_PER_DAY
    if not ptypes.is_string_dtype(series):
        series = series.astype("str").where(series.notna())
    isna = series.isna().to_numpy()
    try:
        # Arrow-backed text (pandas 3 "str"): look the values up in Arrow, without Python objects.
        values = pa.array(series.array)
        found = pc.index_in(values, value_set=pa.array(col.categories, pa.string()))
        codes = found.to_numpy(zero_copy_only=False).astype(np.float64)
        codes[np.isnan(codes)] = -1.0
    except (pa.ArrowException, TypeError, ValueError):
        index = pd.Index(col.categories, dtype=object)
        codes = index.get_indexer(series.astype(object)).astype(np.float64)
    codes[(codes < 0) & ~isna] = len(col.categories)
    codes[isna] = np.nan
    return codes


def _encode_scalar(value: object, col: ColumnSpec) -> float:
    if value is None:
        return math.nan
    if col.kind == "numeric":
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return math.nan
        return number
    if col.kind == "datetime":
        stamp = pd.to_datetime(value, errors="coerce", utc=True)
        if pd.isna(stamp):
            return math.nan
        return float(stamp.value) / _NS_PER_DAY
    if isinstance(value, float) and math.isnan(value):
        return math.nan
    text = str(value)
    try:
        return float(col.categories.index(text))
    except ValueError:
        return float(len(col.categories))
