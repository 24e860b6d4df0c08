"""The statistics package against independent computations and known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from optimizer.errors import InvalidInput
from optimizer.stats import (
    ArmSummary,
    analyze,
    anova_p_value,
    ipw_estimates,
    sample_size_per_arm,
    srm_against_propensities,
    srm_against_weights,
)
from optimizer.stats.intervals import wilson_interval

A = ArmSummary("A", 10_000, 1_000)
B = ArmSummary("B", 10_000, 1_100)


def test_known_case_agrees_with_scipy_and_a_direct_beta_monte_carlo() -> None:
    result = analyze([A, B], seed=1)
    expected_p = sps.chi2_contingency([[1000, 9000], [1100, 8900]], correction=False).pvalue
    assert result.p_value == pytest.approx(expected_p, rel=1e-9)
    rng = np.random.default_rng(12345)
    a = rng.beta(1 + 1000, 1 + 9000, 400_000)
    b = rng.beta(1 + 1100, 1 + 8900, 400_000)
    by_arm = {arm.name: arm for arm in result.arms}
    assert by_arm["B"].prob_best == pytest.approx((b > a).mean(), abs=0.003)
    assert by_arm["A"].expected_loss == pytest.approx(np.maximum(b - a, 0).mean(), rel=0.02)
    assert by_arm["B"].lift == pytest.approx(0.1)
    assert by_arm["B"].lift_ci_low < 0.1 < by_arm["B"].lift_ci_high  # type: ignore[operator]
    assert by_arm["B"].p_value_vs_control == pytest.approx(expected_p, rel=1e-9)
    assert result.srm_p_value == pytest.approx(1.0)
    assert result.verdict.status == "ship" and result.verdict.winner == "B"
    assert result.verdict.message.startswith("Variant B is 99% likely to be best")


def test_wilson_interval_matches_scipy() -> None:
    expected = sps.binomtest(1000, 10_000).proportion_ci(0.95, method="wilson")
    assert wilson_interval(1000, 10_000) == pytest.approx((expected.low, expected.high))


def test_sample_size_known_value() -> None:
    # 10% -> 11%, alpha 0.05 two-sided, power 0.8: the textbook figure is 14,751 per arm.
    assert sample_size_per_arm(0.10, 0.01).per_arm == 14_751
    assert sample_size_per_arm(0.10, 0.10, relative=True).per_arm == 14_751
    assert sample_size_per_arm(0.10, 0.01, arms=3).per_arm > 14_751


def test_srm_against_weights_and_propensities() -> None:
    assert srm_against_weights([10_000, 9_000], [0.5, 0.5]).mismatch
    assert not srm_against_weights([7_030, 2_970], [0.7, 0.3]).mismatch
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.2, 0.8, 20_000)
    chose_a = rng.random(true_p.size) < true_p
    sends = [int(chose_a.sum()), int((~chose_a).sum())]
    honest = [float((1 / true_p[chose_a]).sum()), float((1 / (1 - true_p[~chose_a])).sum())]
    honest_sq = [
        float((1 / true_p[chose_a] ** 2).sum()),
        float((1 / (1 - true_p[~chose_a]) ** 2).sum()),
    ]
    assert not srm_against_propensities(sends, honest, honest_sq).mismatch
    assert not srm_against_propensities(sends, honest).mismatch
    logged = np.clip(true_p + 0.1, 0.05, 0.95)  # the log overstates arm A's propensity
    biased = [float((1 / logged[chose_a]).sum()), float((1 / (1 - logged[~chose_a])).sum())]
    assert srm_against_propensities(sends, biased).mismatch


def test_ipw_removes_the_bias_of_adaptive_allocation() -> None:
    rng = np.random.default_rng(2)
    n = 30_000
    context = rng.random(n) < 0.5  # the policy sends arm 1 mostly when rewards are high
    p_arm1 = np.where(context, 0.9, 0.1)
    arm = (rng.random(n) < p_arm1).astype(int)
    base = np.where(context, 0.3, 0.1)
    reward = (rng.random(n) < base + 0.05 * arm).astype(float)
    propensity = np.where(arm == 1, p_arm1, 1 - p_arm1)
    naive = reward[arm == 1].mean() - reward[arm == 0].mean()
    estimates = ipw_estimates(["A", "B"], arm, propensity, reward, control=0)
    assert naive > 0.15  # confounded
    assert estimates[1].effect == pytest.approx(0.05, abs=0.02)
    assert estimates[1].effect_ci_low < 0.05 < estimates[1].effect_ci_high  # type: ignore[operator]


def test_continuous_metric_p_value_matches_scipy_anova() -> None:
    rng = np.random.default_rng(4)
    samples = [rng.exponential(scale, 400) for scale in (1.0, 1.1, 1.4)]
    arms = [
        ArmSummary(name, s.size, int((s > 0).sum()), float(s.sum()), float((s * s).sum()))
        for name, s in zip("ABC", samples, strict=True)
    ]
    assert anova_p_value(arms) == pytest.approx(sps.f_oneway(*samples).pvalue, rel=1e-6)
    result = analyze(arms, metric="continuous", label="revenue per send", seed=0)
    assert result.arms[2].rate == pytest.approx(samples[2].mean())
    assert result.arms[2].prob_best > 0.9


@pytest.mark.parametrize(
    ("arms", "status", "fragment"),
    [
        ([ArmSummary("A", 40, 4), ArmSummary("B", 40, 6)], "not_enough_data", "80 sends so far"),
        ([ArmSummary("A", 500, 0), ArmSummary("B", 500, 0)], "not_enough_data", "no variant"),
        ([ArmSummary("A", 0, 0), ArmSummary("B", 0, 0)], "not_enough_data", "0 sends"),
        (
            [ArmSummary("A", 2_000_000, 200_000), ArmSummary("B", 2_000_000, 200_100)],
            "no_difference",
            "No meaningful difference",
        ),
        ([ArmSummary("A", 1000, 100), ArmSummary("B", 1000, 110)], "keep_running", "more sends"),
        ([ArmSummary("A", 12_000, 1200), ArmSummary("B", 8_000, 800)], "srm", "mismatch"),
    ],
)
def test_verdicts(arms: list[ArmSummary], status: str, fragment: str) -> None:
    verdict = analyze(arms, seed=0).verdict
    assert verdict.status == status
    assert fragment in verdict.message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ArmSummary("A", -1, 0), "sends -1 is negative"),
        (lambda: ArmSummary("A", 10, -1), "successes -1 is negative"),
        (lambda: ArmSummary("A", 10, 11), "successes 11 exceed sends 10"),
        (lambda: analyze([A]), "1 arm.* at least 2"),
        (lambda: analyze([A, A]), "A given twice"),
        (lambda: analyze([A, B], control="C"), "control 'C'"),
        (lambda: analyze([A, B], weights=[0.6, 0.6]), "sum to 1.2"),
        (lambda: analyze([A, B], weights=[1.0]), "1 given for 2 arms"),
        (lambda: analyze([A, B], metric="ratio"), "metric 'ratio'"),
        (lambda: sample_size_per_arm(0, 0.01), "baseline rate 0"),
        (lambda: sample_size_per_arm(0.1, -0.01), "effect -0.01"),
        (lambda: sample_size_per_arm(0.95, 0.1), "must stay below 1"),
        (lambda: sample_size_per_arm(0.1, 0.01, power=1.0), "power 1.0"),
    ],
)
def test_bad_input_names_the_value(call: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()  # type: ignore[operator]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5000), st.floats(0, 1)), min_size=2, max_size=5),
    st.integers(0, 1000),
)
def test_invariants(raw: list[tuple[int, float]], seed: int) -> None:
    arms = [ArmSummary(f"v{i}", n, int(n * share)) for i, (n, share) in enumerate(raw)]
    result = analyze(arms, seed=seed, draws=2000)
    assert sum(arm.prob_best for arm in result.arms) == pytest.approx(1.0)
    for arm in result.arms:
        assert arm.expected_loss >= 0
        assert arm.ci_low - 1e-12 <= arm.rate <= arm.ci_high + 1e-12
    assert result.verdict.message
