"""Audit a planned campaign row by row, with no database: the engine behind
``optimizer compliance audit``. A row it cannot read is denied with a reason naming the column;
the other rows are still evaluated."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from optimizer.compliance.gate import evaluate
from optimizer.compliance.model import (
    ConsentEntry,
    DncCheck,
    GateContext,
    PolicyConfig,
    Reason,
    SuppressionStatus,
)
from optimizer.compliance.policy import policy_from_settings
from optimizer.errors import InvalidInput
from optimizer.phones import STATE_CODES, InvalidPhone, parse_phone
from optimizer.settings import Settings

REQUIRED_COLUMNS = ("phone", "send_at", "message")
OPTIONAL_COLUMNS = (
    "state",
    "timezone",
    "consent_at",
    "opted_out_at",
    "prior_sends",
    "last_reply_at",
    "first_in_sequence",
    "dnc",
)
OUTPUT_COLUMNS = ("allowed", "reasons", "next_allowed_at")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
INPUT_SOURCE = "audit plan (row could not be read)"


@dataclass(frozen=True, slots=True)
class AuditResult:
    line: int  # 1-based line of the row in the file (header = 1)
    allowed: bool
    reasons: tuple[Reason, ...]
    next_allowed_at: dt.datetime | None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


def check_header(columns: Iterable[str]) -> None:
    present = set(columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise InvalidInput(
            f"audit plan lacks column(s) {', '.join(missing)} (header with at least "
            f"{', '.join(REQUIRED_COLUMNS)} expected)"
        )


class _RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _instant(column: str, raw: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise _RowError(column, f"{column} {raw!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise _RowError(column, f"{column} {raw!r} has no UTC offset (e.g. 2026-11-24T20:30-05:00)")
    return value


def _optional_instant(row: Mapping[str, str], column: str) -> dt.datetime | None:
    raw = (row.get(column) or "").strip()
    return _instant(column, raw) if raw else None


def _flag(row: Mapping[str, str], column: str) -> bool | None:
    raw = (row.get(column) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return None if raw == "" else False
    raise _RowError(column, f"{column} {row.get(column)!r} is not true/false")


def row_context(row: Mapping[str, str], policy: PolicyConfig) -> GateContext:
    """Build the gate context of one plan row; raise ``_RowError`` naming the column."""
    send_at = _instant("send_at", row.get("send_at") or "")
    message = row.get("message")
    if message is None:
        raise _RowError("message", "message is missing")
    phone_raw = row.get("phone") or ""
    try:
        phone, phone_error = parse_phone(phone_raw.strip()), None
    except InvalidPhone as exc:
        phone, phone_error = None, exc.message
    state = (row.get("state") or "").strip().upper() or None
    if state is not None and state not in STATE_CODES:
        raise _RowError("state", f"state {row.get('state')!r} is not a two-letter US state code")
    consent_at = _optional_instant(row, "consent_at")
    opted_out_at = _optional_instant(row, "opted_out_at")
    prior = tuple(
        _instant("prior_sends", part)
        for part in (row.get("prior_sends") or "").split(";")
        if part.strip()
    )
    consents: list[ConsentEntry] = []
    if consent_at is not None:
        consents.append(ConsentEntry("grant", consent_at, policy.brand, "plan"))
    suppression = None
    if opted_out_at is not None:
        consents.append(ConsentEntry("revoke", opted_out_at, None, "plan"))
        # A fresh written consent after the opt-out is the only thing that lifts it.
        if consent_at is None or consent_at <= opted_out_at:
            suppression = SuppressionStatus(since=opted_out_at, reason="opt_out", source="plan")
    dnc = _flag(row, "dnc")
    first = _flag(row, "first_in_sequence")
    return GateContext(
        phone=phone,
        send_at=send_at,
        message=message,
        policy=policy,
        phone_raw=phone_raw,
        phone_error=phone_error,
        lead_time_zone=(row.get("timezone") or "").strip() or None,
        address_state=state,
        consents=tuple(consents),
        suppression=suppression,
        dnc=(DncCheck("national", listed=True, age_days=0),) if dnc else (),
        prior_sends=prior,
        last_reply_at=_optional_instant(row, "last_reply_at"),
        first_in_sequence=(not prior) if first is None else first,
        marketing=True,
    )


def audit_row(row: Mapping[str, str], policy: PolicyConfig, line: int = 0) -> AuditResult:
    try:
        ctx = row_context(row, policy)
    except _RowError as exc:
        reason = Reason(f"input.{exc.column}", str(exc), INPUT_SOURCE)
        return AuditResult(line, False, (reason,), None)
    verdict = evaluate(ctx)
    return AuditResult(line, verdict.allowed, verdict.reasons, verdict.next_allowed_at)


def iter_audit(rows: Iterable[Mapping[str, str]], policy: PolicyConfig) -> Iterator[AuditResult]:
    for index, row in enumerate(rows):
        yield audit_row(row, policy, line=index + 2)


PARALLEL_MIN_ROWS = 4000
CHUNK_ROWS = 2000


def _audit_chunk(
    args: tuple[Sequence[Mapping[str, str]], PolicyConfig, int],
) -> list[AuditResult]:
    rows, policy, first_line = args
    return [audit_row(row, policy, line=first_line + i) for i, row in enumerate(rows)]


def audit_all(
    rows: Sequence[Mapping[str, str]], policy: PolicyConfig, workers: int = 0
) -> list[AuditResult]:
    """Audit every row, in order. ``workers=0`` picks the CPU count for large plans (rows are
    independent, so the plan is split into chunks evaluated by forked worker processes)."""
    if workers <= 0:
        workers = min(os.cpu_count() or 1, 8) if len(rows) >= PARALLEL_MIN_ROWS else 1
    if workers == 1 or len(rows) < 2 * CHUNK_ROWS or "fork" not in mp.get_all_start_methods():
        return list(iter_audit(rows, policy))
    chunks = [
        (rows[start : start + CHUNK_ROWS], policy, start + 2)
        for start in range(0, len(rows), CHUNK_ROWS)
    ]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        return [result for part in pool.map(_audit_chunk, chunks) for result in part]


def format_utc(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def audit_record(
    row: Mapping[str, str], result: AuditResult, columns: Sequence[str] | None = None
) -> dict[str, str]:
    """One output row: every input column, then ``allowed`` (true/false), ``reasons``
    (``;``-separated codes) and ``next_allowed_at`` (ISO UTC or empty)."""
    record = {c: row.get(c) or "" for c in (columns if columns is not None else row)}
    record["allowed"] = "true" if result.allowed else "false"
    record["reasons"] = ";".join(result.codes)
    record["next_allowed_at"] = format_utc(result.next_allowed_at)
    return record


def audit_rows(
    rows: Sequence[Mapping[str, str]],
    *,
    settings: Settings,
    policy: str | None = None,
    brand: str | None = None,
    workers: int = 1,
) -> list[dict[str, str]]:
    """The audit as output records (what the CLI writes and the API returns). ``policy`` and
    ``brand`` default to the settings'."""
    conf = settings.model_copy(update={"brand_name": brand}) if brand else settings
    config = policy_from_settings(conf, policy or conf.policy)
    results = audit_all(rows, config, workers)
    return [audit_record(row, result) for row, result in zip(rows, results, strict=True)]
