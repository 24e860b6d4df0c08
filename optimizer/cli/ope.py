"""``optimizer experiments evaluate-policy``: a candidate policy's value from a logged file."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import typer

from optimizer.cli.app import experiments_app
from optimizer.cli.common import emit_json, settings
from optimizer.cli.lead_score import _parse_as_of
from optimizer.errors import InvalidInput
from optimizer.ope.estimators import Evaluation
from optimizer.ope.report import (
    LogEvaluationConfig,
    LogEvaluationReport,
    estimator_list,
    format_table,
    metrics_for_mlflow,
    run_log_evaluation,
)
from optimizer.ope.slots import is_slot_policy
from optimizer.ope.targeting import is_targeting

MLFLOW_EXPERIMENT = "off-policy-evaluation"


def log_to_mlflow(report: LogEvaluationReport) -> str:
    """One MLflow run: the configuration as parameters, every figure as a metric, the JSON
    report as an artifact. Returns the run id."""
    c = report.config
    payload = report.to_dict()
    return _mlflow_run(
        f"evaluate-policy:{c.policy}",
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
        },
        metrics_for_mlflow(report),
        payload,
    )


def _mlflow_run(
    run_name: str, params: dict[str, Any], metrics: dict[str, float], payload: Any
) -> str:
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
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "evaluation.json"
            path.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")
            mlflow.log_artifact(str(path))
        return str(run.info.run_id)


def _echo_estimates(evaluation: Evaluation, *, sources: bool = False) -> None:
    """The weight diagnostics and the estimator table of a store evaluation."""
    w = evaluation.weights
    typer.echo(
        f"weights: effective sample size {w.effective_sample_size:,.0f} ({w.ess_share:.1%}), "
        f"max weight {w.max_weight:.2f}, mean weight {w.mean_weight:.3f}"
    )
    typer.echo(
        f"{'estimator':<11}{'estimate':>10}{'95% interval':>22}"
        + ("  interval from" if sources else "")
    )
    for e in evaluation.estimates:
        how = "rows resampled" if e.interval == "rows" else "rows resampled, model refitted"
        typer.echo(
            f"{e.estimator:<11}{e.value:>10.4f}{f'{e.ci_low:.4f} – {e.ci_high:.4f}':>22}"
            + (f"  {how}" if sources else "")
        )


def _figures(
    evaluation: Evaluation,
    current: tuple[float, float, float],
    *,
    seed: int,
    resamples: int,
    model_resamples: int,
) -> dict[str, Any]:
    """The payload entries every store evaluation reports."""
    return {
        "estimates": {
            e.estimator: {k: v for k, v in e.to_dict().items() if k != "estimator"}
            for e in evaluation.estimates
        },
        "weights": evaluation.weights.to_dict(),
        "current": {"value": current[0], "ci_low": current[1], "ci_high": current[2]},
        "seed": seed,
        "resamples": resamples,
        "model_resamples": model_resamples,
    }


def _finish_store_evaluation(
    payload: dict[str, Any],
    evaluation: Evaluation,
    current: tuple[float, float, float],
    *,
    params: dict[str, Any],
    mlflow: bool,
    record: bool,
    now: dt.datetime,
) -> None:
    """The MLflow run, the store's record (for the experiment page's "evaluate before rollout"
    card) and the output of an evaluation on the store's log; ``payload`` carries the figures."""
    from optimizer.store.db import make_engine, session_factory, transaction
    from optimizer.store.policy_evaluations import record_evaluation

    weights = evaluation.weights
    payload["mlflow_run_id"] = (
        _mlflow_run(
            f"evaluate-policy:store:{payload['policy']}",
            {
                "log": "store",
                **{
                    k: payload[k]
                    for k in ("experiment_id", "metric", "policy", "seed", "resamples")
                },
                "estimators": ",".join(e.estimator for e in evaluation.estimates),
                "rows": payload["rows"],
                **params,
            },
            {
                **{
                    f"{e.estimator}.{key}": float(getattr(e, key))
                    for e in evaluation.estimates
                    for key in ("value", "ci_low", "ci_high", "std_error")
                },
                **{f"weights.{k}": float(v) for k, v in weights.to_dict().items()},
                "logged_mean_reward": current[0],
            },
            payload,
        )
        if mlflow
        else None
    )
    payload["evaluation_id"] = None
    if record:
        engine = make_engine(settings().resolved_database_url(), create_dirs=False)
        try:
            with transaction(session_factory(engine)) as session:
                payload["evaluation_id"] = record_evaluation(
                    session,
                    experiment_id=payload["experiment_id"],
                    policy=payload["policy"],
                    candidate=payload["candidate"],
                    metric=payload["metric"],
                    rows=payload["rows"],
                    pending=payload["pending"],
                    current=current,
                    estimates=payload["estimates"],
                    effective_sample_size=weights.effective_sample_size,
                    max_weight=weights.max_weight,
                    seed=payload["seed"],
                    resamples=payload["resamples"],
                    mlflow_run_id=payload["mlflow_run_id"],
                    evaluated_at=now,
                )
        finally:
            engine.dispose()
    typer.echo(
        f"logged policy's own value {current[0]:.4f} (95% {current[1]:.4f} – {current[2]:.4f})"
        + (f"; recorded as evaluation {payload['evaluation_id']}" if record else "")
    )
    emit_json(payload)


