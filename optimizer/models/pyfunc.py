"""The lead-score model as an MLflow pyfunc (for ``mlflow.pyfunc.load_model`` and model serving).

The files are the same ones :class:`optimizer.models.serving.LeadScorer` reads directly (faster:
no pyfunc layer); ``predict`` returns the calibrated probability of conversion per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from optimizer.models.lead_score import LeadScoreModel

ARTIFACT_KEY = "lead_score"


class LeadScorePyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        self._model = LeadScoreModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self._model.predict_frame(model_input)


UPLIFT_ARTIFACT_KEY = "uplift"


class UpliftPyfunc(PythonModel):
    """``predict`` returns the estimated uplift per row (the outcome's units)."""

    def load_context(self, context: Any) -> None:
        from optimizer.models.uplift import UpliftModel

        self._model = UpliftModel.load(Path(context.artifacts[UPLIFT_ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self._model.predict(self._model.spec.encode(model_input))
