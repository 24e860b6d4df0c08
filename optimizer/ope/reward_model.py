"""The reward model ``q̂(x, a)`` of the direct method and the doubly robust estimators.

A binary classifier of the reward on (context, action[, position]), cross-fitted: the rows are
split into ``folds`` folds, and each fold's ``q̂`` for every action comes from a model trained
on the other folds, so a row's own reward never enters its prediction (the overfitting bias of
DR that cross-fitting removes; Chernozhukov et al., 2018; OBP's ``RegressionModel.fit_predict``
with ``n_folds``). Features: the context, the action one-hot (or the action's own features) and
the position one-hot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from optimizer.errors import InvalidInput
from optimizer.ope.data import BanditFeedback

MODELS = ("logistic", "lightgbm")


@dataclass(frozen=True)
class RewardModelSpec:
    """Which classifier and how it is cross-fitted. ``seed`` fixes the folds and the model."""

    model: str = "logistic"
    folds: int = 3
    seed: int = 0
    # Logistic regression: OBP's OBD example uses C=100, max_iter=10000.
    c: float = 100.0
    # LightGBM.
    n_estimators: int = 100
    learning_rate: float = 0.05
    num_leaves: int = 15

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InvalidInput(
                f"reward model {self.model!r} is not one of {', '.join(MODELS)}", field="model"
            )
        if self.folds < 2:
            raise InvalidInput(f"folds {self.folds}: cross-fitting needs at least 2", field="folds")


def _classifier(spec: RewardModelSpec) -> Any:
    if spec.model == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=spec.c, max_iter=10_000, random_state=spec.seed)
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=spec.n_estimators,
        learning_rate=spec.learning_rate,
        num_leaves=spec.num_leaves,
        min_child_samples=10,
        random_state=spec.seed,
        n_jobs=1,
        verbose=-1,
    )


def design(
    context: np.ndarray,
    action: np.ndarray,
    position: np.ndarray | None,
    n_actions: int,
    n_positions: int,
    action_context: np.ndarray | None = None,
) -> np.ndarray:
    """Feature rows ``[x, action features, position one-hot]``."""
    n = context.shape[0]
    if action_context is None:
        action_part = np.zeros((n, n_actions))
        action_part[np.arange(n), action] = 1.0
    else:
        action_part = action_context[action]
    parts = [context, action_part]
    if position is not None and n_positions > 1:
        pos_part = np.zeros((n, n_positions))
        pos_part[np.arange(n), position] = 1.0
        parts.append(pos_part)
    return np.hstack(parts)


def _predict_all(
    fitted: Any,
    constant: float | None,
    feedback: BanditFeedback,
    rows: np.ndarray,
    action_context: np.ndarray | None,
) -> np.ndarray:
    n_actions = feedback.n_actions
    out = np.empty((rows.shape[0], n_actions))
    if constant is not None:
        out[:] = constant
        return out
    position = None if feedback.position is None else feedback.position[rows]
    coef = getattr(fitted, "coef_", None)
    if coef is not None and (position is None or feedback.n_positions <= 1):
        # A logistic model is linear in [x, action features]: every action's logit at once
        # (the same figures as predict_proba on each action's rows, without n_actions calls).
        width = feedback.context.shape[1]
        w = np.asarray(coef, dtype=float).reshape(-1)
        actions = np.eye(n_actions) if action_context is None else action_context
        logit = (
            feedback.context[rows] @ w[:width] + float(np.asarray(fitted.intercept_).reshape(-1)[0])
        )[:, None] + (actions @ w[width:])[None, :]
        out[:] = 1.0 / (1.0 + np.exp(-logit))
        return out
    for a in range(n_actions):
        x = design(
            feedback.context[rows],
            np.full(rows.shape[0], a),
            position,
            n_actions,
            feedback.n_positions,
            action_context,
        )
        out[:, a] = fitted.predict_proba(x)[:, 1]
    return out


def cross_fitted_rewards(
    feedback: BanditFeedback,
    spec: RewardModelSpec,
    action_context: np.ndarray | None = None,
) -> np.ndarray:
    """``q̂[i, a]``, (n, n_actions): each row's predicted reward for every action (at the row's
    position), from a classifier fitted on the other folds. Rewards must be 0 or 1."""
    reward = feedback.reward
    if not np.isin(reward, (0.0, 1.0)).all():
        i = int(np.argmax(~np.isin(reward, (0.0, 1.0))))
        raise InvalidInput(
            f"reward[{i}] = {float(reward[i])!r}: the reward classifier needs 0/1 rewards",
            field="reward",
        )
    if feedback.n_rounds < spec.folds:
        raise InvalidInput(
            f"{feedback.n_rounds} rows: fewer than the {spec.folds} folds", field="folds"
        )
    if action_context is not None and action_context.shape[0] != feedback.n_actions:
        raise InvalidInput(
            f"action_context has {action_context.shape[0]} rows for {feedback.n_actions} actions",
            field="action_context",
        )
    q_hat = np.empty((feedback.n_rounds, feedback.n_actions))
    splitter = KFold(n_splits=spec.folds, shuffle=True, random_state=spec.seed)
    for train, test in splitter.split(feedback.context):
        y = reward[train]
        constant: float | None = None
        fitted = None
        if np.unique(y).size < 2:
            # A fold with one class only: the best classifier is the constant rate.
            constant = float(y.mean())
        else:
            x = design(
                feedback.context[train],
                feedback.action[train],
                None if feedback.position is None else feedback.position[train],
                feedback.n_actions,
                feedback.n_positions,
                action_context,
            )
            fitted = _classifier(spec).fit(x, y.astype(int))
        q_hat[test] = _predict_all(fitted, constant, feedback, test, action_context)
    return q_hat
