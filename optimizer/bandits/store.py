"""The database-backed bandit engine the decision service calls (one import for all of it)."""

from optimizer.bandits.experiment_store import (
    VariantChoice,
    build_policy,
    choose_variant,
    create_experiment,
    record_send,
    variant_chooser,
)
from optimizer.bandits.results import ExperimentResults, VariantStats, experiment_results
from optimizer.bandits.rewards import check_guardrail, close_expired, record_opt_out, record_outcome
from optimizer.bandits.transfer import export_state, import_state

__all__ = [
    "ExperimentResults",
    "VariantChoice",
    "VariantStats",
    "build_policy",
    "check_guardrail",
    "choose_variant",
    "close_expired",
    "create_experiment",
    "experiment_results",
    "export_state",
    "import_state",
    "record_opt_out",
    "record_outcome",
    "record_send",
    "variant_chooser",
]