def _evaluate_store(
    experiment_id: int,
    policy: str,
    estimators: tuple[str, ...],
    *,
    folds: int,
    seed: int,
    resamples: int,
    model_resamples: int,
    mlflow: bool,
    record: bool,
    now: dt.datetime,
) -> None:
    from optimizer.ope.variants import (
        candidate_distribution,
        evaluate_variant_policy,
        logged_value,
        variant_feedback,
    )
    from optimizer.store.db import make_engine, require_head, session_factory, transaction
    from optimizer.store.decision_log import load_variant_log

    engine = make_engine(settings().resolved_database_url(), create_dirs=False)
    try:
        require_head(engine)
        with transaction(session_factory(engine)) as session:
            log = load_variant_log(session, experiment_id)
    finally:
        engine.dispose()  # the evaluation takes a while; the record opens a fresh connection
    dist = candidate_distribution(policy, log.variant_names)
    feedback = variant_feedback(log.arm, log.propensity, log.reward, dist)
    evaluation = evaluate_variant_policy(
        feedback,
        log.metric,
        estimators=estimators,
        seed=seed,
        resamples=resamples,
        folds=folds,
        model_resamples=model_resamples,
    )
    current = logged_value(log.reward, log.metric)
    typer.echo(
        f"experiment {log.experiment_id} ({log.experiment_name}), metric {log.metric}: "
        f"{feedback.n_rounds:,} sends with a known reward ({log.pending} pending, "
        f"{log.unlogged} without a propensity left out); logged mean {log.reward.mean():.4f}"
    )
    candidate = ", ".join(f"{n} {p:.0%}" for n, p in zip(log.variant_names, dist, strict=True))
    typer.echo(f"candidate {policy}: {candidate}")
    _echo_estimates(evaluation, sources=True)
    payload: dict[str, Any] = {
        "log": "store",
        "experiment_id": log.experiment_id,
        "metric": log.metric,
        "policy": policy,
        "candidate": dict(zip(log.variant_names, dist.tolist(), strict=True)),
        "rows": feedback.n_rounds,
        "pending": log.pending,
        "unlogged": log.unlogged,
        "logged_mean_reward": float(log.reward.mean()),
        **_figures(
            evaluation,
            current,
            seed=seed,
            resamples=resamples,
            model_resamples=model_resamples,
        ),
    }
    _finish_store_evaluation(
        payload,
        evaluation,
        current,
        params={"folds": folds},
        mlflow=mlflow,
        record=record,
        now=now,
    )


