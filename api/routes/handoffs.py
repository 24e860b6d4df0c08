"""The sales hand-off list as JSON (bearer key with the ``read`` scope, as the reports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ReadKey, ReadSessionDep
from optimizer import reports

router = APIRouter(tags=["reports"])


@router.get("/v1/handoffs")
def handoffs(
    session: ReadSessionDep,
    _key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Leads to call: each lead whose latest reply was ``interested`` or a ``question``, newest
    first (lead id, intent, channel, time; no message text). Leads suppressed since are left
    out."""
    return reports.handoff_list(session, limit=limit, offset=offset).to_dict()
