"""Send-time policies evaluated off-policy on the decision log: each decision's logged slot
record (the gate's allowed slots, the greedy slot, the exploration share) gives the logging
policy's whole distribution; a candidate's value is estimated and checked against a known truth
(a real SQLite store, the CLI)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from optimizer.bandits.experiment_store import load_arms
from optimizer.bandits.rewards import close_expired, record_outcome
from optimizer.cli import main
from optimizer.decide.slots import candidate_slots, pack_mask, unpack_mask
from optimizer.decide.types import SlotLog
from optimizer.errors import InvalidInput
from optimizer.ope.slots import (
    HOURS_OF_WEEK,
    SlotPolicy,
    by_hour_of_week,
    candidate_slot_distribution,
    decode_slot_log,
    local_hours_of_week,
    logging_slot_distribution,
    parse_slot_policy,
    slot_feedback,
)
from optimizer.ope.variants import evaluate_variant_policy
from optimizer.store.db import transaction
from optimizer.store.decision_log import load_slot_log
from optimizer.store.models import Decision, DecisionConfirmation
from tests.bandits.conftest import T0, make_experiment, make_lead
from tests.ope.test_store_log import store_cli  # noqa: F401 - a fixture

ZONE = "America/Chicago"
SLOTS = 72
EXPLORATION = 0.5
LOGGED_HOUR = 18  # the logging policy's greedy choice: the first allowed 18:00
RATE = {10: 0.30, 11: 0.30}  # local hours with a high reply rate; every other allowed hour:
BASE_RATE = 0.05


def rate_at(hour_of_day: np.ndarray) -> np.ndarray:
    out = np.full(hour_of_day.shape, BASE_RATE)
    for hour, rate in RATE.items():
        out[hour_of_day == hour] = rate
    return out


def synthetic_log(n: int, seed: int) -> tuple[list[dt.datetime], list[SlotLog], np.ndarray]:
    """``n`` decisions in Chicago, allowed 08:00–20:59 local, chosen epsilon-greedy toward the
    first 18:00 with ``EXPLORATION``; the reply drawn at the chosen slot's local hour's rate."""
    rng = np.random.default_rng(seed)
    as_of, logs, reward = [], [], []
    for i in range(n):
        at = T0 + dt.timedelta(minutes=37 * i + int(rng.integers(0, 30)))
        hours = local_hours_of_week(at, ZONE, SLOTS) % 24
        mask = (hours >= 8) & (hours <= 20)
        allowed = np.flatnonzero(mask)
        at_18 = allowed[hours[allowed] == LOGGED_HOUR]
        best = int(at_18[0])
        index = int(rng.choice(allowed)) if rng.random() < EXPLORATION else best
        as_of.append(at)
        logs.append(SlotLog(SLOTS, pack_mask(mask), best, index, EXPLORATION, "model"))
        reward.append(float(rng.random() < rate_at(hours[index : index + 1])[0]))
    return as_of, logs, np.asarray(reward)


def propensity_of(log: SlotLog) -> float:
    n = int(unpack_mask(log.allowed, log.slots).sum())
    return log.exploration / n + (1 - log.exploration) * (log.chosen == log.best)


def decisions_of(as_of, logs, reward):
    return decode_slot_log(
        as_of,
        [ZONE] * len(logs),
        [log.to_dict() for log in logs],
        np.array([propensity_of(log) for log in logs]),
        reward,
    )


def test_mask_round_trip_and_bad_masks() -> None:
    rng = np.random.default_rng(0)
    for length in (0, 1, 7, 8, 9, 72, 200):
        mask = rng.random(length) < 0.4
        assert (unpack_mask(pack_mask(mask), length) == mask).all()
    assert len(pack_mask(np.ones(72, dtype=bool))) == 18
    with pytest.raises(ValueError):
        unpack_mask("zz", 8)
    with pytest.raises(ValueError, match="holds 8 bits"):
        unpack_mask("ff", 9)


@pytest.mark.parametrize(
    "policy",
    [
        "slot:",
        "slot:hour=24",
        "slot:hour=x",
        "slot:first,explore=2",
        "slot:first,explore=nan",
        "slot:best",
        "slot:hour=-1",
        "slot:first,explore=",
    ],
)
def test_bad_policies_are_named(policy: str) -> None:
    with pytest.raises(InvalidInput, match="slot:first, slot:logged or slot:hour=H") as info:
        parse_slot_policy(policy)
    assert repr(policy) in str(info.value)


def test_policies_parse() -> None:
    assert parse_slot_policy("slot:first") == SlotPolicy("first")
    assert parse_slot_policy("slot:hour=9,explore=0.1") == SlotPolicy("hour", 9, 0.1)
    assert parse_slot_policy("slot:logged") == SlotPolicy("logged", None, None)


def test_local_hours_follow_the_zone_across_dst() -> None:
    # 2026-03-08: Chicago springs forward at 02:00 local (08:00 UTC).
    at = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)  # 00:30 CST, a Sunday
    hours = local_hours_of_week(at, ZONE, 4)
    slots = candidate_slots(at, 4)
    from zoneinfo import ZoneInfo

    expected = [
        s.astimezone(ZoneInfo(ZONE)).weekday() * 24 + s.astimezone(ZoneInfo(ZONE)).hour
        for s in slots
    ]
    assert hours.tolist() == expected == [144, 145, 147, 148]  # 02:00 local never happens


def test_distributions_sum_to_one_on_allowed_slots_and_match_the_log() -> None:
    as_of, logs, reward = synthetic_log(200, 1)
    decisions = decisions_of(as_of, logs, reward)
    logging = logging_slot_distribution(decisions)
    assert np.allclose(logging.sum(axis=1), 1.0)
    assert (logging[~decisions.allowed] == 0).all()
    # The reconstructed probability of the chosen slot is the one the decision logged.
    chosen = logging[np.arange(decisions.n), decisions.chosen]
    assert np.allclose(chosen, decisions.propensity)
    for policy in ("slot:first", "slot:hour=10", "slot:hour=3", "slot:logged,explore=0.2"):
        dist = candidate_slot_distribution(parse_slot_policy(policy), decisions)
        assert np.allclose(dist.sum(axis=1), 1.0) and (dist[~decisions.allowed] == 0).all()
    ten = candidate_slot_distribution(parse_slot_policy("slot:hour=10"), decisions)
    picked = ten.argmax(axis=1)
    assert (decisions.hour_of_week[np.arange(decisions.n), picked] % 24 == 10).all()
    # 03:00 is never allowed: the first allowed slot instead.
    three = candidate_slot_distribution(parse_slot_policy("slot:hour=3"), decisions)
    assert (three.argmax(axis=1) == decisions.allowed.argmax(axis=1)).all()
    assert by_hour_of_week(ten, decisions.hour_of_week).shape == (decisions.n, HOURS_OF_WEEK)


def test_unreadable_and_forced_rows_are_left_out() -> None:
    as_of, logs, reward = synthetic_log(5, 2)
    records = [log.to_dict() for log in logs]
    records[0] = {**records[0], "rule": "speed_to_lead"}
    records[1] = {**records[1], "allowed": "not hex"}
    records[2] = {**records[2], "chosen": 71, "allowed": pack_mask(np.zeros(72, dtype=bool))}
    zones: list[str | None] = [ZONE, ZONE, ZONE, "Mars/Olympus", ZONE]
    decisions = decode_slot_log(as_of, zones, records, np.full(5, 0.5), reward)
    assert decisions.n == 1 and decisions.forced == 1 and decisions.unreadable == 3
    with pytest.raises(InvalidInput, match="no send whose slot"):
        slot_feedback(decode_slot_log([], [], [], np.array([]), np.array([])), np.zeros((0, 0)))


def true_value(decisions, dist) -> float:
    """The candidate's expected reward on these decisions, from the known rates."""
    rates = rate_at(decisions.hour_of_week % 24)
    return float((dist * rates).sum(axis=1).mean())