def _evaluate_targeting(
    experiment_id: int,
    policy: str,
    estimators: tuple[str, ...],
    *,
    target: str,
    window_days: int,
    as_of: dt.datetime,
    folds: int,
    seed: int,
    resamples: int,
    model_resamples: int,
    mlflow: bool,
    record: bool,
    now: dt.datetime,
) -> None:
    """A targeting rule (text or hold, from the logged lead score) on the experiment's
    randomised holdout: texted leads against held-out ones, each with its propensity."""
    from optimizer.ope.targeting import ACTIONS, targeting_feedback, targeting_texts
    from optimizer.ope.variants import evaluate_variant_policy, logged_value
    from optimizer.store.db import make_engine, require_head, session_factory, transaction
    from training.uplift_store import STORE_TARGETS, store_holdout_log

    if target not in STORE_TARGETS:
        raise InvalidInput(
            f"--target {target!r} is not one of {', '.join(STORE_TARGETS)}", field="target"
        )
    # The rule is checked before the store is read: a typo fails at once.
    targeting_texts(policy, [], [])
    engine = make_engine(settings().resolved_database_url(), create_dirs=False)
    try:
        require_head(engine)
        with transaction(session_factory(engine)) as session:
            log = store_holdout_log(
                session,
                experiment_id=experiment_id,
                as_of=as_of,
                window_days=window_days,
                target=target,  # type: ignore[arg-type]
            )
    finally:
        engine.dispose()
    texted = np.array([1 if u.treated else 0 for u in log.units], dtype=np.int64)
    propensity = np.array([u.propensity for u in log.units], dtype=float)
    rule = targeting_texts(
        policy, [u.probability for u in log.units], [u.segment for u in log.units]
    )
    feedback = targeting_feedback(texted, propensity, log.y, rule)
    evaluation = evaluate_variant_policy(
        feedback,
        target,
        estimators=estimators,
        seed=seed,
        resamples=resamples,
        folds=folds,
        model_resamples=model_resamples,
    )
    current = logged_value(log.y, target)
    texts = float(rule.mean())
    typer.echo(
        f"experiment {experiment_id}, {target} within {window_days} days as of "
        f"{as_of.isoformat()}: {log.counts.treated:,} leads texted and {log.counts.control:,} "
        f"held out ({log.share:.0%} holdout; {log.counts.open_window} still inside their window)"
    )
    typer.echo(f"candidate {policy}: texts {texts:.0%} of these leads")
    _echo_estimates(evaluation)
    candidate = dict(zip(ACTIONS, (1.0 - texts, texts), strict=True))
    payload: dict[str, Any] = {
        "log": "store",
        "kind": "targeting",
        "experiment_id": experiment_id,
        "metric": target,
        "window_days": window_days,
        "as_of": as_of.isoformat(),
        "policy": policy,
        "candidate": candidate,
        "rows": feedback.n_rounds,
        "texted": log.counts.treated,
        "held_out": log.counts.control,
        "pending": log.counts.open_window,
        **_figures(
            evaluation,
            current,
            seed=seed,
            resamples=resamples,
            model_resamples=model_resamples,
        ),
    }
    _finish_store_evaluation(
        payload,
        evaluation,
        current,
        params={"kind": "targeting", "window_days": window_days},
        mlflow=mlflow,
        record=record,
        now=now,
    )


def _evaluate_slots(
    experiment_id: int,
    policy: str,
    estimators: tuple[str, ...],
    *,
    folds: int,
    seed: int,
    resamples: int,
    model_resamples: int,
    mlflow: bool,
    record: bool,
    now: dt.datetime,
) -> None:
    """A send-time policy on the experiment's sends: each decision's logged slot choice gives
    the logging policy's whole distribution over its allowed slots (see ``optimizer.ope.slots``)."""
    from optimizer.ope.slots import (
        ACTION_FEATURES,
        agreement,
        candidate_slot_distribution,
        decode_slot_log,
        parse_slot_policy,
        slot_feedback,
    )
    from optimizer.ope.variants import evaluate_variant_policy, logged_value
    from optimizer.store.db import make_engine, require_head, session_factory, transaction
    from optimizer.store.decision_log import load_slot_log

    rule = parse_slot_policy(policy)  # a typo fails before the store is read
    engine = make_engine(settings().resolved_database_url(), create_dirs=False)
    try:
        require_head(engine)
        with transaction(session_factory(engine)) as session:
            log = load_slot_log(session, experiment_id)
    finally:
        engine.dispose()
    decisions = decode_slot_log(log.as_of, log.timezone, log.slot, log.propensity, log.reward)
    dist = candidate_slot_distribution(rule, decisions)
    feedback = slot_feedback(decisions, dist)
    evaluation = evaluate_variant_policy(
        feedback,
        log.metric,
        estimators=estimators,
        seed=seed,
        resamples=resamples,
        folds=folds,
        model_resamples=model_resamples,
        action_context=ACTION_FEATURES,
    )
    current = logged_value(decisions.reward, log.metric)
    same = agreement(decisions, dist)
    typer.echo(
        f"experiment {log.experiment_id} ({log.experiment_name}), metric {log.metric}: "
        f"{decisions.n:,} sends whose slot the send-time policy chose, with a known reward "
        f"({log.pending} pending; left out: {decisions.forced} texted at once to a new lead, "
        f"{log.unlogged + decisions.unreadable} without a readable slot record)"
    )
    typer.echo(f"candidate {policy}: the current policy's greedy slot {same:.0%} of the time")
    _echo_estimates(evaluation, sources=True)
    payload: dict[str, Any] = {
        "log": "store",
        "kind": "send_time",
        "experiment_id": log.experiment_id,
        "metric": log.metric,
        "policy": policy,
        "candidate": {"the current greedy slot": same, "another allowed slot": 1.0 - same},
        "rows": decisions.n,
        "pending": log.pending,
        "unlogged": log.unlogged + decisions.unreadable,
        "forced": decisions.forced,
        "logged_mean_reward": current[0],
        **_figures(
            evaluation,
            current,
            seed=seed,
            resamples=resamples,
            model_resamples=model_resamples,
        ),
    }
    _finish_store_evaluation(
        payload,
        evaluation,
        current,
        params={"kind": "send_time", "folds": folds},
        mlflow=mlflow,
        record=record,
        now=now,
    )


