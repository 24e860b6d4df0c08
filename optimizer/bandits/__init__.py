"""Bandit policies (one module each, one protocol) and the database-backed experiment engine."""

from optimizer.bandits.base import ArmState, Choice, Policy, PolicyState
from optimizer.bandits.fixed import FixedSplit, Uniform
from optimizer.bandits.greedy import EpsilonGreedy
from optimizer.bandits.guardrail import GuardrailConfig, GuardrailFlag, opt_out_guardrail
from optimizer.bandits.registry import POLICIES, make_policy, policy_from_state
from optimizer.bandits.thompson import ThompsonBernoulli
from optimizer.bandits.thompson_normal import ThompsonNormal
from optimizer.bandits.ucb import UCB1

__all__ = [
    "POLICIES",
    "UCB1",
    "ArmState",
    "Choice",
    "EpsilonGreedy",
    "FixedSplit",
    "GuardrailConfig",
    "GuardrailFlag",
    "Policy",
    "PolicyState",
    "ThompsonBernoulli",
    "ThompsonNormal",
    "Uniform",
    "make_policy",
    "opt_out_guardrail",
    "policy_from_state",
]
