"""The reliability suite, full run: one subcommand per scenario, each printing a small table and,
on its last line, one JSON object with its figures.

    python -m experiments.reliability million-sends [--sends 1000000 --seed 7]
    python -m experiments.reliability crash [--clients 4 --load-seconds 10 --rounds 3]
    python -m experiments.reliability race [--leads 100 --clients 50 --runs 10]
    python -m experiments.reliability writers [--requests 200]
    python -m experiments.reliability replay [--clients 20 --leads 60]
    python -m experiments.reliability wal [--seconds 60 --writers 4]
    python -m experiments.reliability all          # every scenario with its defaults

The fast parts run in ``make test`` (tests/reliability/). A scenario is one entry of
``SCENARIOS``: its name, a line of help, a function that adds its options to its subparser, and a
function from the parsed options to its figures (a JSON-able dict; ``table`` rows are printed
from it). ``all`` calls each with its defaults, in the order of the registry.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Figures = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Figures]
    table: Callable[[Figures], list[tuple[str, str]]]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number (>= 1 expected)")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number (> 0 expected)")
    return value


def _print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max((len(k) for k, _ in rows), default=0)
    print(title)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


# -- million-sends -------------------------------------------------------------------------------


def _million_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sends", type=positive_int, default=1_000_000, help="candidate sends (1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--per-lead", type=positive_int, default=20, help="candidate sends per lead"
    )


def _million_run(args: argparse.Namespace) -> Figures:
    from experiments.gate_million import million_sends

    return million_sends(args.sends, seed=args.seed, per_lead=args.per_lead)


def _million_table(f: Figures) -> list[tuple[str, str]]:
    rows = [
        ("candidate sends", f"{f['sends']:,} ({f['leads']:,} leads, seed {f['seed']})"),
        ("split-zone-number leads", f"{f['split_zone_leads']:,}"),
        ("allowed by the gate", f"{f['allowed']:,}"),
        ("denied by the gate", f"{f['denied']:,}"),
    ]
    for code, count in list(f["denied_by_reason"].items())[:12]:
        rows.append((f"  denied: {code}", f"{count:,}"))
    for kind, count in f["violations"].items():
        rows.append((f"violations: {kind}", str(count)))
    rows += [
        ("violations (independent checker)", str(f["violation_count"])),
        (
            "mask vs evaluate (sampled)",
            f"{f['evaluate_disagreements']} disagreements of {f['evaluate_checked']:,}",
        ),
        ("gate throughput", f"{f['sends_per_second']:,} sends/s ({f['gate_seconds']} s)"),
    ]
    return rows


# -- crash ---------------------------------------------------------------------------------------


def _crash_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clients",
        type=positive_int,
        default=4,
        help="concurrent writer threads (4)",
    )
    parser.add_argument(
        "--load-seconds", type=positive_float, default=10.0, help="load before each kill"
    )
    parser.add_argument("--rounds", type=positive_int, default=3, help="kill -9 / restart cycles")
    parser.add_argument(
        "--var-dir", type=Path, default=None, help="store dir (default: a temp dir)"
    )


def _crash_run(args: argparse.Namespace) -> Figures:
    from experiments.crash_safety import run_crash

    def go(var_dir: Path) -> Figures:
        rounds = run_crash(
            var_dir,
            clients=args.clients,
            load_seconds=args.load_seconds,
            rounds=args.rounds,
            say=lambda line: print(line, file=sys.stderr),
        )
        return {
            "scenario": "crash",
            "clients": args.clients,
            "rounds": [asdict(r) for r in rounds],
            "acknowledged": sum(r.acknowledged for r in rounds),
            "missing": rounds[-1].missing,
            "opt_outs_not_suppressed": rounds[-1].opt_outs_not_suppressed,
            "integrity": sorted({r.integrity for r in rounds}),
        }

    if args.var_dir is not None:
        return go(args.var_dir)
    with tempfile.TemporaryDirectory(prefix="crash-") as tmp:
        return go(Path(tmp))


def _crash_table(f: Figures) -> list[tuple[str, str]]:
    rows = []
    for r in f["rounds"]:
        rows.append(
            (
                f"round {r['round_no']}",
                f"{r['acknowledged']:,} writes acknowledged in {r['load_seconds']:g} s "
                f"({r['acknowledged_leads']} leads, {r['acknowledged_consents']} consents, "
                f"{r['acknowledged_events']} events incl. {r['acknowledged_opt_outs']} STOPs); "
                f"kill -9; restart {r['restart_seconds']:.1f} s; missing {r['missing']}; "
                f"integrity {r['integrity']}",
            )
        )
    rows += [
        ("writer threads", str(f["clients"])),
        ("acknowledged writes", f"{f['acknowledged']:,}"),
        ("acknowledged writes missing", str(f["missing"])),
        ("acknowledged STOPs not suppressed", str(f["opt_outs_not_suppressed"])),
        ("PRAGMA integrity_check", ", ".join(f["integrity"])),
    ]
    return rows


# -- race ----------------------------------------------------------------------------------------


def _race_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--leads", type=positive_int, default=100)
    parser.add_argument("--decisions-per-lead", type=positive_int, default=3)
    parser.add_argument("--clients", type=positive_int, default=50)
    parser.add_argument("--runs", type=positive_int, default=10, help="runs per backend")
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="an empty PostgreSQL database for the 2-worker runs (default: a throw-away server "
        "from Debian's postgresql binaries, skipped when absent)",
    )
    parser.add_argument("--seed", type=int, default=0)


def _race_run(args: argparse.Namespace) -> Figures:
    import datetime as dt

    from experiments.live_server import running_server
    from experiments.reliability_race import BRAND, run_race

    env = {"OPTIMIZER_POLICY": "legal", "OPTIMIZER_BRAND_NAME": BRAND}
    backends: dict[str, list[Figures]] = {"sqlite": [], "postgresql": []}
    pg = None
    urls: list[str | None] = []
    try:
        if args.postgres_url is None:
            from tests import pg_server

            try:
                pg = pg_server.start_server()
            except FileNotFoundError as exc:
                print(f"postgresql runs skipped: {exc}", file=sys.stderr)
        for run_no in range(args.runs):
            for backend in ("sqlite", "postgresql"):
                url: str | None = None
                if backend == "postgresql":
                    if pg is not None:
                        url = pg.create_database(f"race_{run_no}")
                    elif args.postgres_url:
                        url = args.postgres_url if run_no == 0 else None
                    if url is None:
                        continue
                urls.append(url)
                with (
                    tempfile.TemporaryDirectory(prefix="race-") as tmp,
                    running_server(
                        Path(tmp),
                        database_url=url,
                        workers=2 if backend == "postgresql" else 1,
                        extra_env=env,
                    ) as server,
                ):
                    result = run_race(
                        server,
                        leads=args.leads,
                        decisions_per_lead=args.decisions_per_lead,
                        clients=args.clients,
                        seed=args.seed + run_no,
                        now=dt.datetime.now(dt.UTC),
                    )
                print(f"{backend} run {run_no + 1}: {result.as_dict()}", file=sys.stderr)
                backends[backend].append(result.as_dict())
    finally:
        if pg is not None:
            pg.stop()
    return {
        "scenario": "race",
        "runs": backends,
        "sends_after_stop": {
            name: sum(int(r["sends_after_stop"]) for r in runs) for name, runs in backends.items()
        },
        "errors": {name: sum(int(r["errors"]) for r in runs) for name, runs in backends.items()},
    }


def _race_table(f: Figures) -> list[tuple[str, str]]:
    rows = []
    for backend, runs in f["runs"].items():
        for i, r in enumerate(runs, 1):
            rows.append(
                (
                    f"{backend} run {i}",
                    f"{r['leads']} leads, {r['confirms']} confirms ({r['confirms_allowed']} "
                    f"allowed), {r['stops_acknowledged']} STOPs, errors {r['errors']}, slowest "
                    f"{r['slowest_s']} s, sends after STOP {r['sends_after_stop']} "
                    f"(by {r['order_by']})",
                )
            )
    for backend, count in f["sends_after_stop"].items():
        rows.append((f"{backend}: sends after a stored STOP", str(count)))
    return rows


# -- shared: SQLite, and PostgreSQL with 2 workers when a server is at hand ----------------------


def _add_postgres_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="an empty PostgreSQL database for the 2-worker run (default: a throw-away server "
        "from Debian's postgresql binaries, skipped when absent)",
    )


def _on_each_backend(
    args: argparse.Namespace,
    prefix: str,
    run: Callable[[Any], Figures],
    extra_env: dict[str, str],
) -> dict[str, Figures]:
    """``run(server)`` on a fresh SQLite store (1 worker), then on a fresh PostgreSQL database
    (2 workers) when one is available; figures by backend."""
    from experiments.live_server import running_server

    results: dict[str, Figures] = {}
    pg = None
    try:
        url: str | None = args.postgres_url
        if url is None:
            from tests import pg_server

            try:
                pg = pg_server.start_server()
                url = pg.create_database(prefix)
            except FileNotFoundError as exc:
                print(f"postgresql run skipped: {exc}", file=sys.stderr)
        for backend, database_url, workers in (("sqlite", None, 1), ("postgresql", url, 2)):
            if backend == "postgresql" and database_url is None:
                continue
            with (
                tempfile.TemporaryDirectory(prefix=f"{prefix}-") as tmp,
                running_server(
                    Path(tmp), database_url=database_url, workers=workers, extra_env=extra_env
                ) as server,
            ):
                results[backend] = {"workers": workers, **run(server)}
            print(f"{backend}: {results[backend]}", file=sys.stderr)
    finally:
        if pg is not None:
            pg.stop()
    return results


# -- writers -------------------------------------------------------------------------------------


def _writers_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--requests", type=positive_int, default=200, help="writing requests at once (200)"
    )
    parser.add_argument("--timeout", type=positive_float, default=60.0, help="client timeout, s")
    parser.add_argument("--seed", type=int, default=0)
    _add_postgres_argument(parser)


def _writers_run(args: argparse.Namespace) -> Figures:
    from experiments.reliability_writers import SIMULATION_ENV, run_writers

    backends = _on_each_backend(
        args,
        "writers",
        lambda server: run_writers(
            server, requests=args.requests, timeout=args.timeout, seed=args.seed
        ).as_dict(),
        SIMULATION_ENV,
    )
    return {"scenario": "writers", "backends": backends}


def _writers_table(f: Figures) -> list[tuple[str, str]]:
    rows = []
    for backend, r in f["backends"].items():
        kinds = ", ".join(f"{n} {k}" for k, n in r["by_kind"].items())
        rows.append(
            (
                f"{backend} ({r['workers']} worker{'s' if r['workers'] > 1 else ''})",
                f"{r['requests']} writing requests at once: {r['ok_2xx']} answered 2xx "
                f"({kinds}), {r['not_2xx']} not; slowest {r['slowest_s']} s, p50 {r['p50_s']} s, "
                f"p90 {r['p90_s']} s",
            )
        )
    return rows


# -- replay --------------------------------------------------------------------------------------


def _replay_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--leads", type=positive_int, default=60, help="leads with a sent decision")
    parser.add_argument("--clients", type=positive_int, default=20, help="clients posting all")
    parser.add_argument("--batch", type=positive_int, default=10, help="events per post")
    parser.add_argument("--seed", type=int, default=0)
    _add_postgres_argument(parser)


def _replay_run(args: argparse.Namespace) -> Figures:
    from experiments.reliability_replay import run_replay
    from experiments.reliability_writers import SIMULATION_ENV

    def one(server: Any) -> Figures:
        figures = run_replay(
            server, leads=args.leads, clients=args.clients, batch=args.batch, seed=args.seed
        ).as_dict()
        return figures

    backends = _on_each_backend(args, "replay", one, SIMULATION_ENV)
    return {"scenario": "replay", "backends": backends}


def _replay_table(f: Figures) -> list[tuple[str, str]]:
    rows = []
    for backend, r in f["backends"].items():
        rows.append(
            (
                f"{backend} ({r['workers']} worker{'s' if r['workers'] > 1 else ''})",
                f"{r['events']} events × {r['clients']} clients in {r['posts']} posts: "
                f"{r['not_2xx']} not 2xx; accepted {r['accepted']}, duplicates {r['duplicates']}; "
                f"stored {r['stored_events']} events, {r['rewards_stored']} rewards "
                f"(expected {r['rewards_expected']}), {r['suppressions_stored']} suppressions for "
                f"{r['stops']} STOPs; {r['arms']} arms exact: {r['arms_exact']}; slowest post "
                f"{r['slowest_s']} s",
            )
        )
    return rows


# -- wal -----------------------------------------------------------------------------------------


def _wal_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=positive_float, default=60.0, help="write load (60 s)")
    parser.add_argument("--writers", type=positive_int, default=4, help="writer threads")
    parser.add_argument("--readers", type=positive_int, default=2, help="report reader threads")


def _wal_run(args: argparse.Namespace) -> Figures:
    from experiments.crash_safety import BRAND
    from experiments.live_server import running_server
    from experiments.reliability_writers import run_wal_load

    with (
        tempfile.TemporaryDirectory(prefix="wal-") as tmp,
        running_server(Path(tmp), extra_env={"OPTIMIZER_BRAND_NAME": BRAND}) as server,
    ):
        result = run_wal_load(
            server,
            Path(tmp) / "optimizer.db",
            seconds=args.seconds,
            writers=args.writers,
            readers=args.readers,
            say=lambda line: print(line, file=sys.stderr),
        )
    return {"scenario": "wal", **result.as_dict()}


def _wal_table(f: Figures) -> list[tuple[str, str]]:
    return [
        ("write load", f"{f['seconds']:g} s, {f['writers']} writers, {f['requests']:,} requests"),
        ("acknowledged writes", f"{f['acknowledged_writes']:,} (errors {f['errors']})"),
        ("largest -wal file (sampled each second)", f"{f['max_wal_mib']} MiB (bound: 64 MiB)"),
        ("-wal file at the end", f"{f['last_wal_mib']} MiB"),
        ("store file", f"{f['store_mib']} MiB"),
    ]


# The registry.
SCENARIOS: dict[str, Scenario] = {
    "million-sends": Scenario(
        "million-sends",
        "a million simulated sends through the gate; the independent checker finds 0 violations",
        _million_args,
        _million_run,
        _million_table,
    ),
    "race": Scenario(
        "race",
        "opt-out race: STOPs and confirms of pre-made decisions from 50 clients; sends "
        "committed after a stored STOP must be 0 (SQLite; PostgreSQL with 2 workers)",
        _race_args,
        _race_run,
        _race_table,
    ),
    "crash": Scenario(
        "crash",
        "kill -9 the server during ingest load, restart: acknowledged writes missing 0",
        _crash_args,
        _crash_run,
        _crash_table,
    ),
    "writers": Scenario(
        "writers",
        "200 writing requests released together (leads, consents, events with STOPs, "
        "confirms): all answered 2xx (SQLite 1 worker; PostgreSQL 2 workers)",
        _writers_args,
        _writers_run,
        _writers_table,
    ),
    "replay": Scenario(
        "replay",
        "the same outcome events and STOPs posted by 20 clients at once: stored once, arm "
        "statistics exact (SQLite; PostgreSQL with 2 workers)",
        _replay_args,
        _replay_run,
        _replay_table,
    ),
    "wal": Scenario(
        "wal",
        "60 s of writes and reads on SQLite: the -wal file stays under 64 MiB",
        _wal_args,
        _wal_run,
        _wal_table,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.reliability",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="scenario", required=True)
    for scenario in SCENARIOS.values():
        scenario.add_arguments(sub.add_parser(scenario.name, help=scenario.help))
    sub.add_parser("all", help="every scenario with its defaults")
    return parser


def defaults(name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    SCENARIOS[name].add_arguments(parser)
    return parser.parse_args([])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.scenario == "all":
        figures: dict[str, Figures] = {}
        for name, scenario in SCENARIOS.items():
            figures[name] = scenario.run(defaults(name))
            _print_table(name, scenario.table(figures[name]))
        print(json.dumps({"scenarios": figures}, sort_keys=False))
        return 0
    scenario = SCENARIOS[args.scenario]
    result = scenario.run(args)
    _print_table(scenario.name, scenario.table(result))
    print(json.dumps(result, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
