"""Several writers, each with its own engine and session, on the same arm: nothing is lost."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from optimizer.bandits.store import record_outcome, record_send
from optimizer.store.db import make_engine, session_factory, transaction
from optimizer.store.models import ArmStats, Variant
from tests.bandits.conftest import T0, make_experiment, make_lead, sent_decision

WRITERS = 4
SENDS_EACH = 25


def _retrying(factory: Callable[[], Session], work: Callable[[Session], object]) -> None:
    """One unit of work; SQLite refuses a read-then-write transaction whose snapshot went
    stale ('database is locked'), so the caller retries the whole transaction, as a server
    worker would."""
    for attempt in range(50):
        try:
            with transaction(factory) as session:  # type: ignore[arg-type]
                work(session)
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.01)


def test_concurrent_writers_lose_no_update(any_engine: Engine) -> None:
    url = any_engine.url.render_as_string(hide_password=False)
    factory = session_factory(any_engine)
    with transaction(factory) as session:
        exp = make_experiment(session, n_variants=2)
        lead = make_lead(session)
        variant = session.scalars(
            select(Variant).where(Variant.experiment_id == exp.id).order_by(Variant.position)
        ).first()
        assert variant is not None
        decisions = [
            sent_decision(
                session,
                lead_id=lead.id,
                experiment_id=exp.id,
                variant_id=variant.id,
                propensity=0.5,
            )
            for _ in range(12)
        ]
        experiment_id, variant_id = exp.id, variant.id
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def writer(index: int) -> None:
        engine = make_engine(url)
        own = session_factory(engine)
        try:
            barrier.wait()
            for _ in range(SENDS_EACH):
                with transaction(own) as session:
                    record_send(
                        session, experiment_id=experiment_id, variant_id=variant_id, propensity=0.5
                    )
            # every writer replays every outcome: each must count exactly once
            for decision_id in decisions:
                _retrying(
                    own,
                    lambda s, d=decision_id: record_outcome(
                        s,
                        decision_id=d,
                        metric="reply",
                        value=1.0,
                        event_id=index,
                        now=T0 + dt.timedelta(hours=1),
                    ),
                )
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with factory() as session:
        stats = session.get(ArmStats, variant_id)
        assert stats is not None
        assert stats.sends == WRITERS * SENDS_EACH
        assert stats.propensity_inv_sum == WRITERS * SENDS_EACH * 2.0
        assert stats.successes == len(decisions)
