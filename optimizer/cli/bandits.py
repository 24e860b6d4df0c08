"""``optimizer stats ab``, ``optimizer stats sample-size`` and ``optimizer experiments replay``."""

from __future__ import annotations

from pathlib import Path

import typer

from optimizer.cli.app import experiments_app, stats_app
from optimizer.cli.common import emit_json, settings
from optimizer.errors import InvalidInput
from optimizer.stats.ab import ABResult, analyze
from optimizer.stats.sample_size import sample_size_per_arm
from optimizer.stats.summary import ArmSummary


def parse_arm(text: str) -> ArmSummary:
    """``NAME:SENDS:SUCCESSES`` → ArmSummary (the name may not contain ':')."""
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidInput(f"--arm {text!r}: expected NAME:SENDS:SUCCESSES", field="arm")
    name, sends, successes = parts
    try:
        return ArmSummary(name.strip(), int(sends), int(successes))
    except ValueError:
        raise InvalidInput(
            f"--arm {text!r}: SENDS and SUCCESSES must be whole numbers", field="arm"
        ) from None


def parse_weights(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidInput(
            f"--weights {text!r}: expected comma-separated numbers such as 0.5,0.5",
            field="weights",
        ) from None


def _percent(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def print_table(result: ABResult) -> None:
    header = (
        f"{'arm':<12}{'sends':>9}{'succ.':>8}{'rate':>9}{'95% interval':>20}"
        f"{'P(best)':>9}{'loss pts':>10}{'lift vs ' + result.control:>22}"
    )
    typer.echo(header)
    for arm in result.arms:
        interval = f"{_percent(arm.ci_low)}–{_percent(arm.ci_high)}"
        lift = (
            "control"
            if arm.is_control
            else f"{_percent(arm.lift, 1)} ({_percent(arm.lift_ci_low, 1)}, "
            f"{_percent(arm.lift_ci_high, 1)})"
        )
        typer.echo(
            f"{arm.name:<12}{arm.sends:>9}{arm.successes:>8}{_percent(arm.rate):>9}"
            f"{interval:>20}{arm.prob_best:>9.1%}{arm.expected_loss * 100:>10.3f}{lift:>22}"
        )
    p_value = "—" if result.p_value is None else f"{result.p_value:.4g}"
    srm = "—" if result.srm_p_value is None else f"{result.srm_p_value:.4g}"
    typer.echo(f"chi-square p-value: {p_value}   sample-ratio check p-value: {srm}")
    typer.echo(f"verdict: {result.verdict.message}")


@stats_app.command("ab")
def stats_ab(
    arm: list[str] = typer.Option(..., "--arm", help="NAME:SENDS:SUCCESSES (repeat per arm)."),
    control: str | None = typer.Option(None, help="Control arm (default: the first)."),
    weights: str | None = typer.Option(
        None, help="Intended split, e.g. 0.5,0.5 (default: equal) for the sample-ratio check."
    ),
    seed: int = typer.Option(0, help="Seed of the Monte-Carlo for P(best) and expected loss."),
    draws: int = typer.Option(100_000, help="Monte-Carlo draws."),
) -> None:
    """Read out an A/B/n test from counts: rates, intervals, P(best), lift, p-values, verdict."""
    arms = [parse_arm(text) for text in arm]
    result = analyze(
        arms,
        control=control,
        weights=parse_weights(weights) if weights else None,
        seed=seed,
        draws=draws,
    )
    print_table(result)
    emit_json(
        {
            "arms": {
                a.name: {
                    "sends": a.sends,
                    "successes": a.successes,
                    "rate": a.rate,
                    "ci_low": a.ci_low,
                    "ci_high": a.ci_high,
                    "prob_best": a.prob_best,
                    "expected_loss": a.expected_loss,
                    "lift": a.lift,
                    "lift_ci_low": a.lift_ci_low,
                    "lift_ci_high": a.lift_ci_high,
                    "p_value_vs_control": a.p_value_vs_control,
                }
                for a in result.arms
            },
            "control": result.control,
            "p_value": result.p_value,
            "srm_p_value": result.srm_p_value,
            "verdict": result.verdict.message,
            "verdict_status": result.verdict.status,
            "winner": result.verdict.winner,
            "more_sends_per_arm": result.verdict.more_sends_per_arm,
            "seed": seed,
            "draws": draws,
        }
    )


@stats_app.command("sample-size")
def stats_sample_size(
    baseline: float = typer.Option(..., help="Baseline rate, e.g. 0.10."),
    mde: float = typer.Option(..., help="Minimum detectable effect (absolute, e.g. 0.01)."),
    relative: bool = typer.Option(False, help="Read --mde as relative (0.1 = +10%)."),
    power: float = typer.Option(0.8),
    alpha: float = typer.Option(0.05),
    arms: int = typer.Option(2, help="Number of arms (alpha split over comparisons)."),
) -> None:
    """Sends per arm a classic two-proportion test needs."""
    size = sample_size_per_arm(
        baseline, mde, power=power, alpha=alpha, relative=relative, arms=arms
    )
    typer.echo(
        f"{size.per_arm:,} sends per arm ({size.total:,} in all) to detect "
        f"{size.baseline:.2%} → {size.target:.2%} with power {size.power:.0%}, alpha {size.alpha}"
    )
    emit_json({"per_arm": size.per_arm, "total": size.total, "target": size.target})


@experiments_app.command("replay")
def experiments_replay(
    data: Path | None = typer.Option(
        None, help="Hillstrom CSV (default: <data dir>/hillstrom.csv.gz)."
    ),
    reward: str = typer.Option("visit", help="visit | conversion | spend"),
    policy: str = typer.Option(
        "thompson", help="Policy name, or several comma-separated (e.g. thompson,ucb1,uniform)."
    ),
    seeds: int = typer.Option(5, help="Number of seeds (0 .. N-1 after --first-seed)."),
    first_seed: int = typer.Option(0),
    sample_rows: int | None = typer.Option(None, help="Replay a seeded sample of rows only."),
    mlflow: bool = typer.Option(True, help="Log each policy's run to MLflow."),
) -> None:
    """Replay policies over the randomised Hillstrom experiment (Li et al., 2011)."""
    from experiments.replay import load_hillstrom, run_replay

    config = settings()
    path = data if data is not None else config.data_dir / "hillstrom.csv.gz"
    names = [name.strip() for name in policy.split(",") if name.strip()]
    dataset = load_hillstrom(path, reward, sample_rows=sample_rows, seed=first_seed)
    report = run_replay(
        dataset,
        names,
        seeds=seeds,
        first_seed=first_seed,
        tracking_uri=config.resolved_mlflow_uri() if mlflow else None,
        artifact_root=config.mlflow_artifact_root() if mlflow else None,
    )
    typer.echo(
        f"{dataset.rows:,} rows, reward {reward}; best single arm {report.oracle_arm}: "
        f"{report.oracle_value:.4f}"
    )
    typer.echo(f"{'policy':<16}{'mean':>9}{'std':>9}{'÷ best':>9}{'counted':>10}{'s/10k':>8}")
    for summary in report.policies:
        typer.echo(
            f"{summary.policy:<16}{summary.mean:>9.4f}{summary.std:>9.4f}"
            f"{summary.ratio_to_oracle:>9.3f}{summary.counted_mean:>10.0f}"
            f"{summary.seconds_per_10k_choices:>8.2f}"
        )
    emit_json(report.to_dict())


@experiments_app.command("close-windows")
def experiments_close_windows(
    now: str | None = typer.Option(
        None, "--now", help="Close windows as of this time (ISO 8601 with offset; default: now)."
    ),
) -> None:
    """Count reward 0, once, for sent decisions whose attribution window closed without one
    (run it from a scheduler; the batch decision path does it too)."""
    import datetime as dt

    from optimizer.bandits.store import close_expired
    from optimizer.store.db import make_engine, require_head, session_factory, transaction

    if now is None:
        at = dt.datetime.now(dt.UTC)
    else:
        try:
            at = dt.datetime.fromisoformat(now)
        except ValueError as exc:
            raise InvalidInput(
                f"--now {now!r} is not an ISO 8601 time (with offset expected)"
            ) from exc
        if at.tzinfo is None:
            raise InvalidInput(f"--now {now!r} has no UTC offset (e.g. 2026-11-22T12:00:00+00:00)")
    engine = make_engine(settings().resolved_database_url(), create_dirs=False)
    try:
        require_head(engine)
        with transaction(session_factory(engine)) as session:
            closed = close_expired(session, now=at)
    finally:
        engine.dispose()
    typer.echo(f"closed {closed} attribution window(s) with reward 0 as of {at.isoformat()}")
    emit_json({"closed": closed, "as_of": at.isoformat()})
