"""Logs in Open Bandit Dataset's layout (``item_id, position, click, propensity_score,
user_feature_*``; Saito et al., 2021), as Open Bandit Pipeline's ``OpenBanditDataset`` reads
them: rows sorted by timestamp, positions densely ranked from 0, the context the one-hot
encoding (first level dropped) of the ``user_feature_*`` columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InvalidInput

REQUIRED = ("item_id", "position", "click", "propensity_score")


@dataclass(frozen=True)
class ObdLog:
    context: np.ndarray
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    n_actions: int
    len_list: int
    path: str

    @property
    def n_rounds(self) -> int:
        return int(self.action.shape[0])


def read_obd_log(path: Path, *, n_actions: int | None = None) -> ObdLog:
    """Read one OBD-layout CSV (``.csv`` or ``.csv.gz``). ``n_actions`` defaults to the
    largest ``item_id`` + 1."""
    if not path.is_file():
        raise InvalidInput(f"log {str(path)!r} does not exist", field="log")
    try:
        frame = pd.read_csv(path, index_col=0)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"log {str(path)!r} is not a readable CSV: {exc}", field="log") from None
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"log {path.name}: column {missing[0]!r} is missing (OBD layout: "
            f"{', '.join(REQUIRED)}, user_feature_*)",
            field="log",
        )
    if frame.empty:
        raise InvalidInput(f"log {path.name} has no rows", field="log")
    if "timestamp" in frame.columns:
        frame = frame.sort_values("timestamp", kind="stable")
    for column in REQUIRED:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise InvalidInput(f"log {path.name}: column {column!r} must be numeric", field="log")
        if frame[column].isna().any():
            row = int(np.argmax(frame[column].isna().to_numpy()))
            raise InvalidInput(
                f"log {path.name}: {column} is empty in data row {row}", field=column
            )
    users = frame.loc[:, frame.columns.str.startswith("user_feature")]
    context = (
        pd.get_dummies(users.astype(str), drop_first=True).to_numpy(dtype=float)
        if users.shape[1]
        else np.zeros((len(frame), 0))
    )
    action = frame["item_id"].to_numpy()
    raw_position = frame["position"].to_numpy()
    levels = np.unique(raw_position)
    position = np.searchsorted(levels, raw_position)
    actions = int(action.max()) + 1 if n_actions is None else n_actions
    return ObdLog(
        context=context,
        action=action,
        position=position.astype(np.int64),
        reward=frame["click"].to_numpy(dtype=float),
        pscore=frame["propensity_score"].to_numpy(dtype=float),
        n_actions=actions,
        len_list=int(levels.size),
        path=str(path),
    )
