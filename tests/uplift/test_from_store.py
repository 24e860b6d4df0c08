"""Uplift learned from the store's own randomised holdout, and the batch that ranks by it.

One simulated store (the simulator through the real API, an experiment holding half of its
leads out) serves every test; real MLflow stores per test. The CLI reads the store through
``OPTIMIZER_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from optimizer.cli import main
from optimizer.decide.batch import decide_batch
from optimizer.decide.incremental import (
    EXPECTED_INCREMENTAL_VALUE,
    EXPECTED_VALUE,
    NEGATIVE_UPLIFT,
    opt_out_probability,
)
from optimizer.decide.models import FALLBACK_UPLIFT, LoadedModels
from optimizer.decide.service import DecisionService
from optimizer.errors import InvalidInput
from optimizer.models.registry import client_for
from optimizer.settings import Settings, get_settings
from optimizer.store.db import make_engine, session_factory, transaction
from optimizer.store.holdout_log import AssignedDecision, OutcomeEvent
from tests.api.conftest import serve
from tests.uplift.simulated import SimulatedStore, simulate_holdout_store
from training.uplift_store import assigned_units, outcome_labels, store_uplift_data

WINDOW = "3"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> SimulatedStore:
    root = tmp_path_factory.mktemp("holdout-store")
    return simulate_holdout_store(
        root / "var",
        mlflow_uri=f"sqlite:///{root / 'sim-mlflow.db'}",
        arrivals=600,
        days=6,
        share=0.5,
    )


@pytest.fixture
def store_env(
    simulated: SimulatedStore, ml_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings (and the CLI's environment) reading the simulated store, with this test's MLflow."""
    url = simulated.settings.resolved_database_url()
    monkeypatch.setenv("OPTIMIZER_DATABASE_URL", url)
    monkeypatch.setenv("OPTIMIZER_SIMULATION", "true")
    get_settings.cache_clear()
    return ml_settings.model_copy(update={"database_url": url, "simulation": True})


