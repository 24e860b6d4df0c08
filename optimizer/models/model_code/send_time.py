"""The send-time pyfunc, logged from code (see optimizer.models.pyfunc)."""

import mlflow

from optimizer.models.pyfunc import SendTimePyfunc

mlflow.models.set_model(SendTimePyfunc())
