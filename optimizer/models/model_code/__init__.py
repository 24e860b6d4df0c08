"""MLflow "models from code" files: each builds one pyfunc and hands it to ``set_model``.

MLflow copies the file into the logged model and runs it when the model is loaded (after putting
the model's ``code`` directory, which holds a copy of the ``optimizer`` package, on ``sys.path``).
See :mod:`optimizer.models.pyfunc`.
"""
