"""The demo, step by step: world → history → models → experiment → server → two engines → table."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from optimizer.demo.http_engine import HttpEngine
from optimizer.demo.naive_engine import NaiveEngine
from optimizer.demo.registry import import_simulated_registry
from optimizer.demo.templates import DEMO_VARIANTS, FALLBACK_VARIANT
from optimizer.errors import InvalidInput, OptimizerError
from optimizer.ingest.keys import create_key
from optimizer.models.registry import client_for, promote
from optimizer.settings import Settings
from optimizer.simulation import SimConfig, World, WorldReport, run_world
from optimizer.simulation.history import write_history
from optimizer.store.db import make_engine, session_factory, transaction, upgrade

Say = Callable[[str], None]
Progress = Callable[[str, int, int], None]

# The demo marks the directory it creates, so that a later run recreates it without asking and
# never deletes a directory it did not make.
MARKER = ".optimizer-demo"
KEYS_FILE = "keys.env"
SCOPES = ("admin", "decide", "ingest", "read")
# What a demo left before the marker existed (a directory holding only these is a demo's too).
_DEMO_ENTRIES = (
    "optimizer.db",
    "mlflow.db",
    "naive.db",
    "mlartifacts",
    "read-key.txt",
    "server.log",
)


@dataclass(frozen=True)
class DemoOptions:
    var_dir: Path
    leads: int = 500
    days: int = 10
    history_leads: int = 2500
    seed: int = 7
    start: dt.datetime = dt.datetime(
        2026, 10, 5, 4, 0, tzinfo=dt.UTC
    )  # a Monday, before dawn in the US
    port: int = 0
    keep_server: bool = False


@dataclass(frozen=True)
class TrainingSummary:
    lead_score_version: str | None
    lead_score_promoted: bool
    lead_score_note: str
    lead_score_auc: float | None
    send_time_version: str | None
    send_time_promoted: bool
    send_time_note: str
    send_time_auc: float | None


@dataclass(frozen=True)
class DemoResult:
    ours: WorldReport
    naive: WorldReport
    ours_deferrals: int
    naive_deferrals: int
    ours_frequency_deferrals: int
    naive_frequency_deferrals: int
    training: TrainingSummary
    experiment_id: int
    experiment_results: dict[str, Any]
    base_url: str
    settings: Settings
    seconds: float
    requests: int


def demo_settings(var_dir: Path) -> Settings:
    return Settings(
        var_dir=var_dir,
        database_url=f"sqlite:///{(var_dir / 'optimizer.db').as_posix()}",
        mlflow_tracking_uri=f"sqlite:///{(var_dir / 'mlflow.db').as_posix()}",
        simulation=True,
    )


def _is_demo_entry(name: str) -> bool:
    return any(
        name == known or name.startswith((f"{known}-", f"{known}.")) for known in _DEMO_ENTRIES
    )


def check_var_dir(var_dir: Path) -> None:
    """The demo recreates ``var_dir``: refuse (``InvalidInput``) unless it is absent, empty, or
    a previous demo's (its marker file; or, from before the marker, only the demo's own files)."""
    if not var_dir.exists():
        return
    if not var_dir.is_dir():
        raise InvalidInput(f"--var-dir {var_dir} is a file, not a directory")
    entries = [entry.name for entry in var_dir.iterdir()]
    if not entries or MARKER in entries or all(_is_demo_entry(name) for name in entries):
        return
    raise InvalidInput(
        f"--var-dir {var_dir} is not empty and is not a previous demo's (no {MARKER} file): "
        "the demo deletes and recreates it, so give a new or empty directory"
    )


def write_keys_file(var_dir: Path, keys: dict[str, str]) -> Path:
    """One key per scope, as shell variables, readable by the owner only (mode 0600)."""
    path = var_dir / KEYS_FILE
    lines = [
        "# API keys of the demo store, one per scope (shown nowhere else). In a shell:",
        f"#   set -a; . {path}; set +a",
        '#   curl -H "Authorization: Bearer $DEMO_READ_KEY" http://127.0.0.1:8000/v1/models',
        *(f"DEMO_{scope.upper()}_KEY={keys[scope]}" for scope in SCOPES),
    ]
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _world(options: DemoOptions, settings: Settings) -> World:
    config = SimConfig(seed=options.seed, history_leads=options.history_leads)
    return World.create(
        config,
        start=options.start,
        days=options.days,
        arrivals=options.leads,
        brand=settings.brand_name,
    )


def write_store(options: DemoOptions, settings: Settings, say: Say) -> World:
    """A fresh store under ``options.var_dir`` holding the world's history and the simulated
    DNC registry copies (the demo's first step; the world is returned for the run)."""
    check_var_dir(options.var_dir)
    if options.var_dir.exists():
        shutil.rmtree(options.var_dir)
    options.var_dir.mkdir(parents=True)
    (options.var_dir / MARKER).write_text(
        "Made by `optimizer demo`, which deletes and recreates this directory on each run.\n"
    )
    world = _world(options, settings)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    sessions = session_factory(engine)
    t0 = time.perf_counter()
    with transaction(sessions) as session:
        # Before the history: its past sends are judged by the gate as of their own times.
        registry = import_simulated_registry(
            session,
            phones=world.population.phones,
            start=options.start,
            seed=options.seed,
            back_days=world.config.history_days + world.config.history_lookback_days,
        )
        summary = write_history(session, world, leads=None, settings=settings, now=options.start)
    engine.dispose()
    say(
        f"history: {summary.leads:,} leads, {summary.events:,} events ({summary.sends:,} past texts, "
        f"{summary.replies:,} replies, {summary.conversions:,} conversions) in {time.perf_counter() - t0:.1f} s"
    )
    say(
        f"DNC: a simulated national registry copy of {registry.numbers:,} numbers "
        f"(none a lead's) as of {registry.as_of.isoformat()}, monthly copies before it"
    )
    return world


def prepare_store(
    options: DemoOptions, settings: Settings, say: Say
) -> tuple[World, TrainingSummary]:
    """A fresh store with the world's history, and both models trained (and promoted if better)."""
    from training.store_data import store_training_data
    from training.train_lead_score import train_lead_score
    from training.train_send_time import train_send_time
    from training.validate import validate_lead_score

    world = write_store(options, settings, say)
    engine = make_engine(settings.resolved_database_url())
    sessions = session_factory(engine)
    client = client_for(settings.resolved_mlflow_uri())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        lead_version: str | None = None
        lead_promoted, lead_auc = False, None
        try:
            with transaction(sessions) as session:
                data = store_training_data(
                    session, horizon_days=settings.conversion_horizon_days, now=options.start
                )
            outcome = train_lead_score(data, settings=settings)
            validate_lead_score(settings)
            decision = promote(
                settings.lead_score_model_name,
                client=client,
                margin=settings.promote_margin,
                metric="roc_auc",
            )
            lead_version, lead_promoted, lead_note = (
                decision.challenger_version,
                decision.promoted,
                decision.reason,
            )
            lead_auc = _metric(
                outcome.metrics(), "holdout.model.roc_auc", "model_roc_auc", "roc_auc"
            )
            say(
                f"lead-score: trained on {data.rows:,} touches in {time.perf_counter() - t0:.1f} s; "
                f"{'champion' if lead_promoted else 'not promoted'}: {lead_note}"
            )
        except OptimizerError as exc:
            lead_note = f"not trained ({exc.message}): the points baseline scores leads"
            say(f"lead-score: {lead_note}")
        t0 = time.perf_counter()
        with transaction(sessions) as session:
            send_time = train_send_time(
                session, settings, now=options.start, seed=options.seed, promote_if_better=True
            )
        say(
            f"send-time: trained on {send_time.rows:,} sends in {time.perf_counter() - t0:.1f} s; "
            f"{'champion' if send_time.promoted else 'not promoted'}: {send_time.promotion_reason}"
        )
    engine.dispose()
    training = TrainingSummary(
        lead_score_version=lead_version,
        lead_score_promoted=lead_promoted,
        lead_score_note=lead_note,
        lead_score_auc=lead_auc,
        send_time_version=send_time.version,
        send_time_promoted=send_time.promoted,
        send_time_note=send_time.promotion_reason,
        send_time_auc=send_time.metrics.get("holdout_roc_auc"),
    )
    return world, training


def _metric(metrics: dict[str, Any], *names: str) -> float | None:
    for name in names:
        if name in metrics and metrics[name] is not None:
            return float(metrics[name])
    return None


class Server:
    """``optimizer serve`` in a child process on 127.0.0.1."""

    def __init__(self, settings: Settings, port: int, workers: int = 1) -> None:
        self.settings = settings
        self.workers = workers
        self.port = port or _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "OPTIMIZER_VAR_DIR": str(self.settings.var_dir),
            "OPTIMIZER_DATABASE_URL": self.settings.resolved_database_url(),
            "OPTIMIZER_MLFLOW_TRACKING_URI": self.settings.resolved_mlflow_uri(),
            "OPTIMIZER_SIMULATION": "true",
            "OPTIMIZER_BRAND_NAME": self.settings.brand_name,
        }
        command = [
            sys.executable,
            "-c",
            "import sys; from optimizer.cli import main; sys.exit(main())",
        ]
        command += [
            "serve",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--workers",
            str(self.workers),
        ]
        log = open(self.settings.var_dir / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OptimizerError(
                    f"the server exited with code {self.process.returncode} (see {log.name})"
                )
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise OptimizerError(f"the server did not become ready on {self.base_url} within 120 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _keys(settings: Settings) -> dict[str, str]:
    engine = make_engine(settings.resolved_database_url())
    keys: dict[str, str] = {}
    with transaction(session_factory(engine)) as session:
        for scope in SCOPES:
            keys[scope] = create_key(
                session, scopes=[scope], name=f"demo-{scope}", now=dt.datetime.now(dt.UTC)
            ).plaintext
    engine.dispose()
    return keys


def run_demo(options: DemoOptions, *, say: Say, progress: Progress) -> DemoResult:
    started = time.perf_counter()
    check_var_dir(options.var_dir)
    settings = demo_settings(options.var_dir)
    world, training = prepare_store(options, settings, say)
    keys = _keys(settings)
    write_keys_file(options.var_dir, keys)
    server = Server(settings, options.port)
    server.start()
    say(f"server: {server.base_url} (OpenAPI docs at {server.base_url}/docs)")
    try:
        headers = {"Authorization": f"Bearer {keys['admin']}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            created = client.post(
                "/v1/experiments",
                json={
                    "name": "first-touch-message",
                    "metric": "reply",
                    "policy": "thompson",
                    "variants": [{"name": n, "template": t} for n, t in DEMO_VARIANTS],
                    "control": "plain",
                    "seed": options.seed,
                    # A 5% randomised holdout: what the texts add, measured (experiment page).
                    "holdout": True,
                },
            )
            if created.status_code != 201:
                raise OptimizerError(f"creating the demo experiment failed: {created.text[:300]}")
            experiment_id = int(created.json()["id"])
            ours_engine = HttpEngine(client, experiment_id=experiment_id, brand=settings.brand_name)
            ours = run_world(
                world,
                ours_engine,
                start=options.start,
                days=options.days,
                progress=lambda done, total: progress("our engine (HTTP)", done, total),
            )
            results = client.get(f"/v1/experiments/{experiment_id}/results").json()
        naive_settings = Settings(
            var_dir=options.var_dir,
            database_url=f"sqlite:///{(options.var_dir / 'naive.db').as_posix()}",
            brand_name=settings.brand_name,
        )
        naive_store = make_engine(naive_settings.resolved_database_url())
        upgrade(naive_store)
        with transaction(session_factory(naive_store)) as session:
            import_simulated_registry(
                session, phones=world.population.phones, start=options.start, seed=options.seed
            )
        naive_engine = NaiveEngine(
            session_factory(naive_store),
            settings=naive_settings,
            variants=DEMO_VARIANTS,
            fallback_variant=FALLBACK_VARIANT,
            seed=options.seed,
        )
        naive = run_world(
            _world(options, settings),
            naive_engine,
            start=options.start,
            days=options.days,
            progress=lambda done, total: progress("naive engine (Day 0/4/8, 10:00)", done, total),
        )
        naive_store.dispose()
    finally:
        if not options.keep_server:
            server.stop()
    return DemoResult(
        ours=ours,
        naive=naive,
        ours_deferrals=ours_engine.counters.quiet_hour_deferrals,
        naive_deferrals=naive_engine.counters.quiet_hour_deferrals,
        ours_frequency_deferrals=ours_engine.counters.frequency_deferrals,
        naive_frequency_deferrals=naive_engine.counters.frequency_deferrals,
        training=training,
        experiment_id=experiment_id,
        experiment_results=results,
        base_url=server.base_url,
        settings=settings,
        seconds=time.perf_counter() - started,
        requests=ours_engine.counters.requests,
    )
