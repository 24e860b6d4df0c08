"""``optimizer demo``: the main job on the embedded default (SQLite, local MLflow, simulator)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from optimizer.cli.app import app
from optimizer.cli.common import emit_json
from optimizer.errors import InvalidInput


@app.command("demo")
def demo(
    leads: int = typer.Option(
        500, "--leads", min=1, max=100_000, help="New leads arriving during the run."
    ),
    days: int = typer.Option(10, "--days", min=1, max=90, help="Simulated days."),
    history_leads: int = typer.Option(
        2500,
        "--history-leads",
        min=200,
        max=200_000,
        help="Leads with history before the start (training data).",
    ),
    seed: int = typer.Option(
        7, "--seed", help="Seed of the simulated world and of every random choice."
    ),
    start: str = typer.Option(
        "2026-10-05T04:00:00+00:00", "--start", help="Simulated start (ISO 8601 with offset)."
    ),
    var_dir: Path = typer.Option(
        Path("var/demo"),
        "--var-dir",
        help="Where the demo's store, MLflow and keys live; recreated, so it must be new, empty "
        "or a previous demo's.",
    ),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Server port (0: any free port)."),
) -> None:
    """Simulate a world of leads, train both models, run our engine over real HTTP and a naive
    engine in the same world, and compare them."""
    from optimizer.demo.runner import KEYS_FILE, DemoOptions, check_var_dir, run_demo
    from optimizer.demo.table import render_table, rows, summary

    try:
        start_at = dt.datetime.fromisoformat(start)
    except ValueError as exc:
        raise InvalidInput(
            f"--start {start!r} is not an ISO 8601 time (e.g. 2026-10-05T04:00:00+00:00)"
        ) from exc
    if start_at.tzinfo is None:
        raise InvalidInput(f"--start {start!r} has no UTC offset (e.g. 2026-10-05T04:00:00+00:00)")
    check_var_dir(var_dir)  # before anything runs: one line and exit 2 when it is not ours
    console = Console(stderr=True)
    options = DemoOptions(
        var_dir=var_dir,
        leads=leads,
        days=days,
        history_leads=history_leads,
        seed=seed,
        start=start_at.astimezone(dt.UTC),
        port=port,
    )
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        result = run_demo(options, say=lambda line: bar.console.print(line), progress=progress)
    table = rows(result.ours, result.naive, result.ours_deferrals, result.naive_deferrals)
    typer.echo("")
    typer.echo(f"Same simulated world, {days} days, {leads} new leads (seed {seed}):")
    typer.echo(render_table(table))
    verdict = result.experiment_results.get("verdict", "")
    typer.echo("")
    typer.echo(f"Experiment {result.experiment_id} (first-touch message): {verdict}")
    holdout = result.experiment_results.get("holdout") or {}
    if holdout:
        typer.echo(f"Against its {holdout['share']:.0%} holdout: {holdout['message']}")
    settings = result.settings
    typer.echo("")
    typer.echo("Where to look next:")
    keys_file = var_dir / KEYS_FILE
    typer.echo(
        f"  run the API on this store:  OPTIMIZER_DATABASE_URL={settings.resolved_database_url()} "
        f"OPTIMIZER_MLFLOW_TRACKING_URI={settings.resolved_mlflow_uri()} .venv/bin/optimizer serve"
    )
    typer.echo("  then open the API docs:     http://127.0.0.1:8000/docs")
    typer.echo(
        f"  API keys (one per scope):   {keys_file} (mode 0600); load them with "
        f"'set -a; . {keys_file}; set +a' and send 'Authorization: Bearer $DEMO_DECIDE_KEY'"
    )
    typer.echo(
        f"  experiment results:         GET /v1/experiments/{result.experiment_id}/results "
        "(DEMO_READ_KEY); pages at /ui/experiments"
    )
    typer.echo(
        f"  MLflow:                     .venv/bin/mlflow ui --backend-store-uri {settings.resolved_mlflow_uri()}"
    )
    typer.echo(f"  took {result.seconds:.0f} s ({result.requests:,} HTTP requests by our engine)")
    emit_json(
        {
            "ours": summary(result.ours, result.ours_deferrals),
            "naive": summary(result.naive, result.naive_deferrals),
            "experiment_id": result.experiment_id,
            "verdict": verdict,
            "holdout": holdout or None,
            "models": {
                "lead_score": {
                    "version": result.training.lead_score_version,
                    "promoted": result.training.lead_score_promoted,
                    "note": result.training.lead_score_note,
                },
                "send_time": {
                    "version": result.training.send_time_version,
                    "promoted": result.training.send_time_promoted,
                    "note": result.training.send_time_note,
                },
            },
            "seconds": round(result.seconds, 1),
        }
    )
