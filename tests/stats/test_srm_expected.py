"""Sample-ratio check against the sum of logged choice probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as sps

from optimizer.stats.srm import srm_against_expected


def test_matches_scipy_chisquare() -> None:
    sends, expected = [510, 290, 200], [500.0, 300.0, 200.0]
    result = srm_against_expected(sends, expected)
    reference = sps.chisquare(np.array(sends, float), np.array(expected))
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.mismatch is False
    assert result.method == "choice_probabilities"


def test_eligibility_varies_by_decision() -> None:
    # 600 decisions could choose among 3 arms, 400 only the first: a fair policy's sends
    # follow the summed probabilities, not an even split.
    rng = np.random.default_rng(3)
    per_decision = [np.array([1 / 3, 1 / 3, 1 / 3])] * 600 + [np.array([1.0, 0.0, 0.0])] * 400
    chosen = [int(rng.choice(3, p=p)) for p in per_decision]
    sends = np.bincount(chosen, minlength=3)
    expected = np.sum(per_decision, axis=0)
    assert srm_against_expected(list(sends), list(expected)).mismatch is False
    # Against an even split the same traffic looks like a broken assignment.
    even = sps.chisquare(sends.astype(float), np.full(3, sends.sum() / 3)).pvalue
    assert even < 0.001


def test_sends_to_an_arm_that_could_not_be_chosen() -> None:
    result = srm_against_expected([10, 5], [15.0, 0.0])
    assert result.mismatch is True


def test_no_data_is_a_result_not_an_error() -> None:
    result = srm_against_expected([0, 0], [0.0, 0.0])
    assert result.p_value is None and result.mismatch is False
