"""Reports as JSON (bearer key with the ``read`` scope): the numbers behind the /ui pages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ReadKey, ReadSessionDep, SettingsDep, server_now
from api.schemas import MAX_SEED, IdPath
from optimizer import reports
from optimizer.settings import Settings
from optimizer.store.db import Session
from optimizer.timebounds import check_time

router = APIRouter(prefix="/v1/reports", tags=["reports"])

PeriodQuery = Annotated[
    str, Query(description="all | 7d | 30d | 90d, counted back from the data's last activity")
]
DayQuery = Annotated[dt.date | None, Query(description="first day (UTC), ISO date")]
EndQuery = Annotated[dt.date | None, Query(description="last day (UTC, inclusive), ISO date")]


def _period(
    session: Session, settings: Settings, period: str, start: dt.date | None, end: dt.date | None
) -> reports.Period:
    """The period asked for; ``start``/``end`` (UTC days) inside the accepted range of times
    (:func:`optimizer.timebounds.check_time`), else 422 naming the day and the range."""
    now = server_now()
    for name, day in (("start", start), ("end", end)):
        if day is not None:
            check_time(
                dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC),
                field=name,
                settings=settings,
                now=now,
            )
    return reports.resolve_period(reports.data_span(session), preset=period, start=start, end=end)


@router.get("/experiments")
def experiments(session: ReadSessionDep, _key: ReadKey) -> dict[str, Any]:
    """Every experiment with status, metric, leader, probability to be best and sends."""
    return reports.experiment_list(session).to_dict()


@router.get("/experiments/{experiment_id}")
def experiment(
    experiment_id: IdPath,
    session: ReadSessionDep,
    _key: ReadKey,
    seed: Annotated[int, Query(ge=0, le=MAX_SEED)] = 0,
) -> dict[str, Any]:
    """One experiment: per-variant statistics, verdict, SRM, guardrail and chart series."""
    return reports.experiment_report(session, experiment_id=experiment_id, seed=seed).to_dict()


@router.get("/health")
def health(
    session: ReadSessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: PeriodQuery = "all",
    start: DayQuery = None,
    end: EndQuery = None,
) -> dict[str, Any]:
    """List health over the period, with a weekly trend."""
    chosen = _period(session, settings, period, start, end)
    return reports.list_health(session, period=chosen).to_dict()


@router.get("/segments")
def segments(
    session: ReadSessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: PeriodQuery = "all",
    start: DayQuery = None,
    end: EndQuery = None,
    min_sends: Annotated[int, Query(ge=1, le=100_000)] = 30,
) -> dict[str, Any]:
    """Conversion and revenue per message by segment, variant, local hour, weekday, vertical."""
    chosen = _period(session, settings, period, start, end)
    return reports.segment_breakdown(session, period=chosen, min_sends=min_sends).to_dict()


@router.get("/attribution")
def attribution(
    session: ReadSessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: PeriodQuery = "all",
    start: DayQuery = None,
    end: EndQuery = None,
    lookback_days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> dict[str, Any]:
    """Conversions and revenue credited by first, last and linear touch."""
    chosen = _period(session, settings, period, start, end)
    return reports.attribution(session, period=chosen, lookback_days=lookback_days).to_dict()


@router.get("/leads/{lead_id}")
def lead(lead_id: IdPath, session: ReadSessionDep, _key: ReadKey) -> dict[str, Any]:
    """One lead's timeline across channels, current score with reasons, and decisions."""
    return reports.lead_report(session, lead_id=lead_id).to_dict()
