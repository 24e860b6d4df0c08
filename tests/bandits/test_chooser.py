"""A batch's chooser (state loaded once) chooses exactly as choose_variant does, per decision."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from optimizer.bandits.store import choose_variant, record_send, variant_chooser
from optimizer.errors import Conflict, InvalidInput
from tests.bandits.conftest import T0, make_experiment


@pytest.mark.parametrize("policy", ["thompson", "ucb1", "epsilon_greedy", "uniform"])
def test_chooser_matches_choose_variant(sessions: sessionmaker[Session], policy: str) -> None:
    with sessions.begin() as session:
        experiment = make_experiment(session, policy=policy)
        ids = [v.id for v in experiment_variants(session, experiment.id)]
        for variant_id, sends in zip(ids, (80, 60, 70), strict=True):
            for _ in range(sends):
                record_send(
                    session, experiment_id=experiment.id, variant_id=variant_id, propensity=0.5
                )
    with sessions() as session:
        chooser = variant_chooser(session, experiment_id=experiment.id, now=T0)
        for seed in range(25):
            eligible = ids if seed % 3 else ids[:2]
            one = choose_variant(
                session,
                experiment_id=experiment.id,
                rng=np.random.default_rng(seed),
                eligible_variant_ids=eligible,
                now=T0,
            )
            many = chooser(np.random.default_rng(seed), eligible)
            if policy == "thompson":
                # Thompson's Monte-Carlo estimate is drawn once per batch, so the choice can
                # differ; the logged propensity is still the probability the arm was chosen with.
                assert dict(many.probabilities)[many.variant_id] == pytest.approx(many.propensity)
            else:
                assert one == many
            assert sum(p for _, p in many.probabilities) == pytest.approx(1.0)
            assert {vid for vid, _ in many.probabilities} <= set(eligible)


def test_chooser_refuses_what_choose_variant_refuses(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        experiment = make_experiment(session)
    with sessions() as session:
        chooser = variant_chooser(session, experiment_id=experiment.id, now=T0)
        with pytest.raises(InvalidInput, match="do not belong"):
            chooser(np.random.default_rng(0), [999_999])
        with pytest.raises(Conflict, match="no variant is both eligible"):
            chooser(np.random.default_rng(0), [])


def experiment_variants(session: Session, experiment_id: int) -> list:  # type: ignore[type-arg]
    from sqlalchemy import select

    from optimizer.store.models import Variant

    return list(
        session.scalars(
            select(Variant).where(Variant.experiment_id == experiment_id).order_by(Variant.position)
        )
    )
