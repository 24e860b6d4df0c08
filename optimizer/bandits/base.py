"""What every policy shares: the choice it returns, its state, and the safeguards.

A policy sees its arms as indices ``0 .. n_arms - 1`` and keeps, per arm, the sufficient
statistics of the rewards it was told about (pulls, sum, sum of squares). Safeguards wrap the
policy's own probabilities the same way for every policy:

* **burn-in** — until every eligible arm has ``burn_in`` pulls, arms are chosen uniformly;
* **minimum share** — each eligible arm keeps at least ``min_share`` of the traffic:
  ``p' = min_share + (1 - k * min_share) * p`` (a mixture, so the propensity stays exact).

The propensity of a choice is the probability with which *this* randomisation picked the arm.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from optimizer.errors import InvalidInput

STATE_VERSION = 1

ParamValue = float | int | str | tuple[float, ...] | None

# (generator, eligible arm indices) -> (a position in them, their probabilities).
Pick = Callable[[np.random.Generator, np.ndarray], tuple[int, np.ndarray]]


@dataclass(frozen=True, slots=True)
class Choice:
    """The arm a policy picked, the probability it had of picking it, and why."""

    arm: int
    propensity: float
    reason: str = "policy"  # policy | burn_in | min_share | only_arm
    # Probability of every arm in this choice (0 for ineligible ones): what the sample-ratio
    # check expects when eligibility differs from one decision to the next.
    probabilities: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ArmState:
    pulls: int
    reward_sum: float
    reward_sum_sq: float


@dataclass(frozen=True)
class PolicyState:
    """Serialisable state of a policy: name, parameters and per-arm sufficient statistics."""

    policy: str
    n_arms: int
    params: Mapping[str, ParamValue]
    arms: tuple[ArmState, ...]
    version: int = STATE_VERSION
    # A contextual policy's statistics per segment (segment key -> one ArmState per arm);
    # empty for the others, and then absent from the JSON.
    segments: Mapping[str, tuple[ArmState, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "version": self.version,
            "policy": self.policy,
            "n_arms": self.n_arms,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
            "arms": [_arm_dict(a) for a in self.arms],
        }
        if self.segments:
            out["segments"] = {
                key: [_arm_dict(a) for a in arms] for key, arms in sorted(self.segments.items())
            }
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PolicyState:
        version = data.get("version")
        if version != STATE_VERSION:
            raise InvalidInput(
                f"policy state version {version!r} is not supported (expected {STATE_VERSION})",
                field="version",
            )
        try:
            raw_params = data["params"]
            raw_arms = data["arms"]
            assert isinstance(raw_params, Mapping) and isinstance(raw_arms, list)
            params = {
                str(k): tuple(float(x) for x in v) if isinstance(v, list) else v
                for k, v in raw_params.items()
            }
            arms = tuple(_arm_state(a) for a in raw_arms)
            n_arms = data["n_arms"]
            assert isinstance(n_arms, int)
            raw_segments = data.get("segments", {})
            assert isinstance(raw_segments, Mapping)
            segments = {}
            for key, rows in raw_segments.items():
                assert isinstance(rows, list)
                segments[str(key)] = tuple(_arm_state(a) for a in rows)
            return cls(str(data["policy"]), n_arms, params, arms, segments=segments)
        except (KeyError, TypeError, ValueError, AssertionError) as exc:
            raise InvalidInput(f"policy state is malformed: {exc!r}", field="state") from exc

    @classmethod
    def from_json(cls, text: str) -> PolicyState:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"policy state is not valid JSON: {exc}", field="state") from exc
        if not isinstance(data, dict):
            raise InvalidInput("policy state must be a JSON object", field="state")
        return cls.from_dict(data)


def _arm_dict(arm: ArmState) -> dict[str, float | int]:
    return {"pulls": arm.pulls, "reward_sum": arm.reward_sum, "reward_sum_sq": arm.reward_sum_sq}


def _arm_state(raw: object) -> ArmState:
    assert isinstance(raw, Mapping)
    return ArmState(int(raw["pulls"]), float(raw["reward_sum"]), float(raw["reward_sum_sq"]))


@runtime_checkable
class Policy(Protocol):
    """What the engine, the replay and the decision service rely on."""

    name: ClassVar[str]
    n_arms: int

    def select(self, rng: np.random.Generator, eligible: Sequence[int] | None = None) -> Choice: ...

    def probabilities(
        self, rng: np.random.Generator, eligible: Sequence[int] | None = None
    ) -> np.ndarray: ...

    def update(self, arm: int, reward: float) -> None: ...

    def state(self) -> PolicyState: ...


@dataclass
class BasePolicy:
    """Arm statistics, parameter checks and the safeguards; subclasses give ``_pick``."""

    name: ClassVar[str] = "base"
    adaptive: ClassVar[bool] = True

    n_arms: int
    burn_in: int = 50
    min_share: float = 0.01
    pulls: np.ndarray = field(init=False, repr=False)
    sums: np.ndarray = field(init=False, repr=False)
    sums_sq: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.n_arms, bool) or not isinstance(self.n_arms, int) or self.n_arms < 2:
            raise InvalidInput(f"n_arms {self.n_arms!r}: at least 2 arms expected", field="n_arms")
        if self.burn_in < 0:
            raise InvalidInput(f"burn_in {self.burn_in!r}: must be >= 0", field="burn_in")
        if not 0.0 <= self.min_share <= 1.0 / self.n_arms:
            raise InvalidInput(
                f"min_share {self.min_share!r}: must be between 0 and 1/n_arms "
                f"({1.0 / self.n_arms:.4f})",
                field="min_share",
            )
        self.pulls = np.zeros(self.n_arms, dtype=np.int64)
        self.sums = np.zeros(self.n_arms)
        self.sums_sq = np.zeros(self.n_arms)
        self._all = np.arange(self.n_arms)
        self._check_params()

    # -- for subclasses -------------------------------------------------------------------
    def _check_params(self) -> None:
        """Validate policy-specific parameters (raise InvalidInput naming the value)."""

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        """The policy's own pick (a position in ``idx``) and its probabilities over ``idx``."""
        raise NotImplementedError

    def _changed(self, arm: int) -> None:
        """Hook: the statistics of ``arm`` changed (policies with caches invalidate them)."""

    def _check_reward(self, reward: float) -> float:
        value = float(reward)
        if not np.isfinite(value):
            raise InvalidInput(f"reward {reward!r} is not a finite number", field="reward")
        return value

    def params(self) -> dict[str, ParamValue]:
        return {"burn_in": self.burn_in, "min_share": self.min_share}

    # -- the protocol ---------------------------------------------------------------------
    def _eligible(self, eligible: Sequence[int] | None) -> np.ndarray:
        if eligible is None:
            return self._all
        idx = np.unique(np.asarray(eligible, dtype=np.int64))
        if idx.size == 0:
            raise InvalidInput("eligible arms: the set is empty (at least one arm expected)")
        if idx[0] < 0 or idx[-1] >= self.n_arms:
            raise InvalidInput(
                f"eligible arms {list(map(int, idx))}: indices must be in 0..{self.n_arms - 1}"
            )
        return idx

    def _distribution(
        self, rng: np.random.Generator, idx: np.ndarray, pick: Pick | None = None
    ) -> tuple[int, np.ndarray, str]:
        """The safeguards around ``pick`` (the policy's own ``_pick`` when None)."""
        k = idx.size
        if k == 1:
            return 0, np.ones(1), "only_arm"
        if self.burn_in and int(self.pulls[idx].min()) < self.burn_in:
            return int(rng.integers(k)), np.full(k, 1.0 / k), "burn_in"
        pos, probs = (pick or self._pick)(rng, idx)
        explore = k * self.min_share
        if explore <= 0.0:
            return pos, probs, "policy"
        mixed = self.min_share + (1.0 - explore) * probs
        if rng.random() < explore:
            return int(rng.integers(k)), mixed, "min_share"
        return pos, mixed, "policy"

    def select(self, rng: np.random.Generator, eligible: Sequence[int] | None = None) -> Choice:
        """Pick one of the ``eligible`` arms (all arms when None) with its propensity."""
        idx = self._eligible(eligible)
        pos, probs, reason = self._distribution(rng, idx)
        full = np.zeros(self.n_arms)
        full[idx] = probs
        return Choice(int(idx[pos]), float(probs[pos]), reason, tuple(full.tolist()))

    def probabilities(
        self, rng: np.random.Generator, eligible: Sequence[int] | None = None
    ) -> np.ndarray:
        """Probability of each arm (0 for ineligible arms) in the current state."""
        idx = self._eligible(eligible)
        _, probs, _ = self._distribution(rng, idx)
        out = np.zeros(self.n_arms)
        out[idx] = probs
        return out

    def update(self, arm: int, reward: float) -> None:
        if not 0 <= arm < self.n_arms:
            raise InvalidInput(f"arm {arm!r}: must be in 0..{self.n_arms - 1}", field="arm")
        value = self._check_reward(reward)
        self.pulls[arm] += 1
        self.sums[arm] += value
        self.sums_sq[arm] += value * value
        self._changed(arm)

    def set_arm(self, arm: int, *, pulls: int, reward_sum: float, reward_sum_sq: float) -> None:
        """Load one arm's sufficient statistics (from the database or a saved state)."""
        if pulls < 0:
            raise InvalidInput(f"pulls {pulls!r} of arm {arm}: must be >= 0", field="pulls")
        self.pulls[arm] = pulls
        self.sums[arm] = reward_sum
        self.sums_sq[arm] = reward_sum_sq
        self._changed(arm)

    def state(self) -> PolicyState:
        arms = tuple(
            ArmState(int(n), float(s), float(q))
            for n, s, q in zip(self.pulls, self.sums, self.sums_sq, strict=True)
        )
        return PolicyState(self.name, self.n_arms, self.params(), arms)


def ties_uniform(scores: np.ndarray) -> np.ndarray:
    """Probability vector spreading 1 evenly over the arms with the top score."""
    top = scores == scores.max()
    return top / top.sum()


def pick_from(rng: np.random.Generator, probs: np.ndarray) -> int:
    """Draw a position from a probability vector (one uniform draw)."""
    cumulative = np.cumsum(probs)
    return int(
        min(
            np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), probs.size - 1
        )
    )
