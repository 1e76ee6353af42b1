"""MLflow "model from code" for resorb pipelines.

MLflow copies this file beside the logged model and runs it at load time; it only imports the
installed resorb package, so the skops allow-list used to load the estimator comes from the
project's code (:mod:`resorb.serialization`), never from the model being loaded.
"""


import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.models import set_model


class ResorbModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: ``predict`` returns P(resorbed) per row, not a class label."""

    def load_context(self, context) -> None:
        """Load the skops estimator with the project's allow-list, and its metadata."""
        from resorb.serialization import load_estimator

        self.estimator = load_estimator(context.artifacts["estimator"])
        meta = context.artifacts.get("metadata")
        self.metadata = json.loads(Path(meta).read_text()) if meta else {}

    def predict(self, context, model_input: pd.DataFrame, params=None):
        """Probability of resorption, shape (n_rows,)."""
        from resorb.features import model_input as to_model_input
        from resorb.models import predict_resorption

        return predict_resorption(self.estimator, to_model_input(model_input))


set_model(ResorbModel())
