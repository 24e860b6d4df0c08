"""Benchmark of the decision API over real HTTP (loopback only).

Figures: one next-best-action under an open-loop load of 100 requests/s on one uvicorn worker
(SQLite, trained models where the simulated history allows, a 3-variant experiment): p50 and p99;
the highest rate 2 workers sustain with p99 <= 100 ms; a batch decision over 10,000 leads; and
the time from POST /v1/leads of a new lead (with consent) to its send_now decision. The 100/s
load is run twice: on new leads (no history) and on simulated leads with history.

    .venv/bin/python -m experiments.bench_api [--var-dir var/bench] [--duration 20]

With ``--store-dir`` (the directory ``optimizer demo --var-dir`` leaves behind) the same client
runs instead against a copy of that store: ``--rounds`` consecutive rounds of ``--duration`` s
at 100/s on one worker, on the demo's leads with history and its experiment, with ``as_of`` in
the daytime and then in the quiet hours of the US time zones; ``--reference`` first measures a
bare FastAPI endpoint with the same client and uvicorn settings. Per round: p50, p99, achieved
rate, the decision log's size and the WAL's size after it. The last line is one JSON object.

    .venv/bin/python -m experiments.bench_api --store-dir var/demo --rounds 3 --duration 10 \
        --reference

With ``--database`` (``sqlite``, ``postgresql`` or both) and ``--workers`` (e.g. ``1 2``), the
capacity table instead: for each database a store with the same simulated history and models
(PostgreSQL: a throw-away server from Debian's binaries, as the tests start, but with fsync on
and ``synchronous_commit=off``, the durability of SQLite's WAL with ``synchronous=NORMAL``),
then for each number of workers the open-loop rate stepped up (``--duration`` s per level)
until p99 passes 100 ms, an error occurs or the achieved rate falls below 95 % of the offered
one; the row gives the highest rate that held, its p50 and p99, and the CPU the server (all
its processes) and the database server spent per decision at that rate.

    .venv/bin/python -m experiments.bench_api --database sqlite postgresql --workers 1 2 \
        --duration 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import func, select

from experiments.loadgen import run_open_loop
from optimizer.demo.runner import DemoOptions, Server, _keys, demo_settings, prepare_store
from optimizer.demo.templates import DEMO_VARIANTS
from optimizer.ingest.leads import ConsentInput, LeadInput, add_consent, upsert_lead
from optimizer.settings import Settings
from optimizer.store.db import make_engine, session_factory, transaction
from optimizer.store.models import Decision, Event, Experiment
from tests import pg_server

# Tuesday 6 Oct 2026 17:00 UTC: 13:00 in New York, 10:00 in Los Angeles.
AS_OF = dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC)
Request = tuple[str, str, dict[str, object]]
AREA_CODES = ("212", "305", "312", "415", "713", "404", "617", "206", "602", "303")


def add_pool(settings_url: str, n: int, *, seed: int, prefix: str, brand: str) -> list[int]:
    rng = np.random.default_rng(seed)
    engine = make_engine(settings_url)
    ids: list[int] = []
    with transaction(session_factory(engine)) as session:
        for i in range(n):
            area = AREA_CODES[int(rng.integers(len(AREA_CODES)))]
            lead = upsert_lead(
                session,
                data=LeadInput(
                    external_id=f"{prefix}-{i}",
                    phone=f"+1{area}555{int(rng.integers(100, 199)):03d}{i % 10}",
                    vertical=str(rng.choice(["healthcare", "retail", "b2b", "home_services"])),
                    source="web_form",
                    attributes={"first_name": "Sam", "product_interest": "roof repair"},
                    created_at=AS_OF - dt.timedelta(days=int(rng.integers(1, 30))),
                ),
                now=AS_OF,
            ).lead
            add_consent(
                session,
                lead=lead,
                data=ConsentInput(
                    granted_at=lead.created_at,
                    method="web",
                    brand=brand,
                    disclosure="I agree.",
                ),
                now=AS_OF,
            )
            ids.append(lead.id)
    engine.dispose()
    return ids


def leads_with_history(url: str, *, limit: int) -> list[int]:
    """Simulated leads with events (sends, replies, visits, opt-outs): the mix a sequence engine
    asks about after the first touch, some of them suppressed."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        ids = list(
            session.scalars(select(Event.lead_id).distinct().order_by(Event.lead_id).limit(limit))
        )
    engine.dispose()
    return ids


