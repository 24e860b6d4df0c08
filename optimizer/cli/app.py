"""The ``optimizer`` command and its groups.

Each area of the product registers its commands on these groups from its own module
(``optimizer/cli/<area>.py``); ``optimizer/cli/__init__.py`` imports them all.
"""

from __future__ import annotations

import typer

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="optimizer",
    help="SMS send optimizer: which lead to text, with which message, when, or not at all.",
    no_args_is_help=True,
    context_settings=CONTEXT,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _group(name: str, help_text: str) -> typer.Typer:
    group = typer.Typer(help=help_text, no_args_is_help=True, context_settings=CONTEXT)
    app.add_typer(group, name=name)
    return group


db_app = _group("db", "Database schema: create or upgrade the store.")
keys_app = _group("keys", "API keys (stored hashed, with scopes).")
compliance_app = _group("compliance", "The compliance gate: audit a planned campaign.")
dnc_app = _group("dnc", "Do-Not-Call registries: import copies with their date.")
train_app = _group("train", "Train models (tracked in MLflow, registered as challenger).")
tune_app = _group("tune", "Tune a model's parameters with Optuna (each trial an MLflow child run).")
models_app = _group("models", "Registered models: validate a challenger, promote a champion.")
stats_app = _group("stats", "Experiment statistics for marketers and data scientists.")
experiments_app = _group("experiments", "Offline experiments: replay and off-policy evaluation.")
simulate_app = _group("simulate", "The lead-world simulator and evaluations run in it.")
