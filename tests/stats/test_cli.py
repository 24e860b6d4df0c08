"""``optimizer stats ab`` and ``optimizer stats sample-size``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from optimizer.cli import main


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    out = capsys.readouterr().out
    return json.loads(out.strip().splitlines()[-1])


def test_stats_ab_known_case(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stats", "ab", "--arm", "A:10000:1000", "--arm", "B:10000:1100", "--seed", "3"])
    assert code == 0
    payload = _last_json(capsys)
    chi2 = sps.chi2_contingency([[1000, 9000], [1100, 8900]], correction=False)
    assert payload["p_value"] == pytest.approx(chi2.pvalue, rel=1e-9)
    rng = np.random.default_rng(2024)
    a = rng.beta(1001, 9001, 300_000)
    b = rng.beta(1101, 8901, 300_000)
    assert payload["arms"]["B"]["prob_best"] == pytest.approx((b > a).mean(), abs=0.003)
    assert payload["arms"]["A"]["expected_loss"] == pytest.approx(
        np.maximum(b - a, 0).mean(), rel=0.02
    )
    for key in ("rate", "ci_low", "ci_high", "prob_best", "expected_loss", "lift"):
        assert key in payload["arms"]["A"]
    assert payload["arms"]["B"]["lift"] == pytest.approx(0.1)
    assert payload["srm_p_value"] == pytest.approx(1.0)
    assert payload["verdict"].startswith("Variant B is 99% likely to be best")


def test_stats_ab_weights_control_and_not_enough_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "stats",
                "ab",
                "--arm",
                "A:7000:700",
                "--arm",
                "B:3000:330",
                "--weights",
                "0.7,0.3",
                "--control",
                "B",
            ]
        )
        == 0
    )
    payload = _last_json(capsys)
    assert payload["control"] == "B" and payload["arms"]["B"]["lift"] is None
    assert payload["srm_p_value"] > 0.5
    assert main(["stats", "ab", "--arm", "A:20:2", "--arm", "B:20:3"]) == 0
    payload = _last_json(capsys)
    assert payload["verdict_status"] == "not_enough_data"
    assert payload["verdict"].startswith("Not enough data yet")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arm", "A:100:10"], "at least 2 expected"),
        (["--arm", "A:100:10", "--arm", "B:-5:1"], "sends -5 is negative"),
        (["--arm", "A:100:10", "--arm", "B:10:11"], "successes 11 exceed sends 10"),
        (["--arm", "A:100:10", "--arm", "B:10"], "expected NAME:SENDS:SUCCESSES"),
        (["--arm", "A:100:10", "--arm", "B:ten:1"], "whole numbers"),
        (["--arm", "A:100:10", "--arm", "B:10:1", "--weights", "0.5,0.6"], "sum to 1.1"),
        (["--arm", "A:100:10", "--arm", "B:10:1", "--weights", "half,half"], "comma-separated"),
        (["--arm", "A:100:10", "--arm", "B:10:1", "--control", "Z"], "control 'Z'"),
    ],
)
def test_stats_ab_bad_input(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "ab", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_sample_size_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "sample-size", "--baseline", "0.1", "--mde", "0.01"]) == 0
    assert _last_json(capsys)["per_arm"] == 14_751
    assert main(["stats", "sample-size", "--baseline", "1.5", "--mde", "0.01"]) == 2
    assert "baseline rate 1.5" in capsys.readouterr().err
