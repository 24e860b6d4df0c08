"""Next best action for one lead or a pool; confirm at dispatch; read a decision back."""

from __future__ import annotations

import datetime as dt

import anyio
from fastapi import APIRouter, Response

from api.deps import (
    DecideKey,
    ReadKey,
    ReadSessionDep,
    StateDep,
    run_write,
    server_now,
)
from api.errors import http_error
from api.requestlog import annotate
from api.responses import model_response
from api.schemas import (
    BatchIn,
    BatchOut,
    ComplianceOut,
    ConfirmIn,
    ConfirmOut,
    DecisionOut,
    NextBestActionIn,
    ReasonOut,
    TopReasonOut,
)
from api.state import AppState
from api.telemetry import observe_decision
from optimizer.bandits.store import close_expired
from optimizer.compliance.gate import dnc_waived_in
from optimizer.decide.batch import decide_batch
from optimizer.decide.confirm import confirm_decision
from optimizer.decide.store import read_decision, write_decision, write_decisions
from optimizer.decide.types import DecisionReason, DecisionRecord
from optimizer.providers.service import link_sent_message
from optimizer.settings import Settings
from optimizer.store.db import Session, transaction
from optimizer.timebounds import check_time

router = APIRouter(tags=["decisions"])


def decision_time(as_of: dt.datetime | None, settings: Settings) -> dt.datetime:
    """The server's clock, unless the server runs as a simulation and the caller sets ``as_of``."""
    if as_of is None:
        return server_now()
    if not settings.simulation:
        raise http_error(
            403,
            "forbidden",
            "as_of is honoured only when the server runs with OPTIMIZER_SIMULATION=true: "
            "a caller cannot move the clock",
            "as_of",
        )
    return check_time(as_of, field="as_of", settings=settings, now=server_now())


def _reasons(items: tuple[DecisionReason, ...]) -> list[ReasonOut]:
    return [ReasonOut(code=r.code, message=r.message, source=r.source) for r in items]


def decision_out(record: DecisionRecord) -> DecisionOut:
    return DecisionOut(
        decision_id=record.decision_id,
        lead_id=record.lead_id,
        action=record.action,  # type: ignore[arg-type]
        send_at=record.send_at,
        send_at_local=record.send_at_local,
        timezone=record.timezone,
        variant_id=record.variant_id,
        variant_name=record.variant_name,
        text=record.text,
        segments=record.segments,
        encoding=record.encoding,
        score=record.score,
        probability=record.probability,
        segment=record.segment,
        top_features=[
            TopReasonOut(feature=f.feature, contribution=f.contribution)
            for f in record.top_features
        ],
        reasons=_reasons(record.reasons),
        compliance=ComplianceOut(
            allowed=record.compliance_allowed,
            reasons=_reasons(record.compliance_reasons),
            next_allowed_at=record.next_allowed_at,
            rules_version=record.rules_version,
            dnc_waived=dnc_waived_in(record.rules_version),
        ),
        propensity=record.propensity,
        slot_propensity=record.slot_propensity,
        expected_response=record.expected_response,
        model_versions=record.model_versions,
        rules_version=record.rules_version,
        created_at=record.created_at,
        as_of=record.as_of,
        confirmation=record.confirmation,
    )


@router.post("/v1/next-best-action", response_model=DecisionOut)
async def next_best_action(body: NextBestActionIn, state: StateDep, _key: DecideKey) -> Response:
    """Send what, when, or not at all, and why. The gate has the last word."""
    annotate(lead_id=body.lead_id)
    now = decision_time(body.as_of, state.settings)
    # Decisions are CPU-bound Python: they run on threads of their own (one by default), so
    # that under load they take turns instead of contending for the interpreter lock.
    return await anyio.to_thread.run_sync(
        _next_best_action, state, body, now, limiter=state.decision_limiter
    )


def _next_best_action(state: AppState, body: NextBestActionIn, now: dt.datetime) -> Response:
    with state.sessions() as session:
        record = state.decisions().decide(
            session,
            lead_id=body.lead_id,
            experiment_id=body.experiment_id,
            template=body.template,
            horizon_hours=body.horizon_hours,
            now=now,
        )
    # The reading connection is back in the pool before the write lock is waited for.
    with state.writer_turn(), transaction(state.write_sessions) as writer:
        write_decision(writer, record, policy=state.settings.policy)
    observe_decision(record)
    annotate(decision_id=record.decision_id)
    return model_response(decision_out(record))


@router.post("/v1/next-best-action/batch", response_model=BatchOut)
def next_best_action_batch(
    body: BatchIn, state: StateDep, session: ReadSessionDep, _key: DecideKey
) -> Response:
    """The ``capacity`` best sendable leads of a pool, ranked by expected value, or by expected
    incremental value when an uplift champion exists (``ranking`` says which)."""
    now = decision_time(body.as_of, state.settings)
    # Decisions whose attribution window has closed without a reward count as 0, once.
    with state.writer_turn(), transaction(state.write_sessions) as writer:
        close_expired(writer, now=now)
    result = decide_batch(
        state.decisions(),
        session,
        lead_ids=body.lead_ids,
        capacity=body.capacity,
        horizon_hours=body.horizon_hours,
        experiment_id=body.experiment_id,
        template=body.template,
        now=now,
    )
    session.close()  # hand the reading connection back before waiting for the write lock
    with state.writer_turn(), transaction(state.write_sessions) as writer:
        write_decisions(writer, result.logged, policy=state.settings.policy)
    for record in result.logged:
        observe_decision(record)
    annotate(decisions=len(result.logged), selected=len(result.selected))
    return model_response(
        BatchOut(
            considered=result.considered,
            selected=[decision_out(r) for r in result.selected],
            not_selected=result.not_selected,
            model_versions=result.model_versions,
            ranking=result.ranking,  # type: ignore[arg-type]
            uplift_model_version=result.uplift_version,
        )
    )


@router.post("/v1/decisions/{decision_id}/confirm", response_model=ConfirmOut)
async def confirm(
    decision_id: str, state: StateDep, _key: DecideKey, body: ConfirmIn | None = None
) -> ConfirmOut:
    """Run the gate again at dispatch (the server's clock, read once the number is locked, so
    an opt-out stored before wins); idempotent: a retry answers the first answer again; records
    the send."""
    settings = state.settings
    as_of = body.as_of if body else None
    simulated = as_of is not None
    fixed = decision_time(as_of, settings) if simulated else None

    def clock() -> dt.datetime:
        return fixed if fixed is not None else server_now()

    def work(session: Session) -> ConfirmOut:
        result = confirm_decision(
            session, decision_id=decision_id, settings=settings, clock=clock, simulated=simulated
        )
        linked = None
        if body is not None and body.provider_message_id is not None:
            linked = link_sent_message(
                session,
                decision_id=decision_id,
                message_id=body.provider_message_id,
                provider=body.provider,
                now=server_now(),
            )
        return ConfirmOut(
            decision_id=result.decision_id,
            allowed=result.allowed,
            reasons=_reasons(result.reasons),
            confirmed_at=result.confirmed_at,
            already_confirmed=result.already_confirmed,
            event_id=result.event_id,
            provider_message_id=linked,
        )

    return await run_write(state, work)


@router.get("/v1/decisions/{decision_id}", response_model=DecisionOut)
def get_decision(decision_id: str, session: ReadSessionDep, _key: ReadKey) -> DecisionOut:
    """The full explanation of a decision, with its confirmation if any."""
    return decision_out(read_decision(session, decision_id))
