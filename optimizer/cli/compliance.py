"""``optimizer compliance ...`` and ``optimizer dnc ...``: audit a plan, banned dates, DNC import."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TextIO

import typer

from optimizer.cli.app import compliance_app, dnc_app
from optimizer.cli.common import emit_json, settings
from optimizer.compliance.audit import (
    OUTPUT_COLUMNS,
    AuditResult,
    audit_all,
    audit_record,
    check_header,
)
from optimizer.compliance.dnc import check_registry, import_dnc, parse_dnc_text
from optimizer.compliance.policy import POLICY_NAMES, policy_from_settings
from optimizer.compliance.rules import rules_version
from optimizer.errors import InvalidInput
from optimizer.phones import STATE_CODES
from optimizer.store.banned_dates import add_banned_date
from optimizer.store.db import (
    Engine,
    SessionFactory,
    make_engine,
    require_head,
    session_factory,
    transaction,
)

banned_app = typer.Typer(help="Run-time banned days (governor-declared holidays, emergencies).")
compliance_app.add_typer(banned_app, name="banned-date")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"file {str(path)!r} cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"file {str(path)!r} is not UTF-8 text") from exc


def _date(option: str, raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{option} {raw!r} is not a date (YYYY-MM-DD expected)") from exc


def _write_results(
    rows: list[dict[str, str]],
    results: list[AuditResult],
    columns: list[str],
    fmt: str,
    out: TextIO,
) -> tuple[int, int, int]:
    allowed = denied = unreadable = 0
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns + list(OUTPUT_COLUMNS), lineterminator="\n")
        writer.writeheader()
    for row, result in zip(rows, results, strict=True):
        allowed += result.allowed
        denied += not result.allowed
        unreadable += any(code.startswith("input.") for code in result.codes)
        record = audit_record(row, result, columns)
        if writer is not None:
            writer.writerow(record)
            continue
        payload: dict[str, object] = dict(record)
        payload.update(
            allowed=result.allowed,
            reasons=list(result.codes),
            next_allowed_at=record["next_allowed_at"] or None,
            details=[
                {"code": r.code, "message": r.message, "source": r.source} for r in result.reasons
            ],
        )
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    return allowed, denied, unreadable


@compliance_app.command("audit")
def audit(
    plan: Path = typer.Argument(
        ..., help="CSV plan: phone, send_at, message (+ optional columns)."
    ),
    policy: str = typer.Option("", "--policy", help="legal or house (default: OPTIMIZER_POLICY)."),
    brand: str = typer.Option("", "--brand", help="Brand name required in messages."),
    fmt: str = typer.Option("csv", "--format", help="csv or jsonl."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write results here."),
    workers: int = typer.Option(0, "--workers", help="Processes (0: CPU count for large plans)."),
) -> None:
    """Evaluate every row of a planned campaign on its own (no database needed)."""
    conf = settings()
    name = policy or conf.policy
    if name not in POLICY_NAMES:
        raise InvalidInput(f"--policy {name!r} is unknown (legal or house expected)")
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"--format {fmt!r} is unknown (csv or jsonl expected)")
    if brand:
        conf = conf.model_copy(update={"brand_name": brand})
    config = policy_from_settings(conf, name)
    reader = csv.DictReader(_read_text(plan).splitlines())
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    check_header(columns)
    rows = [{k: v for k, v in row.items() if k is not None} for row in reader]
    results = audit_all(rows, config, workers)
    if output is None:
        counts = _write_results(rows, results, columns, fmt, sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="") as handle:
            counts = _write_results(rows, results, columns, fmt, handle)
    summary = {
        "rows": len(rows),
        "allowed": counts[0],
        "denied": counts[1],
        "unreadable": counts[2],
        "policy": name,
        "brand": config.brand,
        "rules_version": rules_version(),
    }
    if output is None:
        typer.echo(json.dumps(summary, sort_keys=True), err=True)
    else:
        emit_json({**summary, "output": str(output)})


def _session_scope() -> tuple[Engine, SessionFactory]:
    engine = make_engine(settings().resolved_database_url())
    require_head(engine)
    return engine, session_factory(engine)


@banned_app.command("add")
def banned_date_add(
    state: str = typer.Option(..., "--state", help="Two-letter state, or US for every state."),
    date: str = typer.Option(..., "--date", help="The banned day, YYYY-MM-DD (recipient local)."),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. governor-declared holiday)."),
) -> None:
    """Add a run-time banned day; it applies to every later verdict for that state."""
    code = state.strip().upper()
    if code != "US" and code not in STATE_CODES:
        raise InvalidInput(f"--state {state!r} is not a two-letter US state code (or US)")
    if not reason.strip():
        raise InvalidInput(
            "--reason is empty (a reason such as 'governor-declared holiday' expected)"
        )
    day = _date("--date", date)
    now = dt.datetime.now(dt.UTC)
    engine, factory = _session_scope()
    try:
        with transaction(factory) as session:
            row = add_banned_date(session, state=code, day=day, reason=reason.strip(), now=now)
            row_id = row.id
    finally:
        engine.dispose()
    typer.echo(f"banned date added: {code} {day.isoformat()} ({reason.strip()})")
    emit_json({"id": row_id, "state": code, "day": day.isoformat(), "reason": reason.strip()})


@dnc_app.command("import")
def dnc_import(
    file: Path = typer.Argument(..., help="One number per line, or a CSV with a phone column."),
    registry: str = typer.Option(..., "--registry", help="national or a two-letter state."),
    as_of: str = typer.Option(..., "--as-of", help="Date of the registry copy, YYYY-MM-DD."),
) -> None:
    """Import a Do-Not-Call registry copy; invalid lines are listed, not dropped silently."""
    name = check_registry(registry)
    day = _date("--as-of", as_of)
    parsed = parse_dnc_text(_read_text(file))
    now = dt.datetime.now(dt.UTC)
    engine, factory = _session_scope()
    try:
        with transaction(factory) as session:
            row = import_dnc(
                session, parsed=parsed, registry=name, as_of=day, now=now, source_name=file.name
            )
            import_id = row.id
    finally:
        engine.dispose()
    for bad in parsed.invalid[:20]:
        typer.echo(f"line {bad.line}: {bad.message}", err=True)
    if len(parsed.invalid) > 20:
        typer.echo(f"... and {len(parsed.invalid) - 20} more invalid lines", err=True)
    age = (now.date() - day).days
    typer.echo(
        f"imported {len(parsed.numbers)} numbers into the {name} registry as of {day.isoformat()} "
        f"({len(parsed.invalid)} invalid lines of {parsed.lines}; copy is {age} days old)"
    )
    if age > settings().dnc_max_age_days:
        typer.echo(
            f"warning: this copy is older than {settings().dnc_max_age_days} days: every number it "
            "covers is denied with dnc.registry_stale",
            err=True,
        )
    emit_json(
        {
            "import_id": import_id,
            "registry": name,
            "as_of": day.isoformat(),
            "numbers": len(parsed.numbers),
            "invalid": len(parsed.invalid),
            "invalid_lines": [b.line for b in parsed.invalid],
        }
    )