def test_a_fixed_hour_policy_is_estimated_within_its_interval() -> None:
    as_of, logs, reward = synthetic_log(3000, 3)
    decisions = decisions_of(as_of, logs, reward)
    policy = parse_slot_policy("slot:hour=10")
    dist = candidate_slot_distribution(policy, decisions)
    truth = true_value(decisions, dist)
    assert truth == pytest.approx(0.30)
    logged = float(reward.mean())
    assert logged < 0.15  # the logging policy mostly sends at 18:00: the estimators have work
    from optimizer.ope.slots import ACTION_FEATURES

    evaluation = evaluate_variant_policy(
        slot_feedback(decisions, dist),
        "reply",
        estimators=("ipw", "snipw", "dm", "dr"),
        seed=5,
        resamples=300,
        model_resamples=0,
        action_context=ACTION_FEATURES,
    )
    by_name = evaluation.by_name()
    for name in ("ipw", "snipw", "dr"):
        e = by_name[name]
        assert e.ci_low <= truth <= e.ci_high, (name, e)
    # The reward model has the right features (hour of day, weekday): DM is close.
    assert abs(by_name["dm"].value - truth) < 0.04
    assert evaluation.weights.max_weight > 20  # a rarely explored slot: large weights


def test_the_logged_policy_has_unit_weights() -> None:
    as_of, logs, reward = synthetic_log(300, 4)
    decisions = decisions_of(as_of, logs, reward)
    dist = candidate_slot_distribution(parse_slot_policy("slot:logged"), decisions)
    evaluation = evaluate_variant_policy(
        slot_feedback(decisions, dist), "reply", estimators=("ipw",), seed=1, resamples=50
    )
    assert evaluation.weights.max_weight == pytest.approx(1.0)
    assert evaluation.by_name()["ipw"].value == pytest.approx(float(reward.mean()))