def sweep(
    base_url: str,
    headers: dict[str, str],
    make_request: Callable[[int], Request],
    rates: tuple[int, ...],
    duration_s: float,
    label: str,
    cpu: Sequence[tuple[str, Callable[[], float]]] = (),
) -> tuple[list[dict[str, object]], int | None]:
    """Raise the open-loop rate until p99 passes 100 ms (or an error, or less than 95 % of the
    rate achieved); return the levels and the last good rate. ``cpu``: (name, CPU seconds so
    far) of processes whose CPU per answered request each level reports as ``{name}_cpu_ms``."""
    levels: list[dict[str, object]] = []
    sustained = None
    for rate in rates:
        before = [read() for _name, read in cpu]
        result = run_open_loop(base_url, headers, make_request, rate=rate, duration_s=duration_s)
        spent = {
            f"{name}_cpu_ms": 1000 * (read() - start) / max(result.ok, 1)
            for (name, read), start in zip(cpu, before, strict=True)
        }
        shown = "".join(f"  {name} {value:.2f}" for name, value in spent.items())
        print(f"{label}:", result.line() + shown, flush=True)
        levels.append({**result.__dict__, **spent})
        if result.p99_ms <= 100 and result.errors == 0 and result.achieved_rate >= 0.95 * rate:
            sustained = rate
        else:
            break
        time.sleep(2)
    return levels, sustained


# After the demo's ten days (5-15 Oct 2026): Thursday 15 Oct 17:00 UTC is 13:00 in New York and
# 10:00 in Los Angeles; Friday 16 Oct 07:00 UTC is 03:00 in New York and midnight in Los Angeles.
STORE_AS_OF = {
    "daytime": dt.datetime(2026, 10, 15, 17, 0, tzinfo=dt.UTC),
    "quiet_hours": dt.datetime(2026, 10, 16, 7, 0, tzinfo=dt.UTC),
}


