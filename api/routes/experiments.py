"""Experiments: create, read results (the bandit's statistics), stop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AdminKey, ReadKey, ReadSessionDep, StateDep, run_write, server_now
from api.schemas import MAX_SEED, ExperimentIn, ExperimentOut, IdPath, VariantOut
from optimizer.bandits.holdout import HOLDOUT_PARAM, share_of
from optimizer.bandits.store import close_expired, create_experiment, experiment_results
from optimizer.errors import Conflict, InvalidInput
from optimizer.store import experiments_repo
from optimizer.store.db import Session, transaction
from optimizer.store.models import Experiment

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])


def experiment_out(session: Session, experiment: Experiment) -> ExperimentOut:
    variants = experiments_repo.variants_of(session, experiment_id=experiment.id)
    return ExperimentOut(
        id=experiment.id,
        name=experiment.name,
        metric=experiment.metric,
        policy=experiment.policy,
        status=experiment.status,
        control_variant_id=experiment.control_variant_id,
        attribution_hours=experiment.attribution_hours,
        holdout=share_of(experiment.policy_params),
        created_at=experiment.created_at,
        stopped_at=experiment.stopped_at,
        variants=[
            VariantOut(
                id=v.id,
                name=v.name,
                template=v.template,
                paused=v.paused,
                pause_reason=v.pause_reason,
            )
            for v in variants
        ],
    )


def _get(session: Session, experiment_id: int) -> Experiment:
    return experiments_repo.load_experiment(session, experiment_id)


def _with_holdout(body: ExperimentIn) -> dict[str, Any] | None:
    """The stored parameters: ``params`` with the ``holdout`` field (given once, not twice)."""
    if body.holdout is None:
        return body.params
    params = dict(body.params or {})
    if HOLDOUT_PARAM in params:
        raise InvalidInput(
            "holdout is given both as a field and in params (one expected)", field="holdout"
        )
    params[HOLDOUT_PARAM] = body.holdout
    return params


@router.post("", status_code=201, response_model=ExperimentOut)
async def post_experiment(body: ExperimentIn, state: StateDep, _key: AdminKey) -> ExperimentOut:
    """Start an experiment: its variants, metric and bandit policy."""

    def work(session: Session) -> ExperimentOut:
        experiment = create_experiment(
            session,
            name=body.name,
            metric=body.metric,
            policy=body.policy,
            variants=[(v.name, v.template) for v in body.variants],
            control=body.control,
            params=_with_holdout(body),
            attribution_hours=body.attribution_hours or state.settings.attribution_hours,
            seed=body.seed,
            now=server_now(),
        )
        return experiment_out(session, experiment)

    return await run_write(state, work)


@router.get("", response_model=list[ExperimentOut])
def list_experiments(session: ReadSessionDep, _key: ReadKey) -> list[ExperimentOut]:
    return [experiment_out(session, e) for e in experiments_repo.list_experiments(session)]


@router.get("/{experiment_id}", response_model=ExperimentOut)
def get_experiment(experiment_id: IdPath, session: ReadSessionDep, _key: ReadKey) -> ExperimentOut:
    return experiment_out(session, _get(session, experiment_id))


@router.get("/{experiment_id}/results")
def get_results(
    experiment_id: IdPath,
    state: StateDep,
    session: ReadSessionDep,
    _key: ReadKey,
    seed: Annotated[int, Query(ge=0, le=MAX_SEED)] = 0,
) -> dict[str, Any]:
    """Per variant: sends, responses, rate with interval, probability to be best, expected loss,
    lift over control, p-value, sample-ratio check and a plain-language verdict."""
    _get(session, experiment_id)
    if not state.settings.simulation:  # a simulated clock may run behind the server's
        # Rewards of 0 for windows that closed, in a short unit of work of its own (the write
        # lock is not held while the statistics are computed).
        session.rollback()
        with state.writer_turn(), transaction(state.write_sessions) as writer:
            close_expired(writer, now=server_now())
    return experiment_results(session, experiment_id=experiment_id, seed=seed).to_dict()  # type: ignore[no-any-return]


@router.post("/{experiment_id}/stop", response_model=ExperimentOut)
async def stop_experiment(experiment_id: IdPath, state: StateDep, _key: AdminKey) -> ExperimentOut:
    def work(session: Session) -> ExperimentOut:
        experiment = _get(session, experiment_id)
        if experiment.status == "stopped":
            raise Conflict(f"experiment {experiment_id} is already stopped", field="experiment_id")
        experiments_repo.stop_experiment(session, experiment, now=server_now())
        return experiment_out(session, experiment)

    return await run_write(state, work)