# -- the store and the CLI ----------------------------------------------------------------------


def fill_store(sessions: sessionmaker[Session], n: int, seed: int) -> int:
    """The synthetic log as confirmed decisions, with replies recorded and windows closed."""
    as_of, logs, reward = synthetic_log(n, seed)
    with transaction(sessions) as session:
        experiment = make_experiment(session, metric="reply", n_variants=2)
        variant_id = load_arms(session, experiment.id)[0][0].id
        lead = make_lead(session).id
        ids = []
        for at, log in zip(as_of, logs, strict=True):
            decision_id = str(uuid.uuid4())
            session.add(
                Decision(
                    id=decision_id,
                    lead_id=lead,
                    created_at=at,
                    as_of=at,
                    action="send_at",
                    reasons=[],
                    allowed=True,
                    compliance={},
                    model_versions={},
                    timezone=ZONE,
                    explanation={"slot": log.to_dict()},
                    experiment_id=experiment.id,
                    variant_id=variant_id,
                    propensity=1.0,
                    slot_propensity=propensity_of(log),
                )
            )
            ids.append(decision_id)
        session.flush()
        for decision_id, at in zip(ids, as_of, strict=True):
            session.add(
                DecisionConfirmation(
                    decision_id=decision_id, confirmed_at=at, allowed=True, reasons=[]
                )
            )
        session.flush()
        for decision_id, r, at in zip(ids, reward, as_of, strict=True):
            if r:
                record_outcome(
                    session,
                    decision_id=decision_id,
                    metric="reply",
                    value=1.0,
                    event_id=None,
                    now=at + dt.timedelta(hours=1),
                )
        # An older decision without a slot record: counted, left out.
        old = str(uuid.uuid4())
        session.add(
            Decision(
                id=old,
                lead_id=lead,
                created_at=T0 - dt.timedelta(days=1),
                as_of=T0 - dt.timedelta(days=1),
                action="send_now",
                reasons=[],
                allowed=True,
                compliance={},
                model_versions={},
                timezone=ZONE,
                explanation={},
                experiment_id=experiment.id,
                variant_id=variant_id,
                propensity=1.0,
                slot_propensity=1.0,
            )
        )
        session.flush()
        session.add(
            DecisionConfirmation(
                decision_id=old, confirmed_at=T0 - dt.timedelta(days=1), allowed=True, reasons=[]
            )
        )
        session.flush()
        close_expired(session, now=as_of[-1] + dt.timedelta(days=30))
        return experiment.id


