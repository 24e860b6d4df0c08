"""``optimizer train send-time``, ``optimizer simulate run`` and ``optimizer simulate send-time-eval``."""

from __future__ import annotations

import datetime as dt

import typer

from optimizer.cli.app import simulate_app, train_app
from optimizer.cli.common import emit_json, settings
from optimizer.errors import InvalidInput
from optimizer.store.db import make_engine, require_head, session_factory, transaction

DEFAULT_START = "2026-03-02T14:00:00+00:00"  # a Monday afternoon (UTC); any aware time works


def _parse_time(text: str | None, option: str) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-03-02T14:00:00+00:00)"
        ) from exc
    if value.tzinfo is None:
        raise InvalidInput(f"{option} {text!r} has no UTC offset (ISO 8601 with offset expected)")
    return value.astimezone(dt.UTC)


@train_app.command("send-time")
def train_send_time_command(
    seed: int = typer.Option(0, help="LightGBM seed."),
    now: str | None = typer.Option(
        None, help="Train as of this time (ISO 8601; default: the clock)."
    ),
    promote: bool = typer.Option(
        False, "--promote", help="Move 'champion' when the challenger is better."
    ),
    engine_name: str = typer.Option(
        "local", "--engine", help="local | dask (LightGBM's Dask interface, data-parallel)."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask: scheduler address tcp://HOST:PORT (default: a local cluster).",
    ),
    dask_workers: int | None = typer.Option(
        None,
        "--dask-workers",
        help="Dask: workers of the local cluster, or to wait for (default 2).",
    ),
) -> None:
    """Train the send-time model from the store's logged sends; register it as challenger."""
    from optimizer.models.engine import check_engine, open_engine
    from training.train_send_time import train_send_time

    check_engine(engine_name, scheduler=scheduler, workers=dask_workers)
    as_of = _parse_time(now, "--now")
    config = settings()
    engine = make_engine(config.resolved_database_url(), create_dirs=False)
    try:
        require_head(engine)
        with (
            open_engine(engine_name, scheduler=scheduler, workers=dask_workers) as trainer,
            transaction(session_factory(engine)) as session,
        ):
            result = train_send_time(
                session, config, now=as_of, seed=seed, promote_if_better=promote, engine=trainer
            )
    finally:
        engine.dispose()
    m = result.metrics
    typer.echo(f"rows {result.rows}  responses {result.positives}  ({result.seconds:.1f} s)")
    typer.echo(
        f"holdout ROC AUC {m['holdout_roc_auc']:.4f}  (vertical priors {m['priors_roc_auc']:.4f})"
    )
    typer.echo(
        f"top-decile lift {m['holdout_top_decile_lift']:.2f}  log loss {m['holdout_log_loss']:.4f}"
    )
    typer.echo(f"{config.send_time_model_name} version {result.version}: {result.promotion_reason}")
    emit_json(
        {
            "model": config.send_time_model_name,
            "version": result.version,
            "run_id": result.run_id,
            "promoted": result.promoted,
            "reason": result.promotion_reason,
            "rows": result.rows,
            "positives": result.positives,
            **{k: round(v, 6) for k, v in m.items()},
        }
    )


@simulate_app.command("run")
def simulate_run(
    seed: int = typer.Option(7, help="World seed (same seed, same run)."),
    leads: int | None = typer.Option(None, help="Form fills (default: arrivals_per_day x days)."),
    days: int = typer.Option(30, help="Simulated days of arrivals."),
    start: str = typer.Option(DEFAULT_START, help="Simulated start (ISO 8601 with offset)."),
) -> None:
    """The default world with a plain cadence (first text at once, then days 2, 5, 9 at 10:00)."""
    from optimizer.simulation import SimConfig, World, simulate_cadence

    if days < 1:
        raise InvalidInput(f"--days {days} is below 1 (1 or more expected)")
    world = World.create(
        SimConfig(seed=seed, history_leads=0),
        start=_parse_time(start, "--start"),
        days=days,
        arrivals=leads,
    )
    report = simulate_cadence(world)
    r = report
    typer.echo(
        f"leads {r.leads:,}  texts {r.texts:,}  delivered {r.delivered:,}  ({r.seconds:.2f} s)"
    )
    typer.echo(
        f"reply rate {r.reply_rate:.1%} per text; by touch {', '.join(f'{x:.1%}' for x in r.reply_rate_by_touch)}"
    )
    typer.echo(
        f"first text within 5 min: {r.first_touch_within_5min_share:.0%} of leads, reply rate {r.reply_rate_first_touch_within_5min:.1%}; P(reply) 5 min vs 30 min: {r.speed_to_lead_ratio_5_vs_30min:.1f}x"
    )
    typer.echo(
        f"conversion {r.conversion_rate_engaged:.1%} of engaged leads ({r.engaged_leads:,}); revenue ${r.revenue:,.0f} = ${r.revenue_per_message:.2f} per text"
    )
    typer.echo(
        f"opt-outs {r.opt_out_rate:.1%} of recipients; checker violations {sum(r.violations.values())}"
    )
    emit_json({"seed": seed, **r.as_dict()})


@simulate_app.command("send-time-eval")
def simulate_send_time_eval(
    seed: int = typer.Option(7, help="World seed."),
    leads: int = typer.Option(3000, help="New leads to compare the four policies on."),
    history_leads: int = typer.Option(
        3000, help="Existing leads whose logged texts train the model."
    ),
    start: str = typer.Option(DEFAULT_START, help="Simulated 'now' (ISO 8601 with offset)."),
) -> None:
    """Response rate at fixed 10:00 local vs random allowed vs model vs oracle, same leads."""
    from optimizer.simulation import SimConfig
    from optimizer.simulation.send_time_eval import evaluate_send_time

    if leads < 10 or history_leads < 100:
        raise InvalidInput(
            f"--leads {leads} / --history-leads {history_leads}: at least 10 / 100 expected"
        )
    config = SimConfig(seed=seed, history_leads=history_leads)
    result = evaluate_send_time(
        config=config, leads=leads, settings=settings(), now=_parse_time(start, "--start")
    )
    typer.echo(
        f"trained on {result.train_rows:,} logged texts ({result.train_positives} responses); "
        f"holdout AUC {result.holdout_roc_auc:.3f} (priors {result.priors_roc_auc:.3f})"
    )
    typer.echo(
        f"{result.evaluated:,} leads evaluated, {result.held} held (the gate allowed no slot); mask {result.mask}"
    )
    for name in ("fixed_10am", "random", "model", "oracle"):
        typer.echo(
            f"  {name:<11} response rate {result.rates[name]:.2%}  (realised {result.realised[name]:.2%})"
        )
    typer.echo(
        f"model lift over 10:00: {result.lift_model_over_fixed:+.1%}; share of the oracle's lift captured: {result.oracle_share_captured:.1%}"
    )
    typer.echo(
        f"checker violations: {result.violations} among chosen texts, {result.violations_allowed_slots} among all allowed slots"
    )
    emit_json(result.as_dict())
