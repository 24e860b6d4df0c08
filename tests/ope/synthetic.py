"""A synthetic bandit whose evaluation-policy value is known in closed form.

Contexts are ``K`` discrete types with known probabilities ``p(x)``; the click probability of
action ``a`` for type ``x`` is ``q(x, a)``; logging and evaluation policies are per-type tables.
Then ``V(π) = Σ_x p(x) Σ_a π(a|x) q(x, a)`` exactly. The context vector is the type's one-hot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.ope import BanditFeedback


@dataclass(frozen=True)
class World:
    p_type: np.ndarray  # (K,)
    q: np.ndarray  # (K, A)
    logging: np.ndarray  # (K, A)
    target: np.ndarray  # (K, A)

    def value(self, policy: np.ndarray) -> float:
        return float((self.p_type[:, None] * policy * self.q).sum())

    @property
    def true_value(self) -> float:
        return self.value(self.target)

    def sample(self, n: int, seed: int, *, target_as_logging: bool = False) -> BanditFeedback:
        rng = np.random.default_rng(seed)
        kinds = rng.choice(self.p_type.size, size=n, p=self.p_type)
        logging = self.target if target_as_logging else self.logging
        cumulative = logging[kinds].cumsum(axis=1)
        action = (rng.random(n)[:, None] > cumulative).sum(axis=1)
        action = np.minimum(action, self.q.shape[1] - 1)
        reward = (rng.random(n) < self.q[kinds, action]).astype(float)
        return BanditFeedback(
            context=np.eye(self.p_type.size)[kinds],
            action=action,
            reward=reward,
            pscore=logging[kinds, action],
            action_dist=self.target[kinds],
        )


def make_world(seed: int = 7, kinds: int = 4, actions: int = 3) -> World:
    rng = np.random.default_rng(seed)
    p_type = rng.dirichlet(np.full(kinds, 3.0))
    q = rng.uniform(0.05, 0.6, size=(kinds, actions))
    # Logging: every action possible (min 0.1), skewed; evaluation: favours the best action.
    logging = 0.1 + (1 - 0.1 * actions) * rng.dirichlet(np.ones(actions), size=kinds)
    target = np.full((kinds, actions), 0.1 / (actions - 1))
    target[np.arange(kinds), q.argmax(axis=1)] = 0.9
    return World(p_type=p_type, q=q, logging=logging, target=target)
