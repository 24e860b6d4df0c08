"""Policy names → classes, and building a policy from a name, parameters or a saved state."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from optimizer.bandits.base import BasePolicy, ParamValue, PolicyState
from optimizer.bandits.contextual import ContextualThompson
from optimizer.bandits.fixed import FixedSplit, Uniform
from optimizer.bandits.greedy import EpsilonGreedy
from optimizer.bandits.thompson import ThompsonBernoulli
from optimizer.bandits.thompson_normal import ThompsonNormal
from optimizer.bandits.ucb import UCB1
from optimizer.errors import InvalidInput

POLICIES: dict[str, type[BasePolicy]] = {
    cls.name: cls
    for cls in (
        ThompsonBernoulli,
        ContextualThompson,
        ThompsonNormal,
        UCB1,
        EpsilonGreedy,
        FixedSplit,
        Uniform,
    )
}


def policy_class(name: str) -> type[BasePolicy]:
    try:
        return POLICIES[name]
    except KeyError:
        raise InvalidInput(
            f"policy {name!r} is unknown (expected one of {', '.join(sorted(POLICIES))})",
            field="policy",
        ) from None


def parameter_names(name: str) -> list[str]:
    cls = policy_class(name)
    return [f.name for f in dataclasses.fields(cls) if f.init and f.name != "n_arms"]


def make_policy(
    name: str, n_arms: int, params: Mapping[str, ParamValue] | None = None
) -> BasePolicy:
    """Build policy ``name`` for ``n_arms`` arms; unknown parameters raise InvalidInput."""
    cls = policy_class(name)
    allowed = parameter_names(name)
    given = dict(params or {})
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"parameter(s) {', '.join(unknown)} not known to policy {name!r} "
            f"(expected some of {', '.join(allowed)})",
            field="params",
        )
    if "weights" in given and isinstance(given["weights"], list):
        given["weights"] = tuple(given["weights"])
    try:
        return cls(n_arms=n_arms, **given)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InvalidInput(f"parameters {given!r} for policy {name!r}: {exc}") from exc


def policy_from_state(state: PolicyState) -> BasePolicy:
    """Rebuild a policy, statistics included, from its saved state."""
    if len(state.arms) != state.n_arms:
        raise InvalidInput(
            f"policy state lists {len(state.arms)} arms but n_arms is {state.n_arms}",
            field="arms",
        )
    policy = make_policy(state.policy, state.n_arms, state.params)
    for arm, stats in enumerate(state.arms):
        policy.set_arm(
            arm, pulls=stats.pulls, reward_sum=stats.reward_sum, reward_sum_sq=stats.reward_sum_sq
        )
    if state.segments:
        if not isinstance(policy, ContextualThompson):
            raise InvalidInput(
                f"policy state of {state.policy!r} lists segments (only a contextual policy has "
                "them)",
                field="segments",
            )
        for key, arms in state.segments.items():
            if len(arms) != state.n_arms:
                raise InvalidInput(
                    f"segment {key!r} lists {len(arms)} arms but n_arms is {state.n_arms}",
                    field="segments",
                )
            for arm, stats in enumerate(arms):
                policy.set_segment_arm(key, arm, pulls=stats.pulls, reward_sum=stats.reward_sum)
    return policy
