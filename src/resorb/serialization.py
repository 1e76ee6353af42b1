"""Saving and loading fitted models in the skops format, with a reviewed allow-list.

skops refuses to load any type it does not trust by default. The extra types our pipelines
need are listed here, in the project's code, after review; they are never read from the file
being loaded (an attacker who can write the file could otherwise whitelist anything).
Pickle is not used anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from resorb.arguments import HasMethods, validate_arguments
from resorb.errors import ModelNotFoundError

#: Types beyond skops' defaults that resorb pipelines contain; each was reviewed:
#: our own estimators, scikit-learn/scipy internals of the candidates, and numpy's dtype.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "resorb.features.HorizonRamps",
    "resorb.features.EncodeIfObserved",
    "resorb.models.HorizonMonotone",
    "resorb.models.MonotoneLogisticRegression",
    "resorb.models.MonotoneLogisticRegressionCV",
    # SplineTransformer keeps scipy BSplines; their array namespace is a plain asarray alias
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
    "scipy.interpolate._bsplines.BSpline",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.tree._tree.Tree",
    # a parent model updated on new data (resorb update): recalibration, revision or refit
    "resorb.updating.UpdatedModel",
)


@validate_arguments({"model": [HasMethods("predict_proba")], "path": [str, os.PathLike]})
def save_estimator(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted estimator to ``path`` in the skops format, refusing untrusted types.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    path : str or path-like
        Destination file (overwritten).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the estimator contains a type outside :data:`TRUSTED_TYPES` (review it first).
    InvalidParameterError
        If ``model`` has no ``predict_proba`` or ``path`` is not a path.
    """
    import skops.io as sio

    p = Path(path)
    data = sio.dumps(model)
    untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if untrusted:
        raise ValueError(f"the model holds types that are not on the reviewed allow-list: "
                         f"{untrusted}; review them and add them to TRUSTED_TYPES")
    p.write_bytes(data)
    return p


@validate_arguments({"path": [str, os.PathLike]})
def load_estimator(path: str | os.PathLike[str]) -> Any:
    """Load a skops file, trusting only :data:`TRUSTED_TYPES` and skops' defaults.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_estimator`.

    Returns
    -------
    The fitted estimator.

    Raises
    ------
    ModelNotFoundError
        If the file does not exist.
    InvalidParameterError
        If ``path`` is not a path.
    """
    import skops.io as sio

    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(f"no model file at {p}")
    return sio.load(p, trusted=list(TRUSTED_TYPES))


def load_estimator_bytes(data: bytes) -> Any:
    """Load a model from the bytes of a skops file, through the same allow-list.

    Spark executors receive the bytes the driver read and checked against the model card
    (:mod:`resorb.scoring.spark`), never a path or an MLflow folder.

    Parameters
    ----------
    data : bytes
        Content of a file written by :func:`save_estimator`.

    Returns
    -------
    The fitted estimator.
    """
    import skops.io as sio

    return sio.loads(data, trusted=list(TRUSTED_TYPES))
