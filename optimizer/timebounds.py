"""The range of times the service accepts from outside, decided in one place.

Every instant a caller sends (``occurred_at``, ``granted_at``, ``at``, ``created_at``,
``as_of``, report periods) must carry a UTC offset and lie between ``settings.earliest_time``
and the server's clock plus a small skew allowance: a timestamp in year 1 or 9999 would
otherwise sit in an append-only ledger for good and break every report that reads it.
"""

from __future__ import annotations

import datetime as dt

from optimizer.errors import InvalidInput
from optimizer.settings import Settings


def accepted_range(settings: Settings, *, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(earliest, latest) instant accepted at server time ``now``."""
    earliest = settings.earliest_time
    if earliest.tzinfo is None:
        earliest = earliest.replace(tzinfo=dt.UTC)
    ahead = (
        dt.timedelta(days=settings.simulation_ahead_days)
        if settings.simulation
        else dt.timedelta(seconds=settings.clock_skew_seconds)
    )
    return earliest.astimezone(dt.UTC), now.astimezone(dt.UTC) + ahead


def _describe(earliest: dt.datetime, latest: dt.datetime) -> str:
    return f"{earliest.isoformat()} … {latest.isoformat(timespec='seconds')}"


def require_aware(value: dt.datetime, *, field: str) -> dt.datetime:
    """``value`` in UTC; a naive value is refused (no offset means no instant)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInput(
            f"{field} {value.isoformat()!r} has no UTC offset (ISO 8601 with offset expected)",
            field=field,
        )
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise InvalidInput(
            f"{field} {value.isoformat()!r} is outside the representable range", field=field
        ) from exc


def check_time(
    value: dt.datetime, *, field: str, settings: Settings, now: dt.datetime
) -> dt.datetime:
    """``value`` in UTC if aware and inside :func:`accepted_range`; else InvalidInput naming
    the field, the value and the range.

    >>> from optimizer.settings import Settings
    >>> now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    >>> check_time(dt.datetime(2026, 11, 30, tzinfo=dt.UTC), field="at", settings=Settings(),
    ...            now=now).isoformat()
    '2026-11-30T00:00:00+00:00'
    """
    instant = require_aware(value, field=field)
    earliest, latest = accepted_range(settings, now=now)
    if instant < earliest or instant > latest:
        raise InvalidInput(
            f"{field} {value.isoformat()!r} is outside the accepted range "
            f"{_describe(earliest, latest)} (server clock plus the allowed skew)",
            field=field,
        )
    return instant


def clamp_opt_out_time(
    value: dt.datetime, *, field: str, settings: Settings, now: dt.datetime
) -> dt.datetime:
    """When an opt-out takes effect: its stated time, but never later than ``now`` (an opt-out
    dated ahead is effective at once) nor before ``earliest_time`` (then also ``now``). An
    opt-out is never refused for its timestamp; only a naive one is (no instant at all)."""
    instant = require_aware(value, field=field)
    earliest, _latest = accepted_range(settings, now=now)
    current = now.astimezone(dt.UTC)
    if instant > current or instant < earliest:
        return current
    return instant
