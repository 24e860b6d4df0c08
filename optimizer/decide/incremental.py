"""Expected incremental value of texting a lead, for ranking a batch when an uplift champion
exists: ``uplift × deal_value − cost of a text − P(opt-out | text) × value lost per opt-out``.

The uplift is the champion's estimate of what a text adds to the probability of its target
(a reply or a conversion within its window, learned from the service's randomised holdouts);
``deal_value`` is read as the value of one such outcome (the lead's ``deal_value`` attribute,
else 1). The opt-out probability is not modelled per lead: it is the experiment's pooled
opt-outs per send (the arms' statistics the guardrail reads), shrunk towards the store-wide
prior ``opt_out_prior_rate`` with the weight of ``opt_out_prior_sends`` sends, so that a young
experiment with three sends and one STOP does not price every text at a 33 % opt-out risk.
A lead whose incremental value is negative (a "sleeping dog", or a text that costs more than it
adds) is not texted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from optimizer.errors import InvalidInput

EXPECTED_VALUE = "expected_value"
EXPECTED_INCREMENTAL_VALUE = "expected_incremental_value"
NEGATIVE_UPLIFT = "hold.negative_uplift"


def opt_out_probability(
    arm_counts: Iterable[tuple[int, int]], *, prior_rate: float, prior_sends: float
) -> float:
    """Pooled (opt-outs, sends) of the arms, shrunk towards ``prior_rate``.

    >>> opt_out_probability([(1, 3)], prior_rate=0.01, prior_sends=200)
    0.0147...
    """
    if not (0.0 <= prior_rate <= 1.0 and prior_sends >= 0 and math.isfinite(prior_sends)):
        raise InvalidInput(
            f"opt-out prior rate {prior_rate!r} / sends {prior_sends!r}: a rate in [0, 1] and "
            "a finite number of sends >= 0 expected"
        )
    opt_outs = sends = 0
    for o, s in arm_counts:
        opt_outs += max(int(o), 0)
        sends += max(int(s), 0)
    opt_outs = min(opt_outs, sends)
    if sends + prior_sends == 0:
        return prior_rate
    return (opt_outs + prior_rate * prior_sends) / (sends + prior_sends)


def incremental_value(
    uplift: np.ndarray,
    deal_value: np.ndarray,
    *,
    text_cost: float,
    opt_out_probability: float,
    opt_out_cost: float,
) -> np.ndarray:
    """Per lead: ``uplift × deal_value − text_cost − opt_out_probability × opt_out_cost``."""
    uplift = np.asarray(uplift, dtype=np.float64)
    deal_value = np.asarray(deal_value, dtype=np.float64)
    if uplift.shape != deal_value.shape:
        raise InvalidInput(f"{uplift.shape} uplifts but {deal_value.shape} deal values")
    if not np.isfinite(uplift).all():
        raise InvalidInput("uplift estimates must be finite numbers")
    return uplift * deal_value - text_cost - opt_out_probability * opt_out_cost
