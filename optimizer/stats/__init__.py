"""Experiment statistics: pure functions over summary statistics returning frozen results."""

from optimizer.stats.ab import ABResult, ArmResult, analyze
from optimizer.stats.bayes import BayesResult, prob_best_and_loss
from optimizer.stats.frequentist import Lift, anova_p_value, chi_square_p_value
from optimizer.stats.ipw import IpwArm, ipw_estimates
from optimizer.stats.sample_size import SampleSize, sample_size_per_arm
from optimizer.stats.srm import SrmResult, srm_against_propensities, srm_against_weights
from optimizer.stats.summary import ArmSummary
from optimizer.stats.verdict import Verdict

__all__ = [
    "ABResult",
    "ArmResult",
    "ArmSummary",
    "BayesResult",
    "IpwArm",
    "Lift",
    "SampleSize",
    "SrmResult",
    "Verdict",
    "analyze",
    "anova_p_value",
    "chi_square_p_value",
    "ipw_estimates",
    "prob_best_and_loss",
    "sample_size_per_arm",
    "srm_against_propensities",
    "srm_against_weights",
]
