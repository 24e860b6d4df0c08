"""A lead's record as of a time, from its current row and the append-only ``lead_changes``.

Every update of a lead records, per changed field, ``{"from": old, "to": new}`` at
``changed_at``. A lead's record as of ``t`` is its current row with every change made at or after
``t`` undone, newest first: a change counts from the instant after it was made, as an event does
(features read events strictly before ``t``). So a training row for a send at ``t`` carries the
source, state, zone and attributes the lead had then, not the ones it was given later.

:func:`record_as_of` is the per-row definition; :func:`lead_versions` is the frame form that
``build_features`` selects from (one row per version, valid for ``as_of <= valid_until``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

# The lead fields a change may carry that features read.
VERSIONED_FIELDS = ("source", "vertical", "state", "timezone", "attributes")
# "valid until" of a lead's current record.
FOREVER = pd.Timestamp.max.tz_localize("UTC")

Change = tuple[dt.datetime, Mapping[str, Any]]  # (changed_at, changes)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def record_as_of(
    current: Mapping[str, Any], changes: Iterable[Change], as_of: dt.datetime
) -> dict[str, Any]:
    """The record ``current`` had at ``as_of``: changes made at or after ``as_of`` undone."""
    record = dict(current)
    later = [c for c in changes if _aware(c[0]) >= as_of]
    for _at, change in sorted(later, key=lambda c: _aware(c[0]), reverse=True):
        for name, delta in change.items():
            if name in VERSIONED_FIELDS and isinstance(delta, Mapping) and "from" in delta:
                record[name] = delta["from"]
    return record


def lead_versions(leads: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """``leads`` (one current row per lead) as versions: a ``valid_until`` column, and for each
    lead with changes one more row per change (its record before that change).

    ``changes`` has ``lead_id``, ``changed_at`` (aware) and ``changes`` (the recorded dict).
    """
    out = leads.copy()
    out["valid_until"] = pd.Series(FOREVER, index=out.index, dtype="datetime64[ns, UTC]")
    if changes.empty:
        return out
    ordered = changes.assign(changed_at=pd.to_datetime(changes["changed_at"], utc=True))
    ordered = ordered.sort_values(["lead_id", "changed_at"], ascending=[True, False], kind="stable")
    current = out.set_index(out["lead_id"].astype(np.int64), drop=False)
    extra: list[dict[str, Any]] = []
    for lead_id, group in ordered.groupby("lead_id", sort=False):
        if int(lead_id) not in current.index:
            continue
        record = current.loc[int(lead_id)].to_dict()
        for at, change in zip(group["changed_at"], group["changes"], strict=True):
            record = dict(record)
            for name, delta in (change or {}).items():
                if name in VERSIONED_FIELDS and isinstance(delta, Mapping) and "from" in delta:
                    record[name] = delta["from"]
            record["valid_until"] = at
            extra.append(record)
    if not extra:
        return out
    versions = pd.DataFrame(extra, columns=out.columns)
    versions["valid_until"] = pd.to_datetime(versions["valid_until"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    return pd.concat([out, versions], ignore_index=True)


def select_versions(versions: pd.DataFrame, lead_ids: np.ndarray, as_of: pd.Series) -> pd.DataFrame:
    """For each request (``lead_ids[i]`` at ``as_of[i]``), its lead's version in effect: the one
    with the earliest ``valid_until`` at or after ``as_of``. Rows in request order; a lead not
    in ``versions`` gives a row of missing values."""
    n = len(lead_ids)
    req = pd.DataFrame(
        {
            "_row": np.arange(n),
            "lead_id": np.asarray(lead_ids, dtype=np.int64),
            "as_of": as_of.to_numpy(),
        }
    ).sort_values("as_of", kind="stable")
    table = versions.assign(lead_id=versions["lead_id"].astype(np.int64))
    table = table.sort_values("valid_until", kind="stable")
    joined = pd.merge_asof(
        req,
        table,
        left_on="as_of",
        right_on="valid_until",
        by="lead_id",
        direction="forward",
        allow_exact_matches=True,
    )
    joined = joined.sort_values("_row", kind="stable").reset_index(drop=True)
    return joined.drop(columns=["_row", "as_of", "valid_until"])