def test_store_log_reads_the_slot_records(sessions) -> None:
    experiment_id = fill_store(sessions, 60, 6)
    with transaction(sessions) as session:
        log = load_slot_log(session, experiment_id)
    assert len(log.slot) == 60 and log.unlogged == 1 and log.pending == 0
    assert log.timezone == [ZONE] * 60 and log.metric == "reply"
    decisions = decode_slot_log(log.as_of, log.timezone, log.slot, log.propensity, log.reward)
    assert np.allclose(
        logging_slot_distribution(decisions)[np.arange(60), decisions.chosen], log.propensity
    )


def test_cli_estimates_a_send_time_policy_and_records_it(
    sessions,
    store_cli,  # noqa: F811 - the fixture
    ml_settings,
    capsys,
) -> None:
    experiment_id = fill_store(sessions, 1500, 7)
    args = ["experiments", "evaluate-policy", "--log", "store", "--experiment", str(experiment_id)]
    code = main([*args, "--policy", "slot:hour=10", "--resamples", "200", "--model-resamples", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["kind"] == "send_time" and payload["rows"] == 1500
    assert payload["unlogged"] == 1 and payload["forced"] == 0
    assert payload["mlflow_run_id"] and payload["evaluation_id"] is not None
    for name in ("ipw", "snipw", "dm", "dr"):
        e = payload["estimates"][name]
        assert e["ci_low"] <= 0.30 <= e["ci_high"], name
    # The current policy's own value: mostly 18:00, low; the candidate is judged against it.
    assert payload["current"]["ci_high"] < 0.30
    assert "the current policy's greedy slot" in out
    code = main([*args, "--policy", "slot:hour=25", "--no-mlflow", "--no-record"])
    err = capsys.readouterr()
    assert code != 0 and "'slot:hour=25'" in (err.out + err.err)


def test_the_logistic_reward_model_predicts_every_action_at_once() -> None:
    """The linear shortcut of ``_predict_all`` equals predict_proba action by action."""
    from sklearn.linear_model import LogisticRegression

    from optimizer.ope.data import BanditFeedback
    from optimizer.ope.reward_model import _predict_all, design
    from optimizer.ope.slots import ACTION_FEATURES

    rng = np.random.default_rng(8)
    n = 400
    feedback = BanditFeedback(
        context=rng.normal(size=(n, 3)),
        action=rng.integers(0, HOURS_OF_WEEK, n),
        reward=(rng.random(n) < 0.3).astype(float),
        pscore=np.full(n, 1 / HOURS_OF_WEEK),
        action_dist=np.full((n, HOURS_OF_WEEK), 1 / HOURS_OF_WEEK),
    )
    rows = np.arange(0, n, 3)
    for features in (ACTION_FEATURES, None):
        x = design(feedback.context, feedback.action, None, HOURS_OF_WEEK, 1, features)
        fitted = LogisticRegression(C=100, max_iter=10_000).fit(x, feedback.reward.astype(int))
        fast = _predict_all(fitted, None, feedback, rows, features)
        slow = np.column_stack(
            [
                fitted.predict_proba(
                    design(
                        feedback.context[rows],
                        np.full(rows.size, a),
                        None,
                        HOURS_OF_WEEK,
                        1,
                        features,
                    )
                )[:, 1]
                for a in range(HOURS_OF_WEEK)
            ]
        )
        assert np.allclose(fast, slow, rtol=1e-10, atol=1e-12)
