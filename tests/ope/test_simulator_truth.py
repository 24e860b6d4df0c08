"""Off-policy estimates checked against the simulator's known truth (a small world, fixed
seeds): the exact value agrees with a run of the candidate, and the estimators from the
logging policy's log land near it (experiments.ope_simulator at full size)."""

from __future__ import annotations

import numpy as np

from experiments.ope_simulator import (
    CANDIDATES,
    START,
    first_texts,
    reply_probability,
    run_policy,
)
from optimizer.ope.benchmark import evaluate_policy
from optimizer.ope.data import BanditFeedback
from optimizer.ope.reward_model import RewardModelSpec
from optimizer.simulation.config import SimConfig
from optimizer.simulation.world import World


def test_estimates_from_a_uniform_log_find_the_candidates_true_value() -> None:
    config = SimConfig(seed=4, history_leads=0)
    world = World.create(config, start=START, days=30, arrivals=4000)
    names = [v.name for v in config.variants]
    texts = first_texts(world)
    assert len(texts.lead) > 2000
    truth = reply_probability(world, texts, names)
    assert ((truth > 0) & (truth < 1)).all()
    logging = np.full((len(texts.lead), len(names)), 1 / len(names))
    action, reward = run_policy(world, texts, names, logging, [4, 1])
    for make in CANDIDATES.values():
        dist = make(texts, len(names))
        exact = float((dist * truth).sum(axis=1).mean())
        simulated = np.mean(
            [run_policy(world, texts, names, dist, [4, 100 + r])[1].mean() for r in range(10)]
        )
        assert abs(simulated - exact) / exact < 0.03
        evaluation = evaluate_policy(
            BanditFeedback(
                context=texts.context,
                action=action,
                reward=reward,
                pscore=np.full(len(action), 1 / len(names)),
                action_dist=dist,
            ),
            estimators=("ipw", "snipw", "dr"),
            spec=RewardModelSpec(seed=4),
            seed=4,
            resamples=100,
        ).by_name()
        for name in ("snipw", "dr"):
            assert abs(evaluation[name].value - exact) / exact < 0.12, (name, exact)
    # The candidate beats the logging policy: the estimate is not the logged average.
    personal = CANDIDATES["mostly-personal (0.1/0.8/0.1)"](texts, len(names))
    assert float((personal * truth).sum(axis=1).mean()) > float(reward.mean())
