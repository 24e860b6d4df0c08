"""Off-policy evaluation on the Open Bandit Dataset men sample (skipped without the data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments import ope_obd
from optimizer.ope.obd import read_obd_log
from optimizer.ope.policies import bernoulli_ts_action_dist, load_bts_prior


@pytest.fixture(scope="module")
def obd(data_dir: Path) -> Path:
    folder = data_dir / "obd-men"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def test_logs_read_as_obp_reads_them(obd: Path):
    random = read_obd_log(obd / "random-men.csv.gz")
    bts = read_obd_log(obd / "bts-men.csv.gz")
    assert (random.n_rounds, random.n_actions, random.len_list) == (10_000, 34, 3)
    assert np.allclose(random.pscore, 1 / 34)
    assert sorted(np.unique(random.position)) == [0, 1, 2]
    assert random.reward.mean() == pytest.approx(0.0046)
    assert bts.reward.mean() == pytest.approx(0.0069)
    # One-hot user features, first level dropped: 3+5+9+8 levels − 4.
    assert random.context.shape == (10_000, 21)


def test_bts_distribution_resembles_the_bts_log(obd: Path):
    prior = load_bts_prior(obd / "prior_bts.yaml", "men")
    dist = bernoulli_ts_action_dist(prior, len_list=3, n_sim=100_000, seed=12345)
    np.testing.assert_allclose(dist.sum(axis=0), 1.0)
    bts = read_obd_log(obd / "bts-men.csv.gz")
    shown = np.zeros((34, 3))
    np.add.at(shown, (bts.action, bts.position), 1)
    shown /= shown.sum(axis=0)
    # The prior is the men campaign's: what BTS showed follows it (r ≈ 0.83 measured).
    assert np.corrcoef(shown.ravel(), dist.ravel())[0, 1] > 0.75


def test_experiment_estimates_bts_from_the_random_log(obd: Path, capsys):
    code = ope_obd.main(
        ["--data-dir", str(obd.parent), "--runs", "3", "--n-sim", "100000", "--resamples", "300"]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    payload = json.loads(lines[-1])
    assert payload["on_policy_value"] == pytest.approx(0.0069)
    assert payload["runs"] == 3 and payload["rows"] == 10_000
    assert set(payload["estimates"]) == {"ipw", "snipw", "dm", "dr", "switch-dr", "dr-os"}
    assert payload["obp_published_all"]["dr-os"] == pytest.approx(0.16, abs=0.001)
    truth = payload["on_policy_value"]
    for name, entry in payload["estimates"].items():
        assert 0 <= entry["relative_error_mean"] < 1, name
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], name
    # The weighted estimators' intervals cover BTS's on-policy click rate.
    for name in ("ipw", "snipw", "dr"):
        entry = payload["estimates"][name]
        assert entry["ci_low"] <= truth <= entry["ci_high"], name
    weights = payload["weights"]
    assert 0 < weights["ess_share"] < 1 and weights["max_weight"] > 1
    assert any("OBP (all)" in line for line in lines)
