"""The uplift pyfunc, logged from code (see optimizer.models.pyfunc)."""

import mlflow

from optimizer.models.pyfunc import UpliftPyfunc

mlflow.models.set_model(UpliftPyfunc())
