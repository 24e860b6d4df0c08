"""The database-backed engine: create, choose, sends, delayed rewards, guardrail, state."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from optimizer.bandits.store import (
    check_guardrail,
    choose_variant,
    close_expired,
    create_experiment,
    experiment_results,
    export_state,
    import_state,
    record_opt_out,
    record_outcome,
    record_send,
)
from optimizer.errors import Conflict, InvalidInput, NotFound
from optimizer.store.models import ArmStats, DecisionReward, Variant
from tests.bandits.conftest import T0, make_experiment, make_lead, sent_decision

HOUR = dt.timedelta(hours=1)


def _stats(session: Session, experiment_id: int) -> list[ArmStats]:
    return list(
        session.scalars(
            select(ArmStats)
            .where(ArmStats.experiment_id == experiment_id)
            .order_by(ArmStats.variant_id)
            .execution_options(populate_existing=True)
        )
    )


def _variants(session: Session, experiment_id: int) -> list[Variant]:
    return list(
        session.scalars(
            select(Variant)
            .where(Variant.experiment_id == experiment_id)
            .order_by(Variant.position)
            .execution_options(populate_existing=True)
        )
    )


BAD_EXPERIMENTS = [
    ({"metric": "opens"}, "metric 'opens' is unknown"),
    ({"policy": "softmax"}, "policy 'softmax' is unknown"),
    ({"variants": [("A", "x")]}, "1 variant.* at least 2"),
    ({"variants": [("A", "x"), ("A", "y")]}, "A given twice"),
    ({"control": "Z"}, "control 'Z' is not one of"),
    ({"attribution_hours": 0}, "attribution_hours 0"),
    ({"params": {"temperature": 1}}, "temperature not known to policy 'thompson'"),
    ({"metric": "revenue"}, "use 'thompson_normal'"),
    ({"policy": "fixed_split", "params": {"weights": [0.5, 0.6]}}, "sum to 1.1"),
    ({"params": {"guardrail": {"beta": 1}}}, "guardrail parameter"),
    ({"name": " "}, "name is empty"),
]


@pytest.mark.parametrize(("change", "message"), BAD_EXPERIMENTS)
def test_create_experiment_refuses_bad_input(
    sessions: sessionmaker[Session], change: dict, message: str
) -> None:
    args = {
        "name": "x",
        "metric": "reply",
        "policy": "thompson",
        "variants": [("A", "a"), ("B", "b")],
        "control": "A",
        "params": None,
        "attribution_hours": 72,
        "seed": 1,
        "now": T0,
    }
    args.update(change)
    with sessions() as session, pytest.raises(InvalidInput, match=message):
        create_experiment(session, **args)


def test_create_twice_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        make_experiment(session)
        with pytest.raises(Conflict, match="already exists"):
            make_experiment(session)


def test_choose_respects_eligibility_pauses_and_status(sessions: sessionmaker[Session]) -> None:
    rng = np.random.default_rng(0)
    with sessions() as session:
        exp = make_experiment(session, params={"burn_in": 10})
        a, b, c = (v.id for v in _variants(session, exp.id))
        first = choose_variant(
            session, experiment_id=exp.id, rng=rng, eligible_variant_ids=None, now=T0
        )
        assert first.reason == "burn_in" and first.propensity == pytest.approx(1 / 3)
        only_two = {
            choose_variant(
                session, experiment_id=exp.id, rng=rng, eligible_variant_ids=[a, c], now=T0
            )
            for _ in range(30)
        }
        assert {x.variant_id for x in only_two} == {a, c}
        assert {x.propensity for x in only_two} == {0.5}
        session.get(Variant, b).paused = True  # type: ignore[union-attr]
        session.flush()
        single = choose_variant(
            session, experiment_id=exp.id, rng=rng, eligible_variant_ids=[a, b], now=T0
        )
        assert (single.variant_id, single.propensity, single.reason) == (a, 1.0, "only_arm")
        with pytest.raises(InvalidInput, match="do not belong"):
            choose_variant(
                session, experiment_id=exp.id, rng=rng, eligible_variant_ids=[999], now=T0
            )
        with pytest.raises(Conflict, match="no variant is both eligible and not paused"):
            choose_variant(session, experiment_id=exp.id, rng=rng, eligible_variant_ids=[b], now=T0)
        exp.status = "stopped"
        session.flush()
        with pytest.raises(Conflict, match="is stopped"):
            choose_variant(
                session, experiment_id=exp.id, rng=rng, eligible_variant_ids=None, now=T0
            )
        with pytest.raises(NotFound):
            choose_variant(session, experiment_id=12345, rng=rng, eligible_variant_ids=None, now=T0)


def test_choose_follows_the_statistics(sessions: sessionmaker[Session]) -> None:
    rng = np.random.default_rng(1)
    with sessions() as session:
        exp = make_experiment(session, params={"burn_in": 10, "min_share": 0.01})
        ids = [v.id for v in _variants(session, exp.id)]
        for stats, (sends, successes) in zip(
            _stats(session, exp.id), [(1000, 100), (1000, 200), (1000, 100)], strict=True
        ):
            stats.sends, stats.successes = sends, successes
        session.flush()
        choices = [
            choose_variant(
                session, experiment_id=exp.id, rng=rng, eligible_variant_ids=None, now=T0
            )
            for _ in range(20)
        ]
        assert sum(ch.variant_id == ids[1] for ch in choices) >= 18
        assert all(ch.policy == "thompson" and 0 < ch.propensity <= 1 for ch in choices)


def test_record_send_counts_sends_and_inverse_propensity(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        exp = make_experiment(session)
        a = _variants(session, exp.id)[0].id
        record_send(session, experiment_id=exp.id, variant_id=a, propensity=0.25)
        record_send(session, experiment_id=exp.id, variant_id=a, propensity=0.5, now=T0)
        stats = _stats(session, exp.id)[0]
        assert (stats.sends, stats.propensity_inv_sum) == (2, pytest.approx(6.0))
        with pytest.raises(InvalidInput, match="propensity 0"):
            record_send(session, experiment_id=exp.id, variant_id=a, propensity=0)
        with pytest.raises(NotFound, match="variant 999"):
            record_send(session, experiment_id=exp.id, variant_id=999, propensity=0.5)


def test_outcome_counts_once_inside_the_window(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        exp = make_experiment(session)
        lead = make_lead(session)
        a = _variants(session, exp.id)[0].id
        d1 = sent_decision(
            session, lead_id=lead.id, experiment_id=exp.id, variant_id=a, propensity=0.5
        )
        d2 = sent_decision(
            session, lead_id=lead.id, experiment_id=exp.id, variant_id=a, propensity=0.5
        )
        unsent = sent_decision(
            session,
            lead_id=lead.id,
            experiment_id=exp.id,
            variant_id=a,
            propensity=0.5,
            allowed=False,
        )
        kwargs = {"metric": "reply", "value": 1.0, "event_id": 11}
        assert record_outcome(session, decision_id=d1, now=T0 + HOUR, **kwargs)
        assert not record_outcome(session, decision_id=d1, now=T0 + 2 * HOUR, **kwargs)
        assert not record_outcome(session, decision_id=d2, now=T0 + 73 * HOUR, **kwargs)
        assert not record_outcome(session, decision_id=d2, now=T0 - HOUR, **kwargs)
        assert not record_outcome(session, decision_id=unsent, now=T0 + HOUR, **kwargs)
        assert not record_outcome(
            session, decision_id=d2, metric="click", value=1, event_id=None, now=T0 + HOUR
        )
        assert _stats(session, exp.id)[0].successes == 1
        with pytest.raises(NotFound, match="decision 'nope'"):
            record_outcome(session, decision_id="nope", now=T0, **kwargs)
        with pytest.raises(InvalidInput, match="not a finite number"):
            record_outcome(
                session, decision_id=d2, metric="reply", value=float("nan"), event_id=None, now=T0
            )


def test_revenue_outcomes_add_sums(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        exp = make_experiment(
            session, metric="revenue", policy="thompson_normal", attribution_hours=336
        )
        lead = make_lead(session)
        b = _variants(session, exp.id)[1].id
        for value in (10.0, 0.0, 5.0):
            d = sent_decision(
                session, lead_id=lead.id, experiment_id=exp.id, variant_id=b, propensity=1 / 3
            )
            assert record_outcome(
                session,
                decision_id=d,
                metric="revenue",
                value=value,
                event_id=None,
                now=T0 + 200 * HOUR,
            )
        stats = _stats(session, exp.id)[1]
        assert (stats.successes, stats.revenue_sum, stats.revenue_sum_sq) == (2, 15.0, 125.0)


def test_close_expired_gives_zero_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        exp = make_experiment(session, attribution_hours=24)
        lead = make_lead(session)
        a = _variants(session, exp.id)[0].id
        rewarded, silent, recent = (
            sent_decision(
                session, lead_id=lead.id, experiment_id=exp.id, variant_id=a, propensity=0.5, at=at
            )
            for at in (T0, T0, T0 + 20 * HOUR)
        )
        assert record_outcome(
            session, decision_id=rewarded, metric="reply", value=1, event_id=None, now=T0 + HOUR
        )
        assert close_expired(session, now=T0 + 23 * HOUR) == 0
        assert close_expired(session, now=T0 + 25 * HOUR) == 1
        assert close_expired(session, now=T0 + 26 * HOUR) == 0
        rows = session.scalars(select(DecisionReward).order_by(DecisionReward.id)).all()
        assert [(r.decision_id, r.kind, r.reward) for r in rows] == [
            (rewarded, "outcome", 1.0),
            (silent, "closed", 0.0),
        ]
        assert close_expired(session, now=T0 + 45 * HOUR) == 1
        assert not record_outcome(
            session,
            decision_id=recent,
            metric="reply",
            value=1,
            event_id=None,
            now=T0 + 44 * HOUR,
        )


def test_guardrail_pauses_the_arm_with_many_opt_outs(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        exp = make_experiment(session, n_variants=2, params={"guardrail": {"min_sends": 50}})
        lead = make_lead(session)
        a, b = (v.id for v in _variants(session, exp.id))
        decisions = {a: [], b: []}
        for variant in (a, b):
            for _ in range(60):
                record_send(session, experiment_id=exp.id, variant_id=variant, propensity=0.5)
                decisions[variant].append(
                    sent_decision(
                        session,
                        lead_id=lead.id,
                        experiment_id=exp.id,
                        variant_id=variant,
                        propensity=0.5,
                    )
                )
        assert record_opt_out(session, decision_id=decisions[a][0], now=T0 + HOUR)
        assert not record_opt_out(session, decision_id=decisions[a][0], now=T0 + HOUR)
        for d in decisions[b][:10]:
            record_opt_out(session, decision_id=d, now=T0 + 2 * HOUR)
        variants = _variants(session, exp.id)
        assert not variants[0].paused
        assert variants[1].paused
        assert "one-sided two-proportion z-test" in (variants[1].pause_reason or "")
        assert [s.opt_outs for s in _stats(session, exp.id)] == [1, 10]
        assert check_guardrail(session, experiment_id=exp.id, now=T0) == []


def test_results_and_state_round_trip(sessions: sessionmaker[Session]) -> None:
    rng = np.random.default_rng(3)
    truth = {"A": 0.1, "B": 0.3}
    with sessions() as session:
        exp = make_experiment(session, n_variants=2, params={"burn_in": 40})
        lead = make_lead(session)
        names = {v.id: v.name for v in _variants(session, exp.id)}
        for _ in range(300):
            choice = choose_variant(
                session, experiment_id=exp.id, rng=rng, eligible_variant_ids=None, now=T0
            )
            record_send(
                session,
                experiment_id=exp.id,
                variant_id=choice.variant_id,
                propensity=choice.propensity,
            )
            d = sent_decision(
                session,
                lead_id=lead.id,
                experiment_id=exp.id,
                variant_id=choice.variant_id,
                propensity=choice.propensity,
                probabilities=choice.probabilities,
            )
            if rng.random() < truth[names[choice.variant_id]]:
                record_outcome(
                    session, decision_id=d, metric="reply", value=1, event_id=None, now=T0 + HOUR
                )
        close_expired(session, now=T0 + 100 * HOUR)
        results = experiment_results(session, experiment_id=exp.id, seed=1)
        payload = json.loads(json.dumps(results.to_dict()))
        assert payload["ab"]["verdict_status"] in ("ship", "keep_running"), payload["verdict"]
        b = next(arm for arm in results.ab.arms if arm.name == "B")
        assert b.prob_best > 0.95
        assert all(v.pending == 0 and v.resolved == v.sends for v in results.variants)
        ipw_b = results.ipw[1]
        assert ipw_b.value == pytest.approx(0.3, abs=0.08)
        assert results.ab.srm is not None and results.ab.srm.method == "choice_probabilities"
        assert not results.ab.srm.mismatch

        state = export_state(session, experiment_id=exp.id)
        copy = import_state(session, state=json.loads(json.dumps(state)), now=T0, name="copy")
        again = export_state(session, experiment_id=copy.id)
        assert again["variants"] == state["variants"]
        assert again["experiment"] | {"name": "welcome"} == state["experiment"]
        with pytest.raises(InvalidInput, match="version 99"):
            import_state(session, state=state | {"version": 99}, now=T0)
        bad = json.loads(json.dumps(state))
        bad["variants"][0]["stats"]["successes"] = 10**9
        with pytest.raises(InvalidInput, match="exceed sends"):
            import_state(session, state=bad, now=T0, name="bad")


def test_results_of_a_new_experiment_say_not_enough_data(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        exp = make_experiment(session, metric="revenue", policy="thompson_normal")
        results = experiment_results(session, experiment_id=exp.id)
        assert results.ab.verdict.status == "not_enough_data"
        assert results.ab.srm_p_value is None
        assert all(arm.value is None for arm in results.ipw)
        json.dumps(results.to_dict())