@experiments_app.command("evaluate-policy")
def experiments_evaluate_policy(
    log: str = typer.Option(
        ...,
        "--log",
        help="Logged decisions: 'store' (an experiment's decision log) or a CSV in Open "
        "Bandit Dataset's layout.",
    ),
    policy: str = typer.Option(
        ...,
        "--policy",
        help="Candidate policy. CSV: uniform | bts. Store: uniform | variant:NAME | "
        "split:A=0.5,B=0.5 (variant choice); target:all | target:none | target:score>=P | "
        "target:band=hot,warm (whom to text, on the experiment's holdout); slot:first | "
        "slot:hour=H | slot:logged, each optionally ,explore=E (when to text, on the "
        "experiment's sends).",
    ),
    experiment: int | None = typer.Option(None, help="Experiment id (with --log store)."),
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
    model_resamples: int | None = typer.Option(
        None,
        help="Bootstrap samples with the reward model refitted on each, for the DM/DR "
        "intervals (default: 0 for a CSV log, the model held fixed; 200 for the store).",
    ),
    runs: int = typer.Option(
        30, help="Bootstrap samples for the mean relative error (with --on-policy-log)."
    ),
    n_sim: int = typer.Option(1_000_000, help="Monte-Carlo draws of the BTS action distribution."),
    mlflow: bool = typer.Option(True, help="Log the run to MLflow."),
    record: bool = typer.Option(
        True,
        help="With --log store: record the result in the store for the experiment page.",
    ),
    target: str = typer.Option(
        "reply", "--target", help="Targeting rules: the outcome, reply | conversion."
    ),
    window_days: int = typer.Option(
        7, "--window-days", help="Targeting rules: days after a decision an outcome counts."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Targeting rules: only windows closed by then (default: now)."
    ),
) -> None:
    """Estimate what a candidate policy would have earned on a logged file (IPW, SNIPW, DM, DR,
    switch-DR, DRos with bootstrap intervals and weight diagnostics)."""
    if log == "store":
        if experiment is None:
            raise InvalidInput("--log store needs --experiment ID", field="experiment")
        now = dt.datetime.now(dt.UTC)
        if is_targeting(policy):
            _evaluate_targeting(
                experiment,
                policy,
                estimator_list(estimators),
                target=target,
                window_days=window_days,
                as_of=now if as_of is None else _parse_as_of(as_of),
                folds=folds,
                seed=seed,
                resamples=resamples,
                model_resamples=200 if model_resamples is None else model_resamples,
                mlflow=mlflow,
                record=record,
                now=now,
            )
            return
        if is_slot_policy(policy):
            _evaluate_slots(
                experiment,
                policy,
                estimator_list(estimators),
                folds=folds,
                seed=seed,
                resamples=resamples,
                model_resamples=200 if model_resamples is None else model_resamples,
                mlflow=mlflow,
                record=record,
                now=now,
            )
            return
        _evaluate_store(
            experiment,
            policy,
            estimator_list(estimators),
            folds=folds,
            seed=seed,
            resamples=resamples,
            model_resamples=200 if model_resamples is None else model_resamples,
            mlflow=mlflow,
            record=record,
            now=now,
        )
        return
    if experiment is not None:
        raise InvalidInput("--experiment goes with --log store", field="experiment")
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
        model_resamples=0 if model_resamples is None else model_resamples,
        runs=runs,
        n_sim=n_sim,
    )
    report = run_log_evaluation(config)
    for line in format_table(report):
        typer.echo(line)
    payload = report.to_dict()
    payload["mlflow_run_id"] = log_to_mlflow(report) if mlflow else None
    emit_json(payload)
