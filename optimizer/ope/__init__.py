"""Off-policy evaluation: what a policy would have earned, estimated from another policy's log.

Pure numerical code (numpy, pandas, scikit-learn/LightGBM for the reward model): no store, no
clock; every random draw takes its seed as an argument. Modelled on Open Bandit Pipeline's
``obp.ope`` (Saito et al., 2021).
"""

from optimizer.ope.data import BanditFeedback, at_positions
from optimizer.ope.estimators import (
    DEFAULT_LAMBDAS,
    ESTIMATORS,
    Estimate,
    Evaluation,
    WeightDiagnostics,
    estimate,
    evaluate,
    weight_diagnostics,
)
from optimizer.ope.reward_model import RewardModelSpec, cross_fitted_rewards

__all__ = [
    "DEFAULT_LAMBDAS",
    "ESTIMATORS",
    "BanditFeedback",
    "Estimate",
    "Evaluation",
    "RewardModelSpec",
    "WeightDiagnostics",
    "at_positions",
    "cross_fitted_rewards",
    "estimate",
    "evaluate",
    "weight_diagnostics",
]
