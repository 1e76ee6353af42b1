"""Helpers shared by the candidate estimators: binary targets, sample weights, horizon prefix."""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight

from resorb.features import HORIZON

HORIZON_PREFIX = f"{HORIZON}__"


def _binary_classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classes and their codes 0/1; scikit-learn's error for any other kind of target."""
    check_classification_targets(y)
    y_type = type_of_target(y, input_name="y", raise_unknown=True)
    if y_type != "binary":
        raise ValueError("Only binary classification is supported. The type of the target "
                         f"is {y_type}.")
    return np.unique(y, return_inverse=True)


def _positive_weights(sample_weight, X) -> np.ndarray:
    """Sample weights (ones by default); scikit-learn's error when none is positive."""
    w = _check_sample_weight(sample_weight, X)
    if not np.any(w > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return w