def _train(simulated: SimulatedStore, *extra: str) -> list[str]:
    return [
        "train",
        "uplift",
        "--from-store",
        "--as-of",
        simulated.end.isoformat(),
        "--window-days",
        WINDOW,
        "--bootstrap",
        "20",
        "--min-child-samples",
        "10",
        *extra,
    ]


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def _champion(simulated: SimulatedStore, capsys: pytest.CaptureFixture[str]) -> dict:
    """Train from the store and make it the champion (forced: in this world the held-out leads
    never reply, so the uplift ranking cannot beat the response model's by much)."""
    code = main(_train(simulated, "--seed", "3"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = _last_json(captured.out)
    if not payload["promoted"]:
        assert main(["models", "promote", "uplift", "--metric", "qini", "--force"]) == 0
        capsys.readouterr()
    return payload


# -- the training set ---------------------------------------------------------------------------

T0 = dt.datetime(2026, 10, 5, 12, tzinfo=dt.UTC)


def _d(lead: int, hours: float, action: str, *, held: bool = False, sent: bool = False):
    return AssignedDecision(
        decision_id=f"{lead}-{hours}",
        experiment_id=1,
        lead_id=lead,
        decided_at=T0 + dt.timedelta(hours=hours),
        action=action,
        held_out=held,
        sent=sent,
        propensity=None,
    )


def test_units_are_each_leads_first_sent_or_held_out_decision() -> None:
    decisions = [
        _d(1, 0, "send_at"),  # never confirmed: not a unit, counted
        _d(1, 5, "send_now", sent=True),  # lead 1's unit
        _d(1, 30, "send_now", sent=True),  # later: ignored
        _d(2, 1, "hold", held=True),
        _d(2, 2, "hold", held=True),
        _d(3, 1, "hold"),  # a hold of the gate: neither arm
        _d(4, 200, "send_now", sent=True),  # window still open at as_of
    ]
    as_of = T0 + dt.timedelta(days=8)
    units, counts = assigned_units(decisions, {1: 0.2}, as_of=as_of, window=dt.timedelta(days=7))
    assert [(u.lead_id, u.treated, u.propensity) for u in units] == [
        (2, False, 0.2),
        (1, True, 0.8),
    ]
    assert units[1].decided_at == T0 + dt.timedelta(hours=5)
    assert (counts.treated, counts.control, counts.open_window, counts.not_sent) == (1, 1, 1, 1)


def test_labels_count_replies_inside_the_window_and_not_a_stop() -> None:
    decisions = [_d(i, 0, "send_now", sent=True) for i in range(1, 6)]
    units, _ = assigned_units(
        decisions, {1: 0.5}, as_of=T0 + dt.timedelta(days=30), window=dt.timedelta(days=7)
    )

    def event(lead: int, kind: str, days: float, intent: str | None = None) -> OutcomeEvent:
        return OutcomeEvent(lead, kind, T0 + dt.timedelta(days=days), None, intent)

    events = [
        event(1, "reply", 7.0),  # on the window's last instant: counts
        event(2, "reply", 7.001),  # after it
        event(3, "inbound", 1, intent="opt_out"),  # a STOP is not a reply
        event(4, "inbound", 1),
        event(5, "reply", -0.5),  # before the decision
        event(5, "conversion", 1),
    ]
    window = dt.timedelta(days=7)
    assert outcome_labels(units, events, target="reply", window=window).tolist() == [1, 0, 0, 1, 0]
    assert outcome_labels(units, events, target="conversion", window=window).tolist() == [
        0,
        0,
        0,
        0,
        1,
    ]


def test_store_sample_is_randomised_weighted_and_point_in_time(simulated: SimulatedStore) -> None:
    engine = make_engine(simulated.settings.resolved_database_url())
    with transaction(session_factory(engine)) as session:
        data = store_uplift_data(session, as_of=simulated.end, window_days=3)
    engine.dispose()
    treated = data.treatment == 1
    assert data.feature_source == "store:v1" and data.target == "reply_within_3d"
    assert treated.sum() >= 20 and (~treated).sum() >= 20
    # Half held out: each arm's propensity is 1/2, the weights equal, the weighted share 1/2.
    assert data.propensity is not None and data.weight is not None
    assert np.allclose(data.propensity, 0.5) and np.allclose(data.weight, 1.0)
    assert data.weighted_treated_share == pytest.approx(data.treated_share)
    # Held-out leads got no text before their decision's features (the first touch).
    assert data.frame.loc[~treated, "marketing_sent"].max() == 0
    assert data.y[treated].mean() > data.y[~treated].mean()
    assert np.isin(data.y, (0.0, 1.0)).all()


# -- the command ------------------------------------------------------------------------------


def test_from_store_trains_logs_registers_validates_and_promotes(
    simulated: SimulatedStore, store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_train(simulated, "--seed", "3", "--no-promote"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "inverse-propensity weights" in captured.err
    payload = _last_json(captured.out)
    assert payload["source"] == "store" and payload["weighted"] is True
    assert payload["target"] == "reply_within_3d"
    assert payload["treated_rows"] + payload["control_rows"] == payload["rows"]
    assert payload["treated_rows"] >= 20 and payload["control_rows"] >= 20
    assert isinstance(payload["qini"], float) and payload["qini_low"] <= payload["qini_high"]
    assert payload["version"] == "1" and payload["promoted"] is False
    client = MlflowClient(store_env.mlflow_tracking_uri, store_env.mlflow_tracking_uri)
    run = client.get_run(payload["run_id"])
    assert run.data.params["data.source"] == "store"
    assert run.data.params["data.weighted"] == "True"
    assert "holdout.model.qini" in run.data.metrics
    tags = client.get_model_version("uplift", "1").tags
    assert tags["feature_source"] == "store:v1" and tags["target"] == "reply_within_3d"
    assert tags["validation.metric"] == "qini"

    # validate: the challenger and the response model on the challenger's logged holdout.
    assert main(["models", "validate", "uplift"]) == 0
    checked = _last_json(capsys.readouterr().out)
    assert checked["challenger_version"] == "1" and checked["champion_version"] is None
    assert checked["rows"] == payload["rows_scored"]
    assert checked["challenger"] == pytest.approx(payload["qini"])
    assert checked["response"] == pytest.approx(payload["response"]["qini"])
    assert main(["models", "promote", "uplift", "--metric", "qini", "--force"]) == 0
    assert _last_json(capsys.readouterr().out)["champion_after"] == "1"

    # A second run is validated against that champion, on its own holdout.
    code = main(_train(simulated, "--seed", "4", "--no-promote"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    second = _last_json(captured.out)
    assert second["version"] == "2" and second["champion_version"] == "1"
    assert isinstance(second["champion_qini"], float)
    assert main(["models", "validate", "uplift"]) == 0
    checked = _last_json(capsys.readouterr().out)
    assert checked["champion_version"] == "1" and checked["comparable"] is True
    assert checked["champion"] == pytest.approx(second["champion_qini"])
    assert main(["models", "promote", "uplift", "--metric", "qini"]) == 0
    decision = _last_json(capsys.readouterr().out)
    champion = str(client.get_model_version_by_alias("uplift", "champion").version)
    assert champion == ("2" if decision["promoted"] else "1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "uplift"], "pass exactly one of --csv PATH or --from-store (neither given)"),
        (
            ["train", "uplift", "--from-store", "--csv", "x.csv"],
            "pass exactly one of --csv PATH or --from-store (both given)",
        ),
        (["train", "uplift", "--from-store", "--treatment", "arm"], "--treatment applies to --csv"),
        (["train", "uplift", "--from-store", "--drop", "x"], "--drop applies to --csv only"),
        (["train", "uplift", "--from-store", "--target", "visit"], "--target 'visit' is not one"),
        (["train", "uplift", "--from-store", "--window-days", "0"], "--window-days 0 must be"),
        (["train", "uplift", "--from-store", "--as-of", "2026-10-11"], "has no time zone"),
        (["train", "uplift", "--from-store", "--experiment", "99"], "--experiment 99 does not"),
        (
            ["train", "uplift", "--from-store", "--outcome", "continuous"],
            "the store's targets are binary",
        ),
        (
            ["train", "uplift", "--from-store", "--as-of", "2026-10-06T00:00:00+00:00"],
            "too little randomised data in experiment(s) [1]",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    simulated: SimulatedStore,
    store_env: Settings,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code = main([*args, "--bootstrap", "20"])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert captured.out == ""


def test_too_little_data_names_the_counts(simulated: SimulatedStore) -> None:
    engine = make_engine(simulated.settings.resolved_database_url())
    with (
        transaction(session_factory(engine)) as session,
        pytest.raises(
            InvalidInput, match=r"\d+ leads texted and \d+ held out .*at least 5000 of each"
        ),
    ):
        store_uplift_data(session, as_of=simulated.end, window_days=3, min_per_arm=5000)
    engine.dispose()


def test_a_store_without_a_holdout_is_refused(tmp_path: Path, settings: Settings) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    from optimizer.store.db import upgrade

    upgrade(engine)
    with (
        transaction(session_factory(engine)) as session,
        pytest.raises(InvalidInput, match="no experiment with a holdout"),
    ):
        store_uplift_data(session, as_of=T0, window_days=3)
    engine.dispose()


# -- serving and the batch --------------------------------------------------------------------


def _batch(settings: Settings, simulated: SimulatedStore, models: LoadedModels, capacity: int):
    engine = make_engine(settings.resolved_database_url())
    service = DecisionService(settings=settings, models=models, seed=3)
    with session_factory(engine)() as session:
        result = decide_batch(
            service,
            session,
            lead_ids=None,
            capacity=capacity,
            horizon_hours=72,
            experiment_id=simulated.experiment_id,
            template=None,
            now=simulated.end,
        )
    engine.dispose()
    return result


def test_the_batch_ranks_by_incremental_value_once_a_store_champion_exists(
    simulated: SimulatedStore, store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _batch(store_env, simulated, LoadedModels.load(store_env), capacity=40)
    assert before.ranking == EXPECTED_VALUE and before.uplift_version is None
    assert NEGATIVE_UPLIFT not in before.not_selected
    assert "uplift" not in before.model_versions
    _champion(simulated, capsys)
    models = LoadedModels.load(store_env)
    assert models.uplift is not None and not models.failures
    assert models.versions()["uplift"] == "uplift:1"
    after = _batch(store_env, simulated, models, capacity=40)
    assert after.ranking == EXPECTED_INCREMENTAL_VALUE and after.uplift_version == "uplift:1"
    assert after.model_versions["uplift"] == "uplift:1"
    values = [r.expected_value for r in after.logged]
    assert values == sorted(values, reverse=True)


class _Uplift:
    """An uplift scorer with a known answer: a text helps even lead ids, hurts odd ones."""

    version = "uplift:test"

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        ids = np.asarray(features.index, dtype=np.int64)
        return np.where(ids % 2 == 0, 0.10 + ids * 1e-5, -0.05)


def test_sleeping_dogs_are_not_texted_and_are_counted(
    simulated: SimulatedStore, store_env: Settings
) -> None:
    costs = store_env.model_copy(
        update={"text_cost": 0.02, "opt_out_cost": 1.0, "opt_out_prior_sends": 1e9}
    )
    base = LoadedModels.load(costs)
    models = LoadedModels(
        settings=costs, scorer=base.scorer, send_time=base.send_time, uplift=_Uplift()
    )
    result = _batch(costs, simulated, models, capacity=10_000)
    assert result.ranking == EXPECTED_INCREMENTAL_VALUE and result.uplift_version == "uplift:test"
    logged = [r.lead_id for r in result.logged]
    assert logged and all(i % 2 == 0 for i in logged)
    dogs = result.not_selected[NEGATIVE_UPLIFT]
    assert dogs > 0
    # Every lead is accounted for once: logged (sent, held out or held at decision) or counted.
    at_decision = sum(
        v
        for k, v in result.not_selected.items()
        if k.endswith(".at_decision") or k == "experiment.holdout"
    )
    assert result.considered == len(logged) + sum(result.not_selected.values()) - at_decision
    # Expected incremental value = uplift × deal value (1) − text − P(opt-out) × its cost; with
    # the prior's weight this large the opt-out probability is the prior, 1 %.
    for record in result.logged:
        expected = 0.10 + record.lead_id * 1e-5 - 0.02 - 0.01 * 1.0
        assert record.expected_value == pytest.approx(expected)
    # A cost above every gain: nobody is texted, every open lead is counted.
    dear = costs.model_copy(update={"text_cost": 1.0})
    models.settings = dear
    none = _batch(dear, simulated, models, capacity=10_000)
    assert none.logged == () and none.not_selected[NEGATIVE_UPLIFT] == dogs + len(logged)


def test_an_unloadable_uplift_champion_falls_back_to_the_response_ranking(
    simulated: SimulatedStore, store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _champion(simulated, capsys)
    client = client_for(store_env.resolved_mlflow_uri())
    source = client.get_model_version_download_uri("uplift", "1")
    root = Path(source.removeprefix("file://"))
    metas = sorted(root.rglob("uplift.json"))
    assert metas, source
    for meta in metas:
        meta.write_text("{not json")
    models = LoadedModels.load(store_env)
    assert models.uplift is None
    assert FALLBACK_UPLIFT in models.failures
    assert any(code == FALLBACK_UPLIFT for code, _ in models.fallback_reasons)
    result = _batch(store_env, simulated, models, capacity=20)
    assert result.ranking == EXPECTED_VALUE and result.uplift_version is None
    assert "uplift" not in result.model_versions


def test_the_batch_route_says_which_ranking(
    simulated: SimulatedStore,
    store_env: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The server writes (keys, decisions): a copy of the simulated store.
    copy = tmp_path / "served"
    shutil.copytree(simulated.settings.var_dir, copy)
    served = store_env.model_copy(update={"var_dir": copy, "database_url": ""})
    body = {
        "capacity": 25,
        "experiment_id": simulated.experiment_id,
        "as_of": simulated.end.isoformat(),
    }
    for server in serve(served):
        with server.client() as client:
            plain = client.post("/v1/next-best-action/batch", json=body)
    assert plain.status_code == 200, plain.text
    assert plain.json()["ranking"] == "expected_value"
    assert plain.json()["uplift_model_version"] is None
    _champion(simulated, capsys)
    for server in serve(served):
        with server.client() as client:
            ranked = client.post("/v1/next-best-action/batch", json=body)
    assert ranked.status_code == 200, ranked.text
    out = ranked.json()
    assert out["ranking"] == "expected_incremental_value"
    assert out["uplift_model_version"] == "uplift:1"
    assert out["model_versions"]["uplift"] == "uplift:1"


def test_opt_out_probability_is_shrunk_towards_the_prior() -> None:
    assert opt_out_probability([], prior_rate=0.01, prior_sends=200) == 0.01
    assert opt_out_probability([(1, 3)], prior_rate=0.01, prior_sends=200) == pytest.approx(3 / 203)
    assert opt_out_probability([(50, 1000), (50, 1000)], prior_rate=0.01, prior_sends=0) == 0.05
    assert opt_out_probability([(0, 0)], prior_rate=0.02, prior_sends=0) == 0.02
    with pytest.raises(InvalidInput, match="opt-out prior"):
        opt_out_probability([], prior_rate=1.5, prior_sends=10)


# -- targeting rules evaluated off-policy on the holdout -----------------------------------------


def _evaluate(simulated: SimulatedStore, policy: str, *extra: str) -> list[str]:
    return [
        "experiments",
        "evaluate-policy",
        "--log",
        "store",
        "--experiment",
        str(simulated.experiment_id),
        "--policy",
        policy,
        "--as-of",
        simulated.end.isoformat(),
        "--window-days",
        WINDOW,
        "--resamples",
        "300",
        "--model-resamples",
        "30",
        "--no-mlflow",
        *extra,
    ]


def test_targeting_rules_are_estimated_from_the_holdout_and_recorded(
    simulated: SimulatedStore, store_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from optimizer.store.policy_evaluations import latest_evaluations

    engine = make_engine(simulated.settings.resolved_database_url())
    with transaction(session_factory(engine)) as session:
        sample = store_uplift_data(session, as_of=simulated.end, window_days=int(WINDOW))
    texted = sample.treatment == 1
    assert sample.propensity is not None
    results = {}
    for policy in ("target:all", "target:none", "target:band=hot,warm", "target:score>=0.2"):
        code = main(_evaluate(simulated, policy))
        captured = capsys.readouterr()
        assert code == 0, captured.err
        results[policy] = _last_json(captured.out)
    every = results["target:all"]
    assert every["rows"] == len(sample.y) and every["held_out"] == int((~texted).sum())
    assert every["candidate"] == {"hold": 0.0, "text": 1.0}
    # IPW of "text everyone", by hand: the texted leads' outcomes over their propensity.
    by_hand = float(np.mean(sample.y * texted / sample.propensity))
    assert every["estimates"]["ipw"]["value"] == pytest.approx(by_hand)
    truth = float(sample.y[texted].mean())  # everyone texted: the texted arm's rate
    for name in ("snipw", "dr"):
        e = every["estimates"][name]
        assert e["ci_low"] <= truth <= e["ci_high"], name
    # In this world a lead that gets no text never replies: holding everyone is worth 0, and
    # texting everyone beats the logged half-and-half.
    assert results["target:none"]["estimates"]["snipw"]["value"] == pytest.approx(0.0)
    assert every["estimates"]["dr"]["ci_low"] > every["current"]["value"]
    for policy in ("target:band=hot,warm", "target:score>=0.2"):
        share = results[policy]["candidate"]["text"]
        assert 0.0 <= share <= 1.0
        assert results[policy]["estimates"]["dr"]["value"] <= every["estimates"]["dr"]["ci_high"]
    with transaction(session_factory(engine)) as session:
        stored = latest_evaluations(session, simulated.experiment_id, limit=10)
    engine.dispose()
    assert {e.policy for e in stored} >= set(results)
    assert all(e.metric == "reply" for e in stored if e.policy.startswith("target:"))


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("target:score>=2", "target:score>=P (P from 0 to 1)"),
        ("target:score>=nan", "target:score>=P (P from 0 to 1)"),
        ("target:band=lukewarm", "B one of hot, warm, cold"),
        ("target:some", "is not target:all"),
    ],
)
def test_a_bad_targeting_rule_is_one_line_and_exit_2(
    simulated: SimulatedStore,
    store_env: Settings,
    capsys: pytest.CaptureFixture[str],
    policy: str,
    message: str,
) -> None:
    code = main(_evaluate(simulated, policy))
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_targeting_rule_reads_the_logged_score() -> None:
    from optimizer.ope.targeting import targeting_texts

    probability = [0.9, 0.1, None, float("nan"), 0.5]
    band = ["hot", "cold", None, "warm", "warm"]
    assert targeting_texts("target:score>=0.5", probability, band).tolist() == [
        True,
        False,
        False,
        False,
        True,
    ]
    assert targeting_texts("target:band=warm", probability, band).tolist() == [
        False,
        False,
        False,
        True,
        True,
    ]
    assert targeting_texts("target:all", probability, band).all()
    assert not targeting_texts("target:none", probability, band).any()
    with pytest.raises(InvalidInput, match="differ in length"):
        targeting_texts("target:all", [0.1], [])
