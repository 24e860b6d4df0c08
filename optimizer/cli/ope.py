"""``optimizer experiments evaluate-policy``: a candidate policy's value from a logged file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer

from optimizer.cli.app import experiments_app
from optimizer.cli.common import emit_json, settings
from optimizer.errors import InvalidInput
from optimizer.ope.report import (
    LogEvaluationConfig,
    LogEvaluationReport,
    estimator_list,
    format_table,
    metrics_for_mlflow,
    run_log_evaluation,
)

MLFLOW_EXPERIMENT = "off-policy-evaluation"


def log_to_mlflow(report: LogEvaluationReport) -> str:
    """One MLflow run: the configuration as parameters, every figure as a metric, the JSON
    report as an artifact. Returns the run id."""
    import mlflow

    from optimizer.models.mlflow_store import ensure_store

    config = settings()
    uri = config.resolved_mlflow_uri()
    ensure_store(uri)
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(MLFLOW_EXPERIMENT)
    experiment_id = (
        found.experiment_id
        if found is not None
        else mlflow.create_experiment(
            MLFLOW_EXPERIMENT, artifact_location=config.mlflow_artifact_root()
        )
    )
    c = report.config
    payload = report.to_dict()
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"evaluate-policy:{c.policy}"
    ) as run:
        mlflow.log_params(
            {
                "log": str(c.log),
                "policy": c.policy,
                "campaign": report.campaign or "",
                "on_policy_log": str(c.on_policy_log or ""),
                "estimators": ",".join(c.estimators),
                "reward_model": c.model,
                "folds": c.folds,
                "seed": c.seed,
                "resamples": c.resamples,
                "runs": payload["runs"],
                "n_sim": c.n_sim,
                "rows": report.log.n_rounds,
            }
        )
        mlflow.log_metrics(metrics_for_mlflow(report))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "evaluation.json"
            path.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")
            mlflow.log_artifact(str(path))
        return str(run.info.run_id)


@experiments_app.command("evaluate-policy")
def experiments_evaluate_policy(
    log: str = typer.Option(
        ..., "--log", help="Logged decisions: a CSV in Open Bandit Dataset's layout."
    ),
    policy: str = typer.Option(..., "--policy", help="Candidate policy: uniform | bts."),
    prior: Path | None = typer.Option(
        None, help="BTS Beta prior YAML (default: prior_bts.yaml beside the log)."
    ),
    campaign: str | None = typer.Option(
        None, help="Campaign of the prior: all | men | women (default: from the log's name)."
    ),
    on_policy_log: Path | None = typer.Option(
        None,
        help="The candidate's own log: its mean reward is the true value to compare with.",
    ),
    estimators: str | None = typer.Option(
        None, help="Comma-separated subset of ipw,snipw,dm,dr,switch-dr,dr-os (default: all)."
    ),
    model: str = typer.Option("logistic", help="Reward model: logistic | lightgbm."),
    folds: int = typer.Option(3, help="Cross-fitting folds of the reward model."),
    seed: int = typer.Option(12345, help="Seed of the folds, bootstrap and Monte Carlo."),
    resamples: int = typer.Option(1000, help="Bootstrap resamples of each interval."),
    runs: int = typer.Option(
        30, help="Bootstrap samples for the mean relative error (with --on-policy-log)."
    ),
    n_sim: int = typer.Option(1_000_000, help="Monte-Carlo draws of the BTS action distribution."),
    mlflow: bool = typer.Option(True, help="Log the run to MLflow."),
) -> None:
    """Estimate what a candidate policy would have earned on a logged file (IPW, SNIPW, DM, DR,
    switch-DR, DRos with bootstrap intervals and weight diagnostics)."""
    if log == "store":
        raise InvalidInput(
            "--log store is not available yet: pass a CSV in Open Bandit Dataset's layout",
            field="log",
        )
    config = LogEvaluationConfig(
        log=Path(log),
        policy=policy,
        prior=prior,
        campaign=campaign,
        on_policy_log=on_policy_log,
        estimators=estimator_list(estimators),
        model=model,
        folds=folds,
        seed=seed,
        resamples=resamples,
        runs=runs,
        n_sim=n_sim,
    )
    report = run_log_evaluation(config)
    for line in format_table(report):
        typer.echo(line)
    payload = report.to_dict()
    payload["mlflow_run_id"] = log_to_mlflow(report) if mlflow else None
    emit_json(payload)
