"""Indicator terms of herniation type and rim enhancement (with their interactions) for the
logistic model."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from resorb.arguments import Options, ValidatedParams
from resorb.features import MIN_DISTINCT_VALUES, distinct_observed

#: herniation types after the reference (bulge), rim grades after the reference (none)
_TYPES = ("protrusion", "extrusion", "sequestration")
_RIMS = ("partial", "complete")


class FindingTerms(ValidatedParams, TransformerMixin, BaseEstimator):
    """Indicator terms of herniation type or rim enhancement for the logistic model.

    The generator's truth, like the literature, gives each type and each rim grade its own
    log-odds (EVIDENCE.md 1-2: no rim 0/16 resorbed, partial 50%, complete 81.5%; types 13% to
    88%), far from linear in their rank, and without contrast the rim is unknown, so its
    expected effect depends on type and migration (migrated herniations rim-enhance, Komori
    1998). The default linear encoding (one slope per rank, no contrast = lowest grade plus
    an indicator) cannot represent that: a sequestration without rim got 0.32 against a
    truth of 0.09 (docs/training.md, "Subgroups of the strongest findings").

    ``variable="herniation_type"`` (input column ``herniation_type``): one indicator per
    type but bulge, and one for a missing type. ``variable="rim_enhancement"`` (input
    ``rim_enhancement`` then, where the model has them, ``herniation_type`` and
    ``migration_grade``): indicators of partial and complete rim and of no contrast; with the
    type, type x partial, type x complete and no contrast x type; with migration, no contrast
    x migrated. Unknown category values count as none of the indicators. Like
    :class:`~resorb.features.EncodeIfObserved`, a ``variable`` the training rows observe with
    fewer than two distinct values (a hospital that never gives contrast) makes no terms.

    Parameters
    ----------
    variable : {"herniation_type", "rim_enhancement"}
        The finding whose terms are made; output names are ``<term>`` (the ColumnTransformer
        prefixes the variable).

    Attributes
    ----------
    used_ : bool
        Whether ``variable`` was observed with at least two distinct values (False: no terms).
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "variable": [Options("herniation_type", "rim_enhancement")],
    }
    #: whether the rim terms include type x partial and type x complete (a class attribute,
    #: not a parameter, so that saved FindingTerms keep their bytes)
    _type_x_rim: ClassVar[bool] = True

    def __init__(self, variable: str = "rim_enhancement") -> None:
        self.variable = variable

    def fit(self, X, y=None):
        """Record the input columns (a DataFrame whose first column is ``variable``)."""
        self._validate_params()
        if not hasattr(X, "columns") or len(X.columns) == 0 or X.columns[0] != self.variable:
            raise ValueError(f"FindingTerms({self.variable!r}) needs a DataFrame whose first "
                             f"column is {self.variable!r}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        self.used_ = distinct_observed(X[self.variable]) >= MIN_DISTINCT_VALUES
        return self

    def _terms(self, X) -> dict[str, np.ndarray]:
        if not self.used_:
            return {}
        def text(name: str) -> np.ndarray:
            return X[name].astype(object).to_numpy()

        names = set(self.feature_names_in_)
        out: dict[str, np.ndarray] = {}
        kind = text("herniation_type") if "herniation_type" in names else None
        if self.variable == "herniation_type":
            for k in _TYPES:
                out[f"type_{k}"] = kind == k
            out["type_missing"] = pd.isna(kind)
            return out
        rim = text("rim_enhancement")
        none_given = pd.isna(rim)
        for r in _RIMS:
            out[f"rim_{r}"] = rim == r
        out["no_contrast"] = none_given
        if kind is not None:
            for k in _TYPES:
                for r in _RIMS if self._type_x_rim else ():
                    out[f"{k}_x_{r}"] = (kind == k) & (rim == r)
                out[f"no_contrast_x_{k}"] = none_given & (kind == k)
        if "migration_grade" in names:
            grade = pd.to_numeric(X["migration_grade"], errors="coerce").to_numpy(dtype=float)
            out["no_contrast_x_migrated"] = none_given & (np.nan_to_num(grade) > 0)
        return out

    def transform(self, X):
        """The indicator terms, shape (n_rows, n_terms), float 0/1."""
        check_is_fitted(self)
        if not hasattr(X, "columns"):
            X = pd.DataFrame(X, columns=self.feature_names_in_)
        terms = self._terms(X)
        if not terms:
            return np.empty((len(X), 0))
        return np.column_stack([v.astype(float) for v in terms.values()])

    def get_feature_names_out(self, input_features=None):
        """Names of the terms, e.g. ``sequestration_x_complete``."""
        check_is_fitted(self)
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in self.feature_names_in_})
        return np.asarray(list(self._terms(empty)), dtype=object)


class FindingLevels(FindingTerms):
    """:class:`FindingTerms` without the type x partial and type x complete terms.

    For a model whose eventual part is additive in type and rim, as the generator's is where
    the rim is seen (:class:`resorb.models.MixtureCureClassifier`): one indicator per type
    but bulge, partial and complete rim and no contrast as levels of their own, and, because
    an unseen rim is averaged over a distribution that depends on type and migration (Komori
    1998), no contrast x type and no contrast x migrated.
    """

    _type_x_rim: ClassVar[bool] = False


def with_finding_terms(features: Any, columns: tuple[str, ...],
                       terms: type[FindingTerms] = FindingTerms) -> Any:
    """``features`` (the linear ColumnTransformer) with type and rim encoded by ``terms``
    (:class:`FindingTerms` or :class:`FindingLevels`); a variable the model does not use
    keeps its absence."""
    rim_inputs = [c for c in ("rim_enhancement", "herniation_type", "migration_grade")
                  if c in columns]
    swap = {"herniation_type": (terms("herniation_type"), ["herniation_type"]),
            "rim_enhancement": (terms("rim_enhancement"), rim_inputs)}
    transformers = [(name, *swap[name]) if name in swap else (name, t, cols)
                    for name, t, cols in features.transformers]
    return features.set_params(transformers=transformers)
