"""A simulated national Do-Not-Call registry copy for the demo's stores.

The gate fails closed without a national copy (``dnc.registry_missing``), so the demo imports one
dated the day before its first decision (fresh for its whole run, at most 31 days old), and
monthly copies before it over the span of the world's history. Its
numbers share the world's area codes but none is a lead's number (the world's leads all gave
written consent, and the house policy grants no DNC exemption), so the demo's figures measure the
engines rather than the registry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np

from optimizer.compliance.dnc import DncFile, import_dnc
from optimizer.phones import InvalidPhone, parse_phone
from optimizer.store.db import Session
from optimizer.store.models import DncImport

SOURCE_NAME = "simulated-national-registry"


def simulated_registry(phones: Iterable[str], *, seed: int, count: int = 1000) -> DncFile:
    """``count`` valid numbers in the area codes of ``phones``, none of them in ``phones``."""
    known = set(phones)
    prefixes = sorted({phone[:-4] for phone in known})
    rng = np.random.default_rng(seed)
    numbers: dict[str, None] = {}
    attempts = 0
    while prefixes and len(numbers) < count and attempts < count * 20:
        attempts += 1
        candidate = f"{prefixes[int(rng.integers(len(prefixes)))]}{int(rng.integers(10_000)):04d}"
        if candidate in known or candidate in numbers:
            continue
        try:
            numbers[parse_phone(candidate).e164] = None
        except InvalidPhone:
            continue
    return DncFile(numbers=tuple(numbers), invalid=(), lines=len(numbers))


def import_simulated_registry(
    session: Session, *, phones: Iterable[str], start: dt.datetime, seed: int, back_days: int = 0
) -> DncImport:
    """Import the simulated copy as of the day before ``start``, and earlier copies of it every
    30 days back to ``back_days`` before ``start`` (so the history's past sends, judged at their
    own times, each see a copy at most 30 days old), each imported on its date. Returns the
    newest copy."""
    parsed = simulated_registry(phones, seed=seed)
    newest = (start - dt.timedelta(days=1)).date()
    days = [newest - dt.timedelta(days=30 * k) for k in range(back_days // 30 + 2)]
    rows = [
        import_dnc(
            session,
            parsed=parsed,
            registry="national",
            as_of=as_of,
            now=dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC),
            source_name=SOURCE_NAME,
        )
        for as_of in sorted(days)
    ]
    return rows[-1]
