"""Contextual Thompson sampling: a Beta–Bernoulli posterior per (segment, arm), shrunk to the arm.

A segment is a few lead features the decision has when it chooses (lead source, vertical,
hot/warm/cold score band), joined into one key by :func:`segment_key` — the one definition the
decision service and the statistics read back from the decision log both use. A lead whose
features are all missing is in the segment ``unknown`` (a segment like the others).

Shrinkage (empirical Bayes): segment ``s``'s prior for arm ``a`` is centred on the arm's rate
in the *other* segments, ``m = (alpha + S_a - S_sa) / (alpha + beta + N_a - N_sa)`` (pooled
statistics minus the segment's own, so the segment's data count once), with strength
``k = min(prior_strength, alpha + beta + N_a - N_sa)`` — never surer than the data behind it:

    theta_sa ~ Beta(k m + S_sa, k (1 - m) + N_sa - S_sa)

A segment with no data of its own follows the rest (with no other data at all, exactly the
pooled posterior); a segment with many sends follows its own rate. The probability of each arm
is the Monte-Carlo share of ``draws`` joint posterior draws it wins (as ``montecarlo.py``), the
arm is drawn from those probabilities, and the burn-in (on the arms' pooled pulls) and the
minimum share wrap them as for every policy, so the logged propensity is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.bandits.base import (
    ArmState,
    BasePolicy,
    Choice,
    ParamValue,
    Pick,
    PolicyState,
    pick_from,
)
from optimizer.bandits.montecarlo import MAX_CACHED_SETS, win_shares
from optimizer.errors import InvalidInput

UNKNOWN_SEGMENT = "unknown"
UNKNOWN_VALUE = "unknown"
SEGMENT_FEATURES = ("source", "vertical", "band")
BANDS = ("hot", "warm", "cold")
DEFAULT_SEGMENT_BY = "vertical,band"
MAX_VALUE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class LeadContext:
    """What the variant choice may know about the lead: its features as the decision has them."""

    source: str | None = None
    vertical: str | None = None
    band: str | None = None  # the lead score's segment: hot | warm | cold


def parse_segment_by(text: object) -> tuple[str, ...]:
    """``"vertical,band"`` -> ``("vertical", "band")``; names from :data:`SEGMENT_FEATURES`."""
    if not isinstance(text, str):
        raise InvalidInput(
            f"segment_by {text!r}: a comma-separated list of {', '.join(SEGMENT_FEATURES)} "
            "expected",
            field="segment_by",
        )
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in SEGMENT_FEATURES]
    if not names or unknown or len(set(names)) != len(names):
        raise InvalidInput(
            f"segment_by {text!r}: one or more of {', '.join(SEGMENT_FEATURES)}, each once, "
            "comma-separated, expected",
            field="segment_by",
        )
    return names


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split()).lower()[:MAX_VALUE_LENGTH]
    return text.replace("|", "/").replace("=", "-") or None


def segment_key(context: LeadContext | None, segment_by: Sequence[str]) -> str:
    """The segment of a lead: ``"vertical=retail|band=hot"``. A missing or empty feature reads
    ``unknown``; a lead with every feature missing (or no context) is :data:`UNKNOWN_SEGMENT`.

    >>> segment_key(LeadContext("Web Form", "Retail", "hot"), ("vertical", "band"))
    'vertical=retail|band=hot'
    >>> segment_key(LeadContext(vertical=None, band="lukewarm"), ("vertical", "band"))
    'unknown'
    """
    if context is None:
        return UNKNOWN_SEGMENT
    values = {
        "source": _clean(context.source),
        "vertical": _clean(context.vertical),
        "band": band if (band := _clean(context.band)) in BANDS else None,
    }
    chosen = [(name, values[name]) for name in segment_by]
    if all(value is None for _, value in chosen):
        return UNKNOWN_SEGMENT
    return "|".join(f"{name}={value or UNKNOWN_VALUE}" for name, value in chosen)


@dataclass
class ContextualThompson(BasePolicy):
    name: ClassVar[str] = "contextual_thompson"

    alpha: float = 1.0
    beta: float = 1.0
    prior_strength: float = 20.0
    segment_by: str = DEFAULT_SEGMENT_BY
    draws: int = 1000

    def _check_params(self) -> None:
        for key in ("alpha", "beta", "prior_strength"):
            value = getattr(self, key)
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and np.isfinite(value) and value > 0
            ):
                raise InvalidInput(f"{key} {value!r}: must be a finite number > 0", field=key)
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or self.draws < 1:
            raise InvalidInput(f"draws {self.draws!r}: must be a whole number >= 1", field="draws")
        self.features = parse_segment_by(self.segment_by)
        # segment key -> (pulls, successes) per arm.
        self._segments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._cache: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}

    def params(self) -> dict[str, ParamValue]:
        return {
            **super().params(),
            "alpha": self.alpha,
            "beta": self.beta,
            "prior_strength": self.prior_strength,
            "segment_by": self.segment_by,
            "draws": self.draws,
        }

    def _changed(self, arm: int) -> None:
        # Any pooled change moves every segment's prior.
        self._cache.clear()

    def _check_reward(self, reward: float) -> float:
        value = float(reward)
        if not 0.0 <= value <= 1.0:
            raise InvalidInput(
                f"reward {reward!r}: a Beta–Bernoulli arm takes rewards in [0, 1]",
                field="reward",
            )
        return value

    # -- segments ---------------------------------------------------------------------------
    def key(self, context: LeadContext | None) -> str:
        """This policy's segment of a lead (:func:`segment_key` with its ``segment_by``)."""
        return segment_key(context, self.features)

    def _segment(self, segment: str) -> tuple[np.ndarray, np.ndarray]:
        stats = self._segments.get(segment)
        if stats is None:
            stats = (np.zeros(self.n_arms, dtype=np.int64), np.zeros(self.n_arms))
            self._segments[segment] = stats
        return stats

    def set_segment_arm(self, segment: str, arm: int, *, pulls: int, reward_sum: float) -> None:
        """Load one (segment, arm)'s statistics (from the decision log or a saved state)."""
        if not isinstance(segment, str) or not segment:
            raise InvalidInput(f"segment {segment!r}: a non-empty key expected", field="segment")
        if not 0 <= arm < self.n_arms:
            raise InvalidInput(f"arm {arm!r}: must be in 0..{self.n_arms - 1}", field="arm")
        if pulls < 0 or not 0.0 <= reward_sum <= pulls:
            raise InvalidInput(
                f"segment {segment!r} arm {arm}: pulls {pulls!r} and successes {reward_sum!r} "
                "(0 <= successes <= pulls expected)",
                field="segments",
            )
        pulls_of, sums_of = self._segment(segment)
        pulls_of[arm] = pulls
        sums_of[arm] = reward_sum
        self._cache.clear()

    def update(self, arm: int, reward: float, segment: str | None = None) -> None:
        """Count a reward for ``arm`` pooled and in ``segment`` (:data:`UNKNOWN_SEGMENT` when
        None)."""
        super().update(arm, reward)
        pulls_of, sums_of = self._segment(segment or UNKNOWN_SEGMENT)
        pulls_of[arm] += 1
        sums_of[arm] += float(reward)

    def segments(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {k: (p.copy(), s.copy()) for k, (p, s) in self._segments.items()}

    def shapes(self, segment: str, arm: int) -> tuple[float, float]:
        """The Beta posterior ``(a, b)`` of ``arm`` in ``segment``, prior shrunk to the rest."""
        seg = self._segments.get(segment)
        seg_pulls = float(seg[0][arm]) if seg is not None else 0.0
        seg_sums = float(seg[1][arm]) if seg is not None else 0.0
        # Pooled minus the segment (a state imported without its log may hold less pooled
        # data than the segments: never below nothing).
        rest_pulls = max(float(self.pulls[arm]) - seg_pulls, 0.0)
        rest_sums = min(max(float(self.sums[arm]) - seg_sums, 0.0), rest_pulls)
        rest_strength = self.alpha + self.beta + rest_pulls
        rate = (self.alpha + rest_sums) / rest_strength
        strength = min(self.prior_strength, rest_strength)
        return strength * rate + seg_sums, strength * (1.0 - rate) + seg_pulls - seg_sums

    def posterior_draws(
        self, rng: np.random.Generator, segment: str, idx: np.ndarray
    ) -> np.ndarray:
        out = np.empty((idx.size, self.draws))
        for row, arm in enumerate(idx.tolist()):
            a, b = self.shapes(segment, arm)
            out[row] = rng.beta(a, b, self.draws)
        return out

    def _segment_probabilities(
        self, rng: np.random.Generator, segment: str, idx: np.ndarray
    ) -> np.ndarray:
        cache_key = (segment, tuple(idx.tolist()))
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = win_shares(self.posterior_draws(rng, segment, idx))
            if len(self._cache) >= MAX_CACHED_SETS:
                self._cache.clear()
            self._cache[cache_key] = cached
        return cached

    def _picker(self, segment: str | None) -> Pick:
        key = segment or UNKNOWN_SEGMENT

        def pick(rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
            probs = self._segment_probabilities(rng, key, idx)
            return pick_from(rng, probs), probs

        return pick

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        return self._picker(None)(rng, idx)

    # -- the protocol, with a segment -------------------------------------------------------
    def select(
        self,
        rng: np.random.Generator,
        eligible: Sequence[int] | None = None,
        segment: str | None = None,
    ) -> Choice:
        """Pick an arm for a lead of ``segment`` (:data:`UNKNOWN_SEGMENT` when None)."""
        idx = self._eligible(eligible)
        pos, probs, reason = self._distribution(rng, idx, self._picker(segment))
        full = np.zeros(self.n_arms)
        full[idx] = probs
        return Choice(int(idx[pos]), float(probs[pos]), reason, tuple(full.tolist()))

    def probabilities(
        self,
        rng: np.random.Generator,
        eligible: Sequence[int] | None = None,
        segment: str | None = None,
    ) -> np.ndarray:
        idx = self._eligible(eligible)
        _, probs, _ = self._distribution(rng, idx, self._picker(segment))
        out = np.zeros(self.n_arms)
        out[idx] = probs
        return out

    def state(self) -> PolicyState:
        base = super().state()
        segments = {
            key: tuple(
                ArmState(int(n), float(s), float(s)) for n, s in zip(pulls, sums, strict=True)
            )
            for key, (pulls, sums) in self._segments.items()
        }
        return PolicyState(base.policy, base.n_arms, base.params, base.arms, segments=segments)