def _reference_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """The bare endpoint under uvicorn, started the way ``optimizer serve`` starts the API."""
    command = [
        sys.executable,
        "-c",
        "import uvicorn; uvicorn.run('experiments.bare_app:create_app', factory=True, "
        f"host='127.0.0.1', port={port}, workers=1, log_level='warning')",
    ]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the reference server did not start on port {port} (see {log})")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to tell the server's own cost
    per request from time spent waiting for a core the machine's other processes hold."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time so far of a process and all its descendants (the workers of ``optimizer
    serve``, the backends of a PostgreSQL server); a process that ended meanwhile counts 0."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += _cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _wait_idle(pid: int, *, timeout_s: float = 180.0) -> None:
    """Wait until a process tree spends under 5 % of a core over a second (its workers have
    started), or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    before = _tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = _tree_cpu_seconds(pid)
        if now - before < 0.05:
            return
        before = now


CAPACITY_RATES = (20, 40, 60, 80, 100, 120, 150, 180, 220, 260, 300, 350, 400, 500)


def _capacity_store(
    database: str, args: argparse.Namespace, pg: pg_server.PgServer | None
) -> Settings:
    """A store on ``database`` with the simulated history, trained models and a lead pool."""
    var_dir = args.var_dir / database
    settings = demo_settings(var_dir)
    if pg is not None:
        url = pg.create_database(f"bench_{os.getpid()}")
        settings = settings.model_copy(update={"database_url": url})
    options = DemoOptions(var_dir=var_dir, leads=1, days=1, history_leads=args.history_leads)
    prepare_store(options, settings, lambda line: print(f"{database}: {line}", flush=True))
    return settings


def _bench_experiment(client: httpx.Client) -> int:
    made = client.post(
        "/v1/experiments",
        json={
            "name": "bench",
            "metric": "reply",
            "policy": "thompson",
            "variants": [{"name": n, "template": t} for n, t in DEMO_VARIANTS],
        },
    )
    assert made.status_code == 201, made.text[:300]
    return int(made.json()["id"])


def _capacity_row(
    settings: Settings,
    *,
    database: str,
    workers: int,
    pool: list[int],
    headers: dict[str, str],
    experiment: int | None,
    db_pid: int | None,
    duration_s: float,
) -> tuple[dict[str, object], int]:
    """One (database, workers) row of the capacity table, and the experiment it decided for
    (made on the first run, kept in the store for the next)."""
    server = Server(settings, 0, workers=workers)
    server.start()
    try:
        assert server.process is not None
        server_pid = server.process.pid
        # Ready means one worker answered: wait for the others to finish starting (their
        # imports and model loading would otherwise share the cores with the first level).
        _wait_idle(server_pid)
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            if experiment is None:
                experiment = _bench_experiment(client)
        chosen = experiment

        def warm(lead_id: int) -> None:  # a connection of its own: any worker may take it
            httpx.post(
                f"{server.base_url}/v1/next-best-action",
                json={"lead_id": lead_id, "experiment_id": chosen, "as_of": AS_OF.isoformat()},
                headers=headers,
                timeout=60,
            )

        with ThreadPoolExecutor(max_workers=8) as warmers:  # every worker's first decisions
            list(warmers.map(warm, pool[: 40 * workers]))

        def nba(i: int) -> Request:
            body = {
                "lead_id": pool[i % len(pool)],
                "experiment_id": chosen,
                "as_of": AS_OF.isoformat(),
            }
            return ("POST", "/v1/next-best-action", body)

        cpu: list[tuple[str, Callable[[], float]]] = [
            ("server", lambda: _tree_cpu_seconds(server_pid))
        ]
        if db_pid is not None:
            cpu.append(("db", lambda: _tree_cpu_seconds(db_pid)))
        label = f"{database}, {workers} worker{'s' if workers > 1 else ''}"
        levels, sustained = sweep(
            server.base_url, headers, nba, CAPACITY_RATES, duration_s, label, cpu
        )
    finally:
        server.stop()
    # The sweep stops at the first level that failed: the last one, unless every level held.
    failed = levels[-1] if levels and levels[-1]["rate"] != sustained else None
    # What the server resolved from this environment (OPTIMIZER_DECISION_THREADS and the pool
    # settings, if set, else the database's defaults).
    resolved = Settings(database_url=settings.resolved_database_url())
    row: dict[str, object] = {
        "database": database,
        "workers": workers,
        "decision_threads": resolved.resolved_decision_threads(),
        "pool": resolved.resolved_pool(),
        "sustained_per_s": sustained,
        "at_sustained": next((lv for lv in levels if lv["rate"] == sustained), None),
        "first_failed": failed,
        "levels": levels,
    }
    return row, experiment


def capacity(args: argparse.Namespace) -> None:
    """The decisions/s each (database, workers) sustains at p99 <= 100 ms, in one table."""
    pg: pg_server.PgServer | None = None
    rows: list[dict[str, object]] = []
    try:
        for database in dict.fromkeys(args.database):  # each once, in the order given
            if database == "postgresql":
                pg = pg_server.start_server(durable=True)
            settings = _capacity_store(database, args, pg if database == "postgresql" else None)
            url = settings.resolved_database_url()
            pool = add_pool(url, 2000, seed=1, prefix="pool", brand=settings.brand_name)
            headers = {"Authorization": f"Bearer {_keys(settings)['admin']}"}
            experiment: int | None = None
            for workers in args.workers:
                row, experiment = _capacity_row(
                    settings,
                    database=database,
                    workers=workers,
                    pool=pool,
                    headers=headers,
                    experiment=experiment,
                    db_pid=pg.postmaster_pid()
                    if pg is not None and database == "postgresql"
                    else None,
                    duration_s=args.duration,
                )
                rows.append(row)
    finally:
        if pg is not None:
            pg.stop()
    print(capacity_table(rows, args.duration), flush=True)
    print(json.dumps({"duration_s": args.duration, "rows": rows}, default=str))


def capacity_table(rows: list[dict[str, object]], duration_s: float) -> str:
    """The capacity rows as one plain-text table."""
    head = (
        f"decisions/s held at p99 <= 100 ms ({duration_s:g} s per level, open loop, "
        "next-best-action with a 3-variant experiment)"
    )
    columns = (
        f"{'database':<11} {'workers':>7} {'threads':>7} {'held/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'srv CPU':>8} {'db CPU':>7}  first level that failed"
    )
    lines = [head, columns, "-" * len(columns)]
    for row in rows:
        held = row["at_sustained"] if isinstance(row["at_sustained"], dict) else {}
        failed = row["first_failed"] if isinstance(row["first_failed"], dict) else None

        def number(value: object, width: int) -> str:
            return f"{value:>{width}.1f}" if isinstance(value, float) else f"{'-':>{width}}"

        why = "none (the highest level held)"
        if failed is not None:
            why = (
                f"{failed['rate']}/s: p99 {failed['p99_ms']:.1f} ms, errors {failed['errors']}, "
                f"achieved {failed['achieved_rate']:.1f}/s"
            )
        sustained = row["sustained_per_s"]
        lines.append(
            f"{row['database']:<11} {row['workers']:>7} {row['decision_threads']:>7} "
            f"{sustained if sustained is not None else '-':>7} {number(held.get('p50_ms'), 7)} "
            f"{number(held.get('p99_ms'), 7)} {number(held.get('server_cpu_ms'), 8)} "
            f"{number(held.get('db_cpu_ms'), 7)}  {why}"
        )
    lines.append("CPU columns: ms of CPU per answered decision at the held rate")
    return "\n".join(lines)


def _store_sizes(settings: Settings) -> dict[str, int]:
    db = Path(settings.var_dir) / "optimizer.db"
    wal = db.with_name(db.name + "-wal")
    engine = make_engine(settings.resolved_database_url())
    with session_factory(engine)() as session:
        decisions = int(session.scalar(select(func.count()).select_from(Decision)) or 0)
    engine.dispose()
    return {
        "decisions": decisions,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "db_bytes": db.stat().st_size,
    }


def store_rounds(args: argparse.Namespace) -> None:
    """Consecutive rounds at 100/s on one worker against a copy of an existing (demo) store."""
    source: Path = args.store_dir
    if not (source / "optimizer.db").exists():
        raise SystemExit(f"--store-dir {source}: no optimizer.db there (run 'optimizer demo')")
    work = args.var_dir / "store-copy"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in ("optimizer.db", "optimizer.db-wal", "mlflow.db"):
        if (source / name).exists():
            shutil.copy2(source / name, work / name)
    if (source / "mlartifacts").exists():
        shutil.copytree(source / "mlartifacts", work / "mlartifacts")
    settings = demo_settings(work)
    url = settings.resolved_database_url()
    engine = make_engine(url)
    with session_factory(engine)() as session:
        experiment = session.scalar(
            select(Experiment.id).where(Experiment.status == "running").order_by(Experiment.id)
        )
    engine.dispose()
    if experiment is None:
        raise SystemExit(f"--store-dir {source}: no running experiment in its store")
    history = leads_with_history(url, limit=2000)
    keys = _keys(settings)
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    figures: dict[str, object] = {
        "store_dir": str(source),
        "experiment_id": experiment,
        "leads": len(history),
        "rate": args.rate,
        "duration_s": args.duration,
        "start": _store_sizes(settings),
    }
    print(f"store copy {work}: {figures['start']}; {len(history)} leads with history", flush=True)

    def requests_at(as_of: dt.datetime) -> Callable[[int], Request]:
        def make(i: int) -> Request:
            body = {
                "lead_id": history[i % len(history)],
                "experiment_id": experiment,
                "as_of": as_of.isoformat(),
            }
            return ("POST", "/v1/next-best-action", body)

        return make

    if args.reference:
        port = int(Server(settings, 0).port)
        process = _reference_server(port, work / "reference.log")
        base = f"http://127.0.0.1:{port}"
        try:
            make = requests_at(STORE_AS_OF["daytime"])
            run_open_loop(base, headers, make, rate=args.rate, duration_s=2)
            reference = []
            for r in range(args.rounds):
                cpu = _cpu_seconds(process.pid)
                result = run_open_loop(
                    base, headers, make, rate=args.rate, duration_s=args.duration
                )
                cpu_ms = 1000 * (_cpu_seconds(process.pid) - cpu) / max(result.ok, 1)
                print(
                    f"bare FastAPI endpoint, round {r + 1}:",
                    result.line(),
                    f" server CPU {cpu_ms:.2f} ms/request",
                    flush=True,
                )
                reference.append({**result.__dict__, "server_cpu_ms_per_request": cpu_ms})
            figures["reference"] = reference
        finally:
            process.terminate()
            process.wait(timeout=20)

    server = Server(settings, 0, workers=1)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            for i in range(20):  # warm-up (models loaded, first queries compiled)
                for as_of in STORE_AS_OF.values():
                    response = client.post("/v1/next-best-action", json=requests_at(as_of)(i)[2])
                    assert response.status_code == 200, response.text[:300]
        for label in args.as_of:
            make = requests_at(STORE_AS_OF[label])
            rounds = []
            for r in range(args.rounds):
                assert server.process is not None
                cpu = _cpu_seconds(server.process.pid)
                result = run_open_loop(
                    server.base_url, headers, make, rate=args.rate, duration_s=args.duration
                )
                cpu_ms = 1000 * (_cpu_seconds(server.process.pid) - cpu) / max(result.ok, 1)
                sizes = _store_sizes(settings)
                print(
                    f"1 worker, {label} as_of, round {r + 1}:",
                    result.line(),
                    f" server CPU {cpu_ms:.2f} ms/request  decisions {sizes['decisions']:,}  "
                    f"WAL {sizes['wal_bytes'] / 1e6:.1f} MB",
                    flush=True,
                )
                rounds.append({**result.__dict__, **sizes, "server_cpu_ms_per_request": cpu_ms})
            figures[label] = rounds
    finally:
        server.stop()
    print(json.dumps(figures, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    parser.add_argument("--history-leads", type=int, default=6000)
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=None,
        help="run against a copy of this existing store (an 'optimizer demo --var-dir')",
    )
    parser.add_argument("--rounds", type=int, default=3, help="consecutive rounds (--store-dir)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s (--store-dir)")
    parser.add_argument(
        "--as-of",
        nargs="+",
        choices=sorted(STORE_AS_OF),
        default=["daytime", "quiet_hours"],
        help="the decision times of the rounds (--store-dir)",
    )
    parser.add_argument(
        "--reference", action="store_true", help="also measure a bare FastAPI endpoint first"
    )
    parser.add_argument(
        "--database",
        nargs="+",
        choices=("sqlite", "postgresql"),
        default=None,
        help="the capacity table on these stores (see the module docstring)",
    )
    parser.add_argument(
        "--workers",
        nargs="+",
        type=int,
        default=[1, 2],
        help="numbers of server workers of the capacity table (--database)",
    )
    args = parser.parse_args()
    if args.store_dir is not None:
        store_rounds(args)
        return
    if args.database is not None:
        if any(w < 1 for w in args.workers):
            parser.error(f"--workers {args.workers}: each must be 1 or more")
        capacity(args)
        return
    options = DemoOptions(var_dir=args.var_dir, leads=1, days=1, history_leads=args.history_leads)
    settings = demo_settings(args.var_dir)
    _world, training = prepare_store(options, settings, print)
    history = leads_with_history(settings.resolved_database_url(), limit=2000)
    pool = add_pool(
        settings.resolved_database_url(), 2000, seed=1, prefix="pool", brand=settings.brand_name
    )
    big_pool = add_pool(
        settings.resolved_database_url(), 10_000, seed=2, prefix="big", brand=settings.brand_name
    )
    keys = _keys(settings)
    figures: dict[str, object] = {
        "models": {"lead_score": training.lead_score_note, "send_time": training.send_time_note}
    }

    server = Server(settings, 0, workers=1)
    server.start()
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            experiment = client.post(
                "/v1/experiments",
                json={
                    "name": "bench",
                    "metric": "reply",
                    "policy": "thompson",
                    "variants": [{"name": n, "template": t} for n, t in DEMO_VARIANTS],
                },
            ).json()["id"]
            # Warm-up.
            for lead_id in pool[:20]:
                client.post(
                    "/v1/next-best-action",
                    json={
                        "lead_id": lead_id,
                        "experiment_id": experiment,
                        "as_of": AS_OF.isoformat(),
                    },
                )

            def requests_for(lead_ids: list[int]) -> Callable[[int], Request]:
                """Request ``i`` of a load: next-best-action for the leads in turn."""

                def make(i: int) -> Request:
                    body = {
                        "lead_id": lead_ids[i % len(lead_ids)],
                        "experiment_id": experiment,
                        "as_of": AS_OF.isoformat(),
                    }
                    return ("POST", "/v1/next-best-action", body)

                return make

            nba = requests_for(pool)

            figures["one_worker_levels"], figures["one_worker_max_rate_p99_le_100ms"] = sweep(
                server.base_url,
                headers,
                nba,
                (10, 20, 40, 60, 80, 100, 120),
                args.duration / 2,
                "1 worker",
            )
            # Batch of 10,000 leads.
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                response = client.post(
                    "/v1/next-best-action/batch",
                    json={
                        "lead_ids": big_pool,
                        "capacity": 500,
                        "experiment_id": experiment,
                        "as_of": AS_OF.isoformat(),
                    },
                )
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200, response.text[:300]
            body = response.json()
            print(
                f"batch of {len(big_pool):,} leads: median {statistics.median(times):.2f} s "
                f"(runs {', '.join(f'{t:.2f}' for t in times)}); selected {len(body['selected'])}, "
                f"not selected {body['not_selected']}"
            )
            figures["batch_10000_seconds"] = {"median": statistics.median(times), "runs": times}
            # New lead with consent -> send_now.
            latencies = []
            actions = []
            for i in range(60):
                t0 = time.perf_counter()
                lead = client.post(
                    "/v1/leads",
                    json={
                        "external_id": f"fresh-{i}",
                        "phone": f"+1212555{1000 + i}",
                        "attributes": {"first_name": "Ana", "product_interest": "eye exam"},
                        "created_at": AS_OF.isoformat(),
                    },
                ).json()
                client.post(
                    f"/v1/leads/{lead['id']}/consents",
                    json={
                        "granted_at": AS_OF.isoformat(),
                        "method": "web",
                        "brand": settings.brand_name,
                        "disclosure": "I agree to receive automated marketing texts.",
                    },
                )
                decision = client.post(
                    "/v1/next-best-action",
                    json={
                        "lead_id": lead["id"],
                        "experiment_id": experiment,
                        "as_of": (AS_OF + dt.timedelta(seconds=5)).isoformat(),
                    },
                ).json()
                latencies.append(time.perf_counter() - t0)
                actions.append(decision["action"])
            print(
                f"new lead -> decision: median {1000 * statistics.median(latencies):.1f} ms, "
                f"p90 {1000 * float(np.percentile(latencies, 90)):.1f} ms; actions {set(actions)}"
            )
            figures["lead_to_send_now_ms"] = {
                "median": 1000 * statistics.median(latencies),
                "p90": 1000 * float(np.percentile(latencies, 90)),
                "actions": sorted(set(actions)),
            }

            # The target: 100/s on one worker, for new leads (no history) and for leads with
            # history. Last, because a rate above capacity leaves a queue behind it.
            nba_history = requests_for(history)
            for label, make in (("new leads", nba), ("leads with history", nba_history)):
                one = run_open_loop(
                    server.base_url, headers, make, rate=100, duration_s=args.duration
                )
                print(f"1 worker, open loop at 100/s, {label}:", one.line(), flush=True)
                key = "new_leads" if make is nba else "history_leads"
                figures[f"one_worker_100rps_{key}"] = one.__dict__
                time.sleep(2)
    finally:
        server.stop()

    server = Server(settings, 0, workers=2)
    server.start()
    sustained = None
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            for lead_id in pool[:20]:
                client.post(
                    "/v1/next-best-action",
                    json={
                        "lead_id": lead_id,
                        "experiment_id": experiment,
                        "as_of": AS_OF.isoformat(),
                    },
                )
        levels, sustained = sweep(
            server.base_url,
            headers,
            nba,
            (20, 40, 60, 80, 100, 120, 150, 200),
            args.duration / 2,
            "2 workers",
        )
        figures["two_workers"] = levels
        figures["two_workers_max_rate_p99_le_100ms"] = sustained
        print(f"2 workers: highest rate with p99 <= 100 ms: {sustained}/s")
    finally:
        server.stop()
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
