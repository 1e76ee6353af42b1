"""The parent's log-odds and the revision's terms: what every updating method acts on.

Every method except refit acts on ``LP = logit(p_parent(x))`` (``p`` clipped to
[:data:`CLIP`, 1 - :data:`CLIP`]); the revision adds the :data:`REVISION_TERMS`
(:mod:`resorb.updating`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit

#: predicted probabilities are clipped to [CLIP, 1 - CLIP] before taking the log-odds
CLIP = 1e-6
#: the revision's terms: (name, clinical variable); see :func:`revision_terms`
REVISION_TERMS: tuple[tuple[str, str], ...] = (
    ("herniation_type=bulge", "herniation_type"),
    ("herniation_type=protrusion", "herniation_type"),
    ("herniation_type=sequestration", "herniation_type"),
    ("rim_enhancement grade (0 none, 1 partial, 2 complete)", "rim_enhancement"),
    ("rim_enhancement missing (no contrast given)", "rim_enhancement"),
    ("migration_grade", "migration_grade"),
    ("modic_type any (1-3)", "modic_type"),
    ("log symptom_duration_days", "symptom_duration_days"),
    ("age (years)", "age"),
)
_RIM = {"none": 0.0, "partial": 1.0, "complete": 2.0}


def parent_log_odds(parent: Any, X: pd.DataFrame) -> np.ndarray:
    """``logit(p_parent(x))`` with ``p`` clipped to [1e-6, 1 - 1e-6]; shape (n_rows,)."""
    from resorb.models import predict_resorption

    return logit(np.clip(predict_resorption(parent, X), CLIP, 1.0 - CLIP))


def revision_terms(X: pd.DataFrame) -> np.ndarray:
    """The :data:`REVISION_TERMS` of model input ``X``, unstandardised; NaN where missing.

    Parameters
    ----------
    X : DataFrame of shape (n_rows, n_columns)
        Model input (:func:`resorb.features.model_input`) with the columns herniation_type,
        rim_enhancement, migration_grade, modic_type, symptom_duration_days and age.

    Returns
    -------
    ndarray of shape (n_rows, 9)
        Indicators (0/1), the rim grade (no contrast counts as grade 0 plus its indicator),
        migration grade, any Modic change, log of symptom days, age in years.
    """
    n = len(X)

    def col(name: str) -> pd.Series:
        return X[name] if name in X else pd.Series([np.nan] * n, index=X.index)

    kind = col("herniation_type")
    known = kind.notna().to_numpy()
    out = np.full((n, len(REVISION_TERMS)), np.nan)
    for j, level in enumerate(("bulge", "protrusion", "sequestration")):
        out[known, j] = (kind[known] == level).to_numpy(dtype=float)
    rim = col("rim_enhancement")
    seen = rim.notna().to_numpy()
    out[:, 3] = np.where(seen, rim.map(_RIM).to_numpy(dtype=float, na_value=np.nan), 0.0)
    out[:, 4] = (~seen).astype(float)
    out[:, 5] = pd.to_numeric(col("migration_grade"), errors="coerce").to_numpy(float)
    modic = pd.to_numeric(col("modic_type"), errors="coerce").to_numpy(float)
    out[:, 6] = np.where(np.isnan(modic), np.nan, (modic > 0).astype(float))
    days = pd.to_numeric(col("symptom_duration_days"), errors="coerce").to_numpy(float)
    out[:, 7] = np.log(np.clip(days, 1.0, None))
    out[:, 8] = pd.to_numeric(col("age"), errors="coerce").to_numpy(float)
    return out

