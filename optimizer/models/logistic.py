"""Logistic-regression baseline on the same encoded matrix as the LightGBM model.

Numeric columns: median imputation + standardisation; categorical codes: one-hot (missing and
"other" become their own levels).
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from optimizer.models.encoding import FeatureSpec


def _fill(matrix: np.ndarray, categorical: list[int]) -> np.ndarray:
    if not categorical:
        return matrix
    out = matrix.copy()
    block = out[:, categorical]
    block[np.isnan(block)] = -1.0
    out[:, categorical] = block
    return out


class LogisticBaseline:
    def __init__(self, spec: FeatureSpec, *, seed: int = 0) -> None:
        self.categorical = list(spec.categorical_indices)
        numeric = [i for i in range(len(spec.columns)) if i not in set(self.categorical)]
        transformer = ColumnTransformer(
            [
                (
                    "num",
                    make_pipeline(
                        SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
                    ),
                    numeric,
                ),
                ("cat", OneHotEncoder(handle_unknown="ignore"), self.categorical),
            ],
            sparse_threshold=0.3,
        )
        self.pipeline: Pipeline = make_pipeline(
            transformer, LogisticRegression(max_iter=2000, random_state=seed)
        )

    def fit(
        self, matrix: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
    ) -> LogisticBaseline:
        extra = {} if weight is None else {"logisticregression__sample_weight": weight}
        self.pipeline.fit(_fill(matrix, self.categorical), y, **extra)
        return self

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(_fill(matrix, self.categorical))[:, 1])
