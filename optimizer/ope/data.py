"""Logged bandit feedback as typed arrays, checked once when built.

One row is one logged decision: the context ``x_i`` the logging policy saw, the action ``a_i``
it took, the reward ``r_i`` observed, the probability ``pscore_i = π_b(a_i | x_i)`` it had of
taking that action, and the evaluation policy's whole distribution over actions in the same
situation, ``action_dist[i, a] = π_e(a | x_i)``. Where actions are shown in positions (a
recommendation list), ``position[i]`` is the row's position and ``action_dist`` is the
evaluation policy's distribution at that position. The layout follows Open Bandit Pipeline's
``bandit_feedback`` (Saito et al., 2021), with ``action_dist`` already taken at each row's
position (OBP's ``action_dist[i, :, position[i]]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.errors import InvalidInput

# Rows of action_dist must sum to 1 within this (Monte-Carlo distributions are exact fractions).
SUM_TOLERANCE = 1e-6


def _finite(name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = index[0] if len(index) == 1 else index
        raise InvalidInput(
            f"{name}[{where}] = {float(values[index])!r}: must be a finite number (no NaN or infinity)",
            field=name,
        )


def _as_float(name: str, values: object, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name}: expected numbers", field=name) from None
    if array.ndim != ndim:
        raise InvalidInput(
            f"{name}: expected a {ndim}-dimensional array, got shape {array.shape}", field=name
        )
    _finite(name, array)
    return array


def _as_index(name: str, values: object, upper: int, what: str) -> np.ndarray:
    array = _as_float(name, values, 1)
    whole = array == np.round(array)
    if not whole.all():
        i = int(np.argmin(whole))
        raise InvalidInput(f"{name}[{i}] = {float(array[i])!r}: must be a whole number", field=name)
    outside = (array < 0) | (array >= upper)
    if outside.any():
        i = int(np.argmax(outside))
        raise InvalidInput(
            f"{name}[{i}] = {int(array[i])}: must be in 0..{upper - 1} ({what})", field=name
        )
    return array.astype(np.int64)


@dataclass(frozen=True)
class BanditFeedback:
    """Logged decisions and the evaluation policy's action probabilities, validated.

    ``context`` (n, d) float; ``action`` (n,) int in ``0..n_actions-1``; ``reward`` (n,) float;
    ``pscore`` (n,) in (0, 1]; ``action_dist`` (n, n_actions), rows summing to 1; ``position``
    (n,) int or None. Raises :class:`InvalidInput` naming the first offending value.
    """

    context: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    action_dist: np.ndarray
    position: np.ndarray | None = None

    def __post_init__(self) -> None:
        action_dist = _as_float("action_dist", self.action_dist, 2)
        n, n_actions = action_dist.shape
        if n == 0 or n_actions == 0:
            raise InvalidInput(
                f"action_dist: shape {action_dist.shape} has no rows or no actions",
                field="action_dist",
            )
        context = _as_float("context", self.context, 2)
        reward = _as_float("reward", self.reward, 1)
        pscore = _as_float("pscore", self.pscore, 1)
        lengths = {
            "context": context.shape[0],
            "action": np.shape(self.action)[0] if np.ndim(self.action) else -1,
            "reward": reward.shape[0],
            "pscore": pscore.shape[0],
            "action_dist": n,
        }
        if self.position is not None:
            lengths["position"] = np.shape(self.position)[0] if np.ndim(self.position) else -1
        if len(set(lengths.values())) != 1:
            listed = ", ".join(f"{k} {v}" for k, v in lengths.items())
            raise InvalidInput(f"arrays of different lengths: {listed}", field="action")
        action = _as_index("action", self.action, n_actions, f"{n_actions} actions")
        invalid = (pscore <= 0) | (pscore > 1)
        if invalid.any():
            i = int(np.argmax(invalid))
            raise InvalidInput(
                f"pscore[{i}] = {float(pscore[i])!r}: a logging propensity must be in (0, 1]",
                field="pscore",
            )
        negative = action_dist < 0
        if negative.any():
            i, a = (int(v) for v in np.argwhere(negative)[0])
            raise InvalidInput(
                f"action_dist[{i}, {a}] = {float(action_dist[i, a])!r}: probabilities must be >= 0",
                field="action_dist",
            )
        sums = action_dist.sum(axis=1)
        off = np.abs(sums - 1.0) > SUM_TOLERANCE
        if off.any():
            i = int(np.argmax(off))
            raise InvalidInput(
                f"action_dist row {i} sums to {float(sums[i]):.6g}: each row must sum to 1",
                field="action_dist",
            )
        position = None
        if self.position is not None:
            position = _as_index("position", self.position, np.iinfo(np.int32).max, "positions")
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "reward", reward)
        object.__setattr__(self, "pscore", pscore)
        object.__setattr__(self, "action_dist", action_dist)
        object.__setattr__(self, "position", position)

    @property
    def n_rounds(self) -> int:
        return int(self.action.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.action_dist.shape[1])

    @property
    def n_positions(self) -> int:
        return 1 if self.position is None else int(self.position.max()) + 1

    def importance_weights(self) -> np.ndarray:
        """``w_i = π_e(a_i | x_i) / π_b(a_i | x_i)``."""
        return self.action_dist[np.arange(self.n_rounds), self.action] / self.pscore

    def take(self, rows: np.ndarray) -> BanditFeedback:
        """The feedback of ``rows`` (e.g. a bootstrap resample)."""
        return BanditFeedback(
            context=self.context[rows],
            action=self.action[rows],
            reward=self.reward[rows],
            pscore=self.pscore[rows],
            action_dist=self.action_dist[rows],
            position=None if self.position is None else self.position[rows],
        )


def at_positions(action_dist: np.ndarray, position: np.ndarray) -> np.ndarray:
    """OBP's ``(n, n_actions, len_list)`` distribution taken at each row's position:
    ``(n, n_actions)``."""
    array = np.asarray(action_dist, dtype=float)
    pos = np.asarray(position, dtype=np.int64)
    if array.ndim != 3 or array.shape[0] != pos.shape[0]:
        raise InvalidInput(
            f"action_dist: expected shape (n, n_actions, len_list) with n = {pos.shape[0]}, "
            f"got {array.shape}",
            field="action_dist",
        )
    if pos.size and (pos.min() < 0 or pos.max() >= array.shape[2]):
        raise InvalidInput(
            f"position {int(pos.max())}: must be in 0..{array.shape[2] - 1}", field="position"
        )
    return array[np.arange(pos.shape[0]), :, pos]
