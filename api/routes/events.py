"""Events in: every channel, idempotent; opt-outs and HELP answered with actions."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import IngestKey, SessionDep, SettingsDep, server_now
from api.routes.leads import vars_of
from api.schemas import ActionOut, EventsIn, EventsOut
from optimizer.service.events import EventInput, ingest_events

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post("", response_model=EventsOut)
def post_events(
    body: EventsIn, session: SessionDep, settings: SettingsDep, _key: IngestKey
) -> EventsOut:
    """Store events; a replayed idempotency key is counted once (in ``duplicates``)."""
    result = ingest_events(
        session,
        events=[EventInput(**e.model_dump()) for e in body.events],
        settings=settings,
        now=server_now(),
    )
    return EventsOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        actions=[ActionOut(**vars_of(a)) for a in result.actions],
    )
