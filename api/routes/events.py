"""Events in: every channel, idempotent; opt-outs and HELP answered with actions."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import IngestKey, StateDep, run_write, server_now
from api.requestlog import annotate
from api.routes.leads import vars_of
from api.schemas import ActionOut, EventsIn, EventsOut
from optimizer.ingest.events import EventInput
from optimizer.ingest.numbers import EventByNumber, ingest_with_numbers
from optimizer.store.db import Session

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post("", response_model=EventsOut)
async def post_events(body: EventsIn, state: StateDep, _key: IngestKey) -> EventsOut:
    """Store events; a replayed idempotency key is counted once (in ``duplicates``) and answers
    the actions it answered the first time. Each event names its lead by ``lead_id`` or by
    ``phone``; an inbound or reply (an opt-out, HELP) from a number no lead has suppresses or
    answers that number."""
    events: list[EventInput | EventByNumber] = [
        EventInput(**e.model_dump(exclude={"phone"}))
        if e.lead_id is not None
        else EventByNumber(**e.model_dump(exclude={"lead_id"}))
        for e in body.events
    ]
    leads = {e.lead_id for e in body.events if e.lead_id is not None}
    annotate(events=len(events), lead_id=next(iter(leads)) if len(leads) == 1 else None)

    def work(session: Session) -> EventsOut:
        # The clock is read inside, after the numbers of the batch's opt-outs are locked.
        result = ingest_with_numbers(
            session, events=events, settings=state.settings, clock=server_now
        )
        return EventsOut(
            accepted=result.accepted,
            duplicates=result.duplicates,
            actions=[ActionOut(**vars_of(a)) for a in result.actions],
        )

    return await run_write(state, work)
