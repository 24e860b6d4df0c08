"""A small national Do-Not-Call registry copy for test stores.

The gate denies every marketing send while the store holds no national registry copy
(``dnc.registry_missing``). Test stores therefore get what an operator keeps: a copy refreshed
on the first of every month (so one is at most 31 days old whatever date a test decides at),
each listing one reserved number that no test lead uses. Tests of the registry itself start
from a store without copies (the ``bare_engine``/``bare_sessions`` fixtures).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from optimizer.compliance.dnc import import_dnc, parse_dnc_text
from optimizer.store.db import session_factory, transaction

FIRST_MONTH = dt.date(2024, 1, 1)
LAST_MONTH = dt.date(2027, 12, 1)
# A fictional 555-01xx number (reserved for fiction): listed, so the copy is not empty.
LISTED = "+12025550199"


def months(first: dt.date = FIRST_MONTH, last: dt.date = LAST_MONTH) -> list[dt.date]:
    days: list[dt.date] = []
    day = first
    while day <= last:
        days.append(day)
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return days


def import_test_registry(engine: Engine) -> None:
    """One national copy per month from ``FIRST_MONTH`` to ``LAST_MONTH``, each imported on its
    own date (a decision sees the copies imported up to its time)."""
    parsed = parse_dnc_text(f"{LISTED}\n")
    with transaction(session_factory(engine)) as session:
        for as_of in months():
            import_dnc(
                session,
                parsed=parsed,
                registry="national",
                as_of=as_of,
                now=dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC),
                source_name="test-national",
            )
