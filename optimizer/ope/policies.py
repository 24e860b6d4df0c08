"""Evaluation policies' action distributions for context-free policies.

``bernoulli_ts_action_dist`` is Bernoulli Thompson sampling's probability of showing each action
in each of ``len_list`` positions, by Monte Carlo as Open Bandit Pipeline's
``BernoulliTS.compute_batch_action_dist`` does: draw one Beta(α_a, β_a) sample per action, rank
the actions by the draw, and count which action lands in each position, over ``n_sim`` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimizer.errors import InvalidInput

_CHUNK = 50_000


@dataclass(frozen=True)
class BetaPrior:
    alpha: np.ndarray
    beta: np.ndarray

    def __post_init__(self) -> None:
        alpha = np.asarray(self.alpha, dtype=float)
        beta = np.asarray(self.beta, dtype=float)
        if alpha.ndim != 1 or alpha.shape != beta.shape or alpha.size == 0:
            raise InvalidInput(
                f"prior: alpha {alpha.shape} and beta {beta.shape} must be equal-length lists",
                field="prior",
            )
        for name, values in (("alpha", alpha), ("beta", beta)):
            bad = ~(np.isfinite(values) & (values > 0))
            if bad.any():
                i = int(np.argmax(bad))
                raise InvalidInput(
                    f"prior {name}[{i}] = {float(values[i])!r}: must be a positive number",
                    field=name,
                )
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)

    @property
    def n_actions(self) -> int:
        return int(self.alpha.shape[0])


def load_bts_prior(path: Path, campaign: str) -> BetaPrior:
    """The Beta prior of ``campaign`` in an OBP ``prior_bts.yaml``
    (``{campaign: {alpha: [...], beta: [...]}}``)."""
    import yaml

    if not path.is_file():
        raise InvalidInput(f"prior file {str(path)!r} does not exist", field="prior")
    with path.open("rb") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict) or campaign not in data:
        known = ", ".join(sorted(data)) if isinstance(data, dict) else "none"
        raise InvalidInput(
            f"campaign {campaign!r} is not in {path.name} (campaigns: {known})", field="campaign"
        )
    entry = data[campaign]
    if not isinstance(entry, dict) or "alpha" not in entry or "beta" not in entry:
        raise InvalidInput(f"campaign {campaign!r} in {path.name} lacks alpha/beta", field="prior")
    return BetaPrior(np.asarray(entry["alpha"], float), np.asarray(entry["beta"], float))


def uniform_action_dist(n_actions: int, len_list: int = 1) -> np.ndarray:
    """(n_actions, len_list): every action equally likely in every position."""
    if n_actions < 1 or len_list < 1:
        raise InvalidInput(f"n_actions {n_actions} / len_list {len_list}: at least 1")
    return np.full((n_actions, len_list), 1.0 / n_actions)


def bernoulli_ts_action_dist(
    prior: BetaPrior, *, len_list: int, n_sim: int, seed: int
) -> np.ndarray:
    """(n_actions, len_list): the share of ``n_sim`` Thompson draws that put each action in
    each position (columns sum to 1)."""
    if not 1 <= len_list <= prior.n_actions:
        raise InvalidInput(
            f"len_list {len_list}: must be in 1..{prior.n_actions}", field="len_list"
        )
    if n_sim < 1:
        raise InvalidInput(f"n_sim {n_sim}: at least 1", field="n_sim")
    rng = np.random.default_rng(seed)
    counts = np.zeros((prior.n_actions, len_list))
    done = 0
    while done < n_sim:
        size = min(_CHUNK, n_sim - done)
        draws = rng.beta(prior.alpha, prior.beta, size=(size, prior.n_actions))
        top = np.argsort(-draws, axis=1)[:, :len_list]
        for pos in range(len_list):
            counts[:, pos] += np.bincount(top[:, pos], minlength=prior.n_actions)
        done += size
    return counts / n_sim
