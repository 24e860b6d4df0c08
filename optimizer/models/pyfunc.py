"""The models as MLflow pyfuncs, logged from code (for ``mlflow.pyfunc.load_model`` and
``mlflow models serve``), never as pickled objects.

Each model is logged with MLflow 3's "models from code": ``python_model`` is the path of a file in
:mod:`optimizer.models.model_code` that builds the model and calls ``mlflow.models.set_model``;
its saved files (the same ones the service reads directly) are the pyfunc's ``artifacts``. The
``optimizer`` package itself goes into the logged model as ``code_paths`` (MLflow puts it on
``sys.path`` before it runs the model's code), so a logged model loads where this project is not
installed; ``pip_requirements`` pin the installed version of every distribution the model's code
imports (:func:`pinned`; ``tests/training/test_model_logging.py`` checks the lists are complete).

- lead score: input = the lead's feature columns; output = ``probability`` (calibrated),
  ``score`` (0-100), ``segment`` (hot / warm / cold) and ``reasons`` (the top three features'
  log-odds contributions, as JSON), i.e. what :class:`optimizer.models.serving.LeadScorer` gives.
- send time: input = lead feature columns plus ``slot_utc`` and ``time_zone``; output = the
  response probability per row.
- uplift: output = the estimated uplift per row (the outcome's units).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from optimizer.models.lead_score import LeadScoreModel, top_reasons

if TYPE_CHECKING:
    from optimizer.models.send_time import SendTimeModel

ARTIFACT_KEY = "lead_score"
UPLIFT_ARTIFACT_KEY = "uplift"
MODEL_CODE_DIR = Path(__file__).resolve().with_name("model_code")
LEAD_SCORE_CODE = MODEL_CODE_DIR / "lead_score.py"
SEND_TIME_CODE = MODEL_CODE_DIR / "send_time.py"
UPLIFT_CODE = MODEL_CODE_DIR / "uplift.py"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the ``optimizer`` package

# Distributions each model's code imports (directly, or through the optimizer modules it loads).
LEAD_SCORE_REQUIREMENTS = ("mlflow", "lightgbm", "numpy", "pandas", "pyarrow", "scikit-learn")
SEND_TIME_REQUIREMENTS = (
    "mlflow",
    "lightgbm",
    "numpy",
    "pandas",
    "filelock",
    "holidays",
    "phonenumbers",
    "pyarrow",
    "pydantic",
    "pydantic-settings",
    "scikit-learn",
    "sqlalchemy",
    "threadpoolctl",
)
UPLIFT_REQUIREMENTS = ("mlflow", "lightgbm", "numpy", "pandas", "pyarrow")
BOOSTER_REQUIREMENTS = ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn")
TOP_REASONS = 3


def pinned(distributions: tuple[str, ...]) -> list[str]:
    """``name==version`` of each installed distribution (the versions the model was built with)."""
    return [f"{name}=={metadata.version(name)}" for name in distributions]


def code_paths() -> list[str]:
    """The package directory, copied into a logged model so that it loads without the package."""
    return [str(PACKAGE_DIR)]


def lead_score_output(model: LeadScoreModel, frame: pd.DataFrame) -> pd.DataFrame:
    """The lead-score pyfunc's answer for ``frame`` (one row per input row)."""
    matrix = model.spec.encode(frame)
    probability = model.probability(matrix)
    score = 100.0 * probability
    _, contrib, names = model.explained(matrix)
    reasons = [json.dumps(dict(top_reasons(names, row, TOP_REASONS))) for row in contrib]
    return pd.DataFrame(
        {
            "probability": probability,
            "score": score,
            "segment": pd.array(model.cutoffs.segment(score), dtype="str"),
            "reasons": pd.array(reasons, dtype="str"),
        }
    )


class LeadScorePyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        self._model = LeadScoreModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        return lead_score_output(self._model, model_input)


def send_time_output(model: SendTimeModel, frame: pd.DataFrame) -> np.ndarray:
    """The send-time pyfunc's answer: each row's response probability at its ``slot_utc`` (naive
    times are UTC) in its ``time_zone``."""
    slots = pd.to_datetime(frame["slot_utc"], utc=True)
    out = np.empty(len(frame))
    for i in range(len(frame)):
        row = frame.iloc[[i]]
        out[i] = model.score_slots(row, slots.iloc[[i]].to_numpy(), str(row["time_zone"].iloc[0]))[
            0, 0
        ]
    return out


class SendTimePyfunc(PythonModel):
    """Input = lead feature columns plus ``slot_utc`` and ``time_zone``."""

    def load_context(self, context: Any) -> None:
        from optimizer.models.send_time import ARTIFACT_KEY as SEND_TIME_KEY
        from optimizer.models.send_time import SendTimeModel

        self._model = SendTimeModel.from_dir(
            Path(context.artifacts[SEND_TIME_KEY]), version="pyfunc"
        )

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return send_time_output(self._model, model_input)


class UpliftPyfunc(PythonModel):
    """``predict`` returns the estimated uplift per row (the outcome's units)."""

    def load_context(self, context: Any) -> None:
        from optimizer.models.uplift import UpliftModel

        self._model = UpliftModel.load(Path(context.artifacts[UPLIFT_ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self._model.predict(self._model.spec.encode(model_input))
