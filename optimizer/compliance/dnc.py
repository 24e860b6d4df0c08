"""Reading a Do-Not-Call registry copy: one number per line, or a CSV with a phone column.
Invalid lines are reported with their line number, never silently dropped."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from optimizer.errors import InvalidInput
from optimizer.phones import STATE_CODES, InvalidPhone, parse_phone
from optimizer.store.compliance_repo import append_dnc_import
from optimizer.store.db import Session
from optimizer.store.models import DncImport

PHONE_COLUMNS = ("phone", "phone_number", "phone_e164", "number", "telephone", "tel")


@dataclass(frozen=True, slots=True)
class InvalidLine:
    line: int
    raw: str
    message: str


@dataclass(frozen=True, slots=True)
class DncFile:
    numbers: tuple[str, ...]  # unique E.164 numbers, in file order
    invalid: tuple[InvalidLine, ...]
    lines: int  # data lines read (header and blank lines excluded)


def check_registry(registry: str) -> str:
    """``national`` or a two-letter state code (upper-cased)."""
    value = registry.strip()
    if value.lower() == "national":
        return "national"
    if value.upper() in STATE_CODES:
        return value.upper()
    raise InvalidInput(
        f"registry {registry!r} is unknown (national or a two-letter state expected)"
    )


def _looks_like_csv(first: str) -> bool:
    if "," in first or ";" in first or "\t" in first:
        return True
    return any(ch.isalpha() for ch in first) and first.strip().lower() in PHONE_COLUMNS


def parse_dnc_text(text: str) -> DncFile:
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    raw_values: list[tuple[int, str]] = []
    if first and _looks_like_csv(first):
        delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader)]
        column = next((header.index(c) for c in PHONE_COLUMNS if c in header), None)
        if column is None:
            raise InvalidInput(
                f"DNC file header {header!r} has no phone column (one of {', '.join(PHONE_COLUMNS)})"
            )
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            raw_values.append((line, row[column].strip() if column < len(row) else ""))
    else:
        for index, text_line in enumerate(lines, start=1):
            value = text_line.strip()
            if value and not value.startswith("#"):
                raw_values.append((index, value))
    numbers: dict[str, None] = {}
    invalid: list[InvalidLine] = []
    for line, raw in raw_values:
        try:
            numbers.setdefault(parse_phone(raw).e164)
        except InvalidPhone as exc:
            invalid.append(InvalidLine(line, raw, exc.message))
    return DncFile(tuple(numbers), tuple(invalid), len(raw_values))


def import_dnc(
    session: Session,
    *,
    parsed: DncFile,
    registry: str,
    as_of: dt.date,
    now: dt.datetime,
    source_name: str | None,
) -> DncImport:
    """Store one registry copy (its date, counts and numbers). A copy dated in the future is
    refused; the gate measures its age against the decision's ``now``."""
    name = check_registry(registry)
    if as_of > now.date():
        raise InvalidInput(
            f"--as-of {as_of.isoformat()} is in the future (a registry copy date expected)"
        )
    return append_dnc_import(
        session,
        registry=name,
        as_of=as_of,
        now=now,
        source_name=source_name,
        numbers=parsed.numbers,
        invalid=len(parsed.invalid),
    )
