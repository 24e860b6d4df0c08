"""The lead-score pyfunc, logged from code (see optimizer.models.pyfunc)."""

import mlflow

from optimizer.models.pyfunc import LeadScorePyfunc

mlflow.models.set_model(LeadScorePyfunc())
