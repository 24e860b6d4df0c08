"""Contextual Thompson sampling: segments, shrinkage, safeguards, state, the store, the script."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from optimizer.bandits import POLICIES, PolicyState, make_policy, policy_from_state
from optimizer.bandits.contextual import (
    UNKNOWN_SEGMENT,
    ContextualThompson,
    LeadContext,
    parse_segment_by,
    segment_key,
)
from optimizer.bandits.experiment_store import build_policy, load_arms, load_segment_counts
from optimizer.bandits.store import (
    choose_variant,
    record_outcome,
    record_send,
    variant_chooser,
)
from optimizer.bandits.thompson import ThompsonBernoulli
from optimizer.errors import InvalidInput
from tests.bandits.conftest import T0, make_experiment, make_lead, sent_decision

HOUR = dt.timedelta(hours=1)


def _policy(**params: object) -> ContextualThompson:
    policy = make_policy("contextual_thompson", 3, params)  # type: ignore[arg-type]
    assert isinstance(policy, ContextualThompson)
    return policy


def _load(policy: ContextualThompson, segment: str, arm: int, pulls: int, wins: int) -> None:
    """Count ``pulls`` sends (``wins`` rewarded) pooled and in ``segment``."""
    policy.set_arm(
        arm,
        pulls=int(policy.pulls[arm]) + pulls,
        reward_sum=float(policy.sums[arm]) + wins,
        reward_sum_sq=float(policy.sums[arm]) + wins,
    )
    before = policy.segments().get(segment)
    old_pulls = int(before[0][arm]) if before else 0
    old_wins = float(before[1][arm]) if before else 0.0
    policy.set_segment_arm(segment, arm, pulls=old_pulls + pulls, reward_sum=old_wins + wins)


# -- the segment key ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "segment_by", "key"),
    [
        (
            LeadContext("web_form", "retail", "hot"),
            ("vertical", "band"),
            "vertical=retail|band=hot",
        ),
        (LeadContext("Web  Form ", "RETAIL", "Hot"), ("source",), "source=web form"),
        (LeadContext(None, "retail", None), ("vertical", "band"), "vertical=retail|band=unknown"),
        (LeadContext(None, None, None), ("vertical", "band"), UNKNOWN_SEGMENT),
        (LeadContext("x", "", "lukewarm"), ("vertical", "band"), UNKNOWN_SEGMENT),
        (LeadContext("x", "   ", None), ("vertical",), UNKNOWN_SEGMENT),
        (LeadContext(3.5, math.nan, 1), ("source", "vertical", "band"), UNKNOWN_SEGMENT),  # type: ignore[arg-type]
        (None, ("vertical",), UNKNOWN_SEGMENT),
        (LeadContext("a|b=c", None, None), ("source",), "source=a/b-c"),
    ],
)
def test_segment_key_maps_missing_and_odd_values_to_unknown(
    context: LeadContext | None, segment_by: tuple[str, ...], key: str
) -> None:
    assert segment_key(context, segment_by) == key


def test_a_long_value_is_cut_so_keys_stay_bounded() -> None:
    key = segment_key(LeadContext(source="s" * 500), ("source",))
    assert key == "source=" + "s" * 64


@pytest.mark.parametrize("bad", ["", "color", "band,band", " , ", 5, None, "vertical;band"])
def test_segment_by_refuses_unknown_features(bad: object) -> None:
    with pytest.raises(InvalidInput, match="segment_by"):
        parse_segment_by(bad)


BAD_PARAMS = [
    ({"prior_strength": 0}, "prior_strength 0"),
    ({"prior_strength": -1.0}, "prior_strength -1.0"),
    ({"prior_strength": math.nan}, "prior_strength nan"),
    ({"prior_strength": math.inf}, "prior_strength inf"),
    ({"alpha": 0}, "alpha 0"),
    ({"beta": -2}, "beta -2"),
    ({"draws": 0}, "draws 0"),
    ({"draws": 2.5}, "draws 2.5"),
    ({"segment_by": "zip"}, "segment_by 'zip'"),
    ({"min_share": 0.5}, "min_share 0.5"),
    ({"burn_in": -1}, "burn_in -1"),
    ({"colour": "red"}, "colour not known"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS)
def test_bad_parameters_are_refused(params: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make_policy("contextual_thompson", 3, params)  # type: ignore[arg-type]


def test_bad_segment_statistics_are_refused() -> None:
    policy = _policy()
    for kwargs, message in [
        ({"segment": "s", "arm": 3, "pulls": 1, "reward_sum": 0}, "arm 3"),
        ({"segment": "s", "arm": 0, "pulls": -1, "reward_sum": 0}, "pulls -1"),
        ({"segment": "s", "arm": 0, "pulls": 2, "reward_sum": 3}, "successes 3"),
        ({"segment": "", "arm": 0, "pulls": 2, "reward_sum": 1}, "segment ''"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            policy.set_segment_arm(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="reward 2"):
        policy.update(0, 2.0, "s")


# -- probabilities, propensities, safeguards ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(0, 200),
    seed=st.integers(0, 10_000),
    eligible=st.sets(st.integers(0, 3), min_size=1),
    segment=st.sampled_from(["a", "b", UNKNOWN_SEGMENT, None]),
)
def test_probabilities_sum_to_one_over_the_eligible_arms_in_any_segment(
    steps: int, seed: int, eligible: set[int], segment: str | None
) -> None:
    policy = make_policy("contextual_thompson", 4, {"burn_in": 5, "draws": 200})
    assert isinstance(policy, ContextualThompson)
    rng = np.random.default_rng(seed)
    for step in range(steps):
        where = "a" if step % 3 else "b"
        choice = policy.select(rng, None, where)
        policy.update(choice.arm, float(rng.random() < 0.3), where)
    probs = policy.probabilities(rng, sorted(eligible), segment)
    assert probs.sum() == pytest.approx(1.0)
    assert all(probs[i] == 0 for i in range(4) if i not in eligible)
    choice = policy.select(rng, sorted(eligible), segment)
    assert choice.arm in eligible
    # The logged propensity is the chosen arm's probability in the same state.
    assert choice.propensity == pytest.approx(choice.probabilities[choice.arm])
    assert choice.propensity == pytest.approx(probs[choice.arm])
    assert 0 < choice.propensity <= 1


def test_propensity_is_the_frequency_the_arm_is_chosen_with() -> None:
    policy = _policy(burn_in=0, min_share=0.05, draws=2000)
    for arm, (pulls, wins) in enumerate([(60, 6), (60, 9), (60, 12)]):
        _load(policy, "s", arm, pulls, wins)
    rng = np.random.default_rng(3)
    expected = policy.probabilities(rng, None, "s")
    counts = np.zeros(3)
    for _ in range(20_000):
        choice = policy.select(rng, None, "s")
        assert choice.propensity == pytest.approx(expected[choice.arm])
        counts[choice.arm] += 1
    assert counts / counts.sum() == pytest.approx(expected, abs=0.015)


def test_burn_in_counts_the_pooled_pulls_and_min_share_holds() -> None:
    policy = _policy(burn_in=30, min_share=0.05)
    rng = np.random.default_rng(0)
    _load(policy, "s", 0, 200, 100)
    _load(policy, "s", 1, 200, 1)
    _load(policy, "s", 2, 20, 0)  # below the burn-in pooled
    choice = policy.select(rng, None, "s")
    assert choice.reason == "burn_in" and choice.probabilities == pytest.approx((1 / 3,) * 3)
    # Another segment's data count towards the pooled burn-in.
    _load(policy, "t", 2, 20, 0)
    choice = policy.select(rng, None, "s")
    assert choice.reason != "burn_in"
    probs = policy.probabilities(rng, None, "s")
    assert probs.min() >= 0.05 - 1e-12 and probs[0] > 0.85
    two = policy.probabilities(rng, [1, 2], "s")
    assert two[0] == 0 and two[1:].min() >= 0.05 - 1e-12 and two.sum() == pytest.approx(1.0)


# -- shrinkage ----------------------------------------------------------------------------


def test_with_no_data_at_all_a_segment_is_the_pooled_posterior() -> None:
    policy = _policy(alpha=2.0, beta=3.0)
    pooled = ThompsonBernoulli(n_arms=3, alpha=2.0, beta=3.0)
    for arm in range(3):
        assert policy.shapes("never-seen", arm) == pytest.approx(pooled.shapes(arm))


def test_a_segment_without_data_follows_the_pooled_rate_other_segments_give() -> None:
    policy = _policy(prior_strength=20.0)
    pooled = ThompsonBernoulli(n_arms=3)
    _load(policy, "a", 0, 8, 3)  # less pooled data than the prior strength
    pooled.set_arm(0, pulls=8, reward_sum=3, reward_sum_sq=3)
    assert policy.shapes("empty", 0) == pytest.approx(pooled.shapes(0))  # exactly the pooled
    _load(policy, "b", 0, 4000, 1000)  # much more: the mean is the pooled, strength 20
    a, b = policy.shapes("empty", 0)
    assert a / (a + b) == pytest.approx((1 + 1003) / (2 + 4008))
    assert a + b == pytest.approx(20.0)


def test_a_segment_with_much_data_follows_its_own_rate() -> None:
    policy = _policy(prior_strength=20.0)
    _load(policy, "rest", 0, 5000, 500)  # 10 % elsewhere
    _load(policy, "big", 0, 5000, 2500)  # 50 % here
    a, b = policy.shapes("big", 0)
    assert a / (a + b) == pytest.approx(0.5, abs=0.002)
    _load(policy, "small", 0, 4, 2)  # 50 % on 4 sends: mostly the others' rate
    a, b = policy.shapes("small", 0)
    rest_rate = (1 + 3000) / (2 + 10000)
    assert a / (a + b) == pytest.approx((20 * rest_rate + 2) / 24)


def test_a_segment_holding_all_the_data_counts_it_once() -> None:
    policy = _policy()
    pooled = ThompsonBernoulli(n_arms=3)
    _load(policy, "only", 1, 300, 90)
    pooled.set_arm(1, pulls=300, reward_sum=90, reward_sum_sq=90)
    assert policy.shapes("only", 1) == pytest.approx(pooled.shapes(1))


def _world(policy: object, steps: int, seed: int) -> float:
    """Two equally common segments whose best arm differs; returns the mean reward."""
    rates = {"a": np.array([0.30, 0.10, 0.15]), "b": np.array([0.10, 0.30, 0.15])}
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(steps):
        segment = "a" if rng.random() < 0.5 else "b"
        if isinstance(policy, ContextualThompson):
            arm = policy.select(rng, None, segment).arm
            reward = float(rng.random() < rates[segment][arm])
            policy.update(arm, reward, segment)
        else:
            assert isinstance(policy, ThompsonBernoulli)
            arm = policy.select(rng).arm
            reward = float(rng.random() < rates[segment][arm])
            policy.update(arm, reward)
        total += reward
    return total / steps


def test_learns_a_segment_dependent_best_arm_where_context_free_cannot() -> None:
    contextual = _policy(burn_in=20, draws=500)
    plain = ThompsonBernoulli(n_arms=3, burn_in=20, draws=500)
    steps = 4000
    contextual_reward = _world(contextual, steps, seed=11)
    plain_reward = _world(plain, steps, seed=11)
    rng = np.random.default_rng(0)
    assert contextual.probabilities(rng, None, "a")[0] > 0.9
    assert contextual.probabilities(rng, None, "b")[1] > 0.9
    # Context-free: one distribution for both segments, so at best 0.30 in one and 0.10 in the
    # other (0.20); the contextual policy earns close to 0.30 everywhere.
    assert plain_reward < 0.22
    assert contextual_reward > 0.26
    assert contextual_reward - plain_reward > 0.05


# -- state --------------------------------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    policy = _policy(prior_strength=12.5, segment_by="source,band", burn_in=7)
    rng = np.random.default_rng(5)
    for step in range(300):
        where = ["x", "y", UNKNOWN_SEGMENT][step % 3]
        choice = policy.select(rng, None, where)
        policy.update(choice.arm, float(rng.random() < 0.2), where)
    state = policy.state()
    text = state.to_json()
    assert set(json.loads(text)["segments"]) == {"x", "y", UNKNOWN_SEGMENT}
    again = policy_from_state(PolicyState.from_json(text))
    assert isinstance(again, ContextualThompson)
    assert again.state() == state and again.state().to_json() == text
    for segment in ("x", "y", "new"):
        for arm in range(3):
            assert again.shapes(segment, arm) == pytest.approx(policy.shapes(segment, arm))


def test_context_free_states_stay_as_they_were() -> None:
    state = make_policy("thompson", 3).state()
    assert "segments" not in state.to_dict()
    raw = state.to_dict()
    raw["segments"] = {"x": [{"pulls": 1, "reward_sum": 0, "reward_sum_sq": 0}] * 3}
    with pytest.raises(InvalidInput, match="lists segments"):
        policy_from_state(PolicyState.from_dict(raw))
    contextual = _policy().state().to_dict()
    contextual["segments"] = {"x": [{"pulls": 1, "reward_sum": 0, "reward_sum_sq": 0}]}
    with pytest.raises(InvalidInput, match="segment 'x' lists 1 arms"):
        policy_from_state(PolicyState.from_dict(contextual))
    contextual["segments"] = {"x": "nonsense"}
    with pytest.raises(InvalidInput, match="malformed"):
        PolicyState.from_dict(contextual)


def test_the_registry_lists_it() -> None:
    assert POLICIES["contextual_thompson"] is ContextualThompson


# -- the store ----------------------------------------------------------------------------


def _send(
    session: Session,
    *,
    experiment_id: int,
    variant_id: int,
    vertical: str | None,
    band: str | None,
    reply: bool | None,
    confirmed: bool = True,
) -> None:
    lead = make_lead(session, source="web_form", vertical=vertical)
    decision_id = sent_decision(
        session,
        lead_id=lead.id,
        experiment_id=experiment_id,
        variant_id=variant_id,
        propensity=0.5,
        allowed=confirmed,
        segment=band,
    )
    if not confirmed:
        return
    record_send(session, experiment_id=experiment_id, variant_id=variant_id, propensity=0.5, now=T0)
    if reply is not None:
        record_outcome(
            session,
            decision_id=decision_id,
            metric="reply",
            value=1.0 if reply else 0.0,
            event_id=None,
            now=T0 + HOUR,
        )


def test_segment_statistics_are_rebuilt_from_the_decision_log(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        exp = make_experiment(session, policy="contextual_thompson", n_variants=2)
        a, b = (v.id for v, _ in load_arms(session, exp.id))
        for _ in range(3):
            _send(
                session,
                experiment_id=exp.id,
                variant_id=a,
                vertical="Retail",
                band="hot",
                reply=True,
            )
        _send(
            session, experiment_id=exp.id, variant_id=a, vertical="retail", band="hot", reply=False
        )
        _send(
            session, experiment_id=exp.id, variant_id=a, vertical="retail", band="hot", reply=None
        )
        _send(session, experiment_id=exp.id, variant_id=b, vertical=None, band=None, reply=True)
        _send(
            session,
            experiment_id=exp.id,
            variant_id=b,
            vertical="b2b",
            band="cold",
            reply=True,
            confirmed=False,
        )
        arms = load_arms(session, exp.id)
        policy = build_policy(exp, arms, load_segment_counts(session, exp))
        assert isinstance(policy, ContextualThompson)
        segments = policy.segments()
        # "Retail" and "retail" are one segment; a pending reward is no success yet; an
        # unconfirmed decision is no send; a lead with no features is the unknown segment.
        assert set(segments) == {"vertical=retail|band=hot", UNKNOWN_SEGMENT}
        pulls, wins = segments["vertical=retail|band=hot"]
        assert pulls.tolist() == [5, 0] and wins.tolist() == [3.0, 0.0]
        pulls, wins = segments[UNKNOWN_SEGMENT]
        assert pulls.tolist() == [0, 1] and wins.tolist() == [0.0, 1.0]
        assert policy.pulls.tolist() == [5, 1]  # pooled: arm_stats, as for every policy
        # Other policies read no segment counts.
        plain = make_experiment(session, name="plain", n_variants=2)
        assert load_segment_counts(session, plain) == []


def test_the_chooser_chooses_per_segment_and_logs_it(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        exp = make_experiment(
            session, policy="contextual_thompson", n_variants=2, params={"burn_in": 5}
        )
        a, b = (v.id for v, _ in load_arms(session, exp.id))
        for _ in range(60):
            _send(
                session,
                experiment_id=exp.id,
                variant_id=a,
                vertical="retail",
                band="hot",
                reply=True,
            )
            _send(
                session,
                experiment_id=exp.id,
                variant_id=b,
                vertical="retail",
                band="hot",
                reply=False,
            )
            _send(
                session, experiment_id=exp.id, variant_id=a, vertical="b2b", band="hot", reply=False
            )
            _send(
                session, experiment_id=exp.id, variant_id=b, vertical="b2b", band="hot", reply=True
            )
        choose = variant_chooser(session, experiment_id=exp.id, now=T0)
        rng = np.random.default_rng(0)
        retail = choose(rng, None, LeadContext("web_form", "retail", "hot"))
        b2b = choose(rng, None, LeadContext("web_form", "b2b", "hot"))
        unknown = choose(rng, None, None)
        assert retail.segment == "vertical=retail|band=hot" and retail.variant_id == a
        assert b2b.segment == "vertical=b2b|band=hot" and b2b.variant_id == b
        assert unknown.segment == UNKNOWN_SEGMENT
        for choice in (retail, b2b, unknown):
            assert choice.policy == "contextual_thompson"
            assert choice.propensity == pytest.approx(dict(choice.probabilities)[choice.variant_id])
            assert sum(p for _, p in choice.probabilities) == pytest.approx(1.0)
        one = choose_variant(
            session,
            experiment_id=exp.id,
            rng=np.random.default_rng(1),
            eligible_variant_ids=[b],
            now=T0,
            context=LeadContext(vertical="retail", band="hot"),
        )
        assert (one.variant_id, one.propensity, one.reason) == (b, 1.0, "only_arm")


def test_segment_counts_are_reused_only_while_the_arms_are_unchanged(
    sessions: sessionmaker[Session],
) -> None:
    from optimizer.bandits.experiment_store import SEGMENT_REFRESH

    with sessions() as session:
        exp = make_experiment(session, policy="contextual_thompson", n_variants=2)
        a, _ = (v.id for v, _ in load_arms(session, exp.id))
        _send(
            session, experiment_id=exp.id, variant_id=a, vertical="retail", band="hot", reply=True
        )
        first = load_segment_counts(session, exp, load_arms(session, exp.id), T0)
        assert sum(c.sends for c in first) == 1
        # Same totals: the same counts, whatever the time.
        assert (
            load_segment_counts(session, exp, load_arms(session, exp.id), T0 + 100 * HOUR) is first
        )
        _send(
            session, experiment_id=exp.id, variant_id=a, vertical="retail", band="hot", reply=False
        )
        arms = load_arms(session, exp.id)
        # Changed totals: the last read stands for SEGMENT_REFRESH of decision time ...
        assert load_segment_counts(session, exp, arms, T0 + SEGMENT_REFRESH / 2) is first
        # ... then (or when the time goes back) the log is read again.
        fresh = load_segment_counts(session, exp, arms, T0 + SEGMENT_REFRESH)
        assert sum(c.sends for c in fresh) == 2
        _send(session, experiment_id=exp.id, variant_id=a, vertical="b2b", band="hot", reply=False)
        back = load_segment_counts(session, exp, load_arms(session, exp.id), T0)
        assert sum(c.sends for c in back) == 3
        # Without arms and a time: always read.
        assert sum(c.sends for c in load_segment_counts(session, exp)) == 3


def test_contextual_thompson_takes_only_binary_metrics(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        with pytest.raises(InvalidInput, match="0/1 reward"):
            make_experiment(session, policy="contextual_thompson", metric="revenue")
        with pytest.raises(InvalidInput, match="segment_by"):
            make_experiment(session, policy="contextual_thompson", params={"segment_by": "zip"})


# -- the experiment script ----------------------------------------------------------------


def test_the_experiment_script_quick_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from experiments import contextual_ts
    from tests.conftest import DATA_DIR

    hillstrom = DATA_DIR / "hillstrom.csv.gz"
    if not hillstrom.is_file():
        hillstrom = tmp_path / "absent.csv.gz"
    result = contextual_ts.main(["--quick", "--seeds", "1", "2", "--hillstrom", str(hillstrom)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == json.loads(json.dumps(result))
    online = result["online"]
    for name in ("thompson", "contextual_thompson"):
        mean, low, high = online[name]
        assert 0 < low <= mean <= high < 1
        assert len(online["per_seed"][f"{name}:expected"]) == 2
    assert online["best_single_variant"][0] < online["best_per_lead"][0]
    ope = result["ope_simulator"]
    for estimator in ("ipw", "snipw", "dm", "dr"):
        value, low, high = ope["difference"][estimator]
        assert low <= value <= high
    assert set(ope["truth"]) == {"thompson", "contextual_thompson"}
    if hillstrom.is_file():
        assert result["hillstrom"]["rows"] == 6000
        assert set(result["hillstrom"]["ope"]["difference"]) == {"ipw", "snipw", "dm", "dr"}
    else:
        assert result["hillstrom"] is None
