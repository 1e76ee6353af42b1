"""SHAP values per clinical variable, on the probability scale: :class:`Explanation`.

:func:`explain` gives one contribution per clinical *variable* (the contributions of all the
output features a variable becomes, e.g. the five ``level`` indicators, are summed) for every
candidate of :mod:`resorb.models`, so that::

    expl.base_value + expl.values.sum(axis=1) == predict_resorption(model, X)   # to 1e-6

How the contributions are computed
----------------------------------
- Logistic model: exact interventional linear SHAP in log-odds,
  :func:`resorb.explain.linear.linear_contributions`.
- Tree ensembles (HistGradientBoosting, random forest): exact TreeSHAP in the model's raw
  space (log-odds for boosting, probability for the forest), path-dependent (the training
  distribution, through the trees' node counts) without a background, interventional with
  one: :func:`resorb.explain.treeshap.tree_contributions` (why not ``shap.TreeExplainer``,
  with the measurement, is in that module).
- Probability scale: the log-odds contributions of a row are multiplied by one positive factor,
  ``(p(x) - p_base) / (f(x) - f_base)`` (the secant slope of the link), so they keep their signs
  and sum exactly to ``p(x) - p_base``. This is an approximation of a probability-scale
  attribution (the link is not additive); ``p_base`` is the probability at the reference
  log-odds, not the mean predicted probability.
- Mixture cure model (:class:`resorb.models.MixtureCureClassifier`, ``expit(eta) F(t)``):
  the exact two-player Shapley split between the eventual part and the horizon's time course,
  the eventual part shared by linear SHAP of ``eta`` (secant slope):
  :mod:`resorb.explain.cure`.
- ``CalibratedClassifierCV(ensemble=False)``: the contributions of its single base pipeline,
  rescaled in the same way to the calibrated probability minus the calibrated base value.
- :class:`resorb.updating.UpdatedModel` (``logit p = a + b LP + g @ t``): the parent's
  contributions, rescaled to its log-odds LP (secant slope again) and multiplied by ``b``, plus
  the exact linear SHAP of the revision terms ``g_j (t_j(x) - mean t_j)`` added to their
  clinical variables; then rescaled to the updated probability like the calibrated case. A
  refit is explained as the model it is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from resorb.explain.cure import cure_contributions, is_cure
from resorb.explain.linear import is_linear, linear_contributions
from resorb.explain.treeshap import tree_contributions
from resorb.explain.values import value_numbers, value_words
from resorb.features import feature_variable
from resorb.models import HorizonMonotone, predict_resorption
from resorb.updating import CLIP, REVISION_TERMS, UpdatedModel

if TYPE_CHECKING:
    import shap

__all__ = ["Explanation", "explain"]

_TINY = 1e-9  # |raw contribution sum| below which a row sits at the base value


@dataclass(frozen=True, eq=False)
class Explanation:
    """Contributions of each clinical variable to predicted resorption probabilities.

    Parameters
    ----------
    values : DataFrame of shape (n_rows, n_variables)
        Contribution of each variable, in probability points; columns are data-dictionary
        names, the index is that of the explained rows.
    base_value : float
        Probability at the reference (background or training distribution);
        ``base_value + values.sum(axis=1)`` is the predicted probability.
    scale : {"probability"}
        Scale of ``values`` and ``base_value``.
    feature_values : DataFrame of shape (n_rows, n_variables)
        The explained rows' clinical values, for display.
    method : str
        How the contributions were computed, in words.

    See Also
    --------
    Explanation.to_shap : the same as a ``shap.Explanation``, for shap's plots.
    resorb.explain.waterfall_figure : one patient's waterfall.
    """

    values: pd.DataFrame
    base_value: float
    scale: Literal["probability"]
    feature_values: pd.DataFrame
    method: str = ""

    def to_shap(self) -> shap.Explanation:
        """This explanation as a ``shap.Explanation``, for shap's own plots.

        ``shap.plots.waterfall(expl.to_shap()[i])`` draws patient ``i`` (by position),
        ``shap.plots.beeswarm(expl.to_shap())`` every row. Only clinical variables and their
        values go in; the index of the explained rows (which may hold identifiers) does not.

        Returns
        -------
        shap.Explanation
            ``values`` of shape (n_rows, n_variables) in probability points; ``base_values``
            of shape (n_rows,), all ``base_value``, so that ``values.sum(axis=1) +
            base_values`` is the predicted probability; ``data`` the clinical values as
            numbers (categories by their clinical order, NaN when missing: shap colours by
            them); ``display_data`` the same values in words (``complete``, ``yes``,
            ``missing (no contrast given)``: shap labels with them); ``feature_names`` the
            data-dictionary names of the variables.
        """
        shap = _import_shap()
        variables = [str(v) for v in self.values.columns]
        n = len(self.values)
        data = np.empty((n, len(variables)))
        words = np.empty((n, len(variables)), dtype=object)
        for j, variable in enumerate(variables):
            column = self.feature_values[variable]
            data[:, j] = value_numbers(column, variable)
            codes, shown = value_words(column, variable)
            words[:, j] = np.asarray(shown, dtype=object)[codes]
        return shap.Explanation(values=self.values.to_numpy(dtype=float),
                                base_values=np.full(n, float(self.base_value)), data=data,
                                display_data=words, feature_names=variables)


def explain(model: Any, X: pd.DataFrame, background: pd.DataFrame | None = None,
            max_background: int = 200, seed: int = 0, *, features_X: Any = None,
            features_background: Any = None) -> Explanation:
    """Explain predicted resorption probabilities variable by variable.

    Parameters
    ----------
    model : fitted candidate
        A ``Pipeline([("features", ColumnTransformer), ("model", ...)])`` from
        :func:`resorb.models.build_model`, or ``CalibratedClassifierCV(ensemble=False)`` of one.
    X : DataFrame of shape (n_rows, n_columns)
        Model input (:func:`resorb.features.model_input`); not modified.
    background : DataFrame or None
        Reference rows (model input), usually the training data. Tree models: without it the
        training distribution stored in the trees is used (path-dependent); with it, at most
        ``max_background`` of its rows (interventional). The logistic model uses the mean of
        all background rows, or of ``X`` when no background is given (then pass the training
        data when explaining a few rows, or the contributions are relative to these rows).
    max_background : int
        Background rows used by tree models (cost grows with it).
    seed : int
        Seed of the background subsample.
    features_X, features_background : DataFrame, optional
        The model's feature step applied to ``X`` and to ``background``
        (``model.named_steps["features"].transform``), when the caller already has them:
        they are used as given, not recomputed. Scoring predicts from the same transform it
        explains; one ColumnTransformer transform of a 10-row chunk costs about 0.065 s of
        CPU (21 transformers), more than the explanation itself. ``features_background`` is
        not used by tree models, which subsample ``background`` first.

    Returns
    -------
    Explanation
        ``values`` of shape (n_rows, n_variables) in probability points.

    Raises
    ------
    TypeError
        When ``X`` or ``background`` is not a DataFrame, or ``model`` not a candidate.
    ValueError
        For empty frames, a bad ``max_background``, an unfitted or non-binary model, or a
        calibrated model with several folds.

    References
    ----------
    SHAP values: Lundberg & Lee, "A unified approach to interpreting model predictions",
    NeurIPS 2017, arXiv:1705.07874. TreeSHAP: Lundberg et al., "From local explanations to
    global understanding with explainable AI for trees", Nat Mach Intell 2020,
    doi:10.1038/s42256-019-0138-9.
    """
    _check_frame(X, "X")
    if len(X) == 0:
        raise ValueError("The 'X' parameter of explain must have rows. Got an empty DataFrame "
                         "instead.")
    if background is not None:
        _check_frame(background, "background")
        if len(background) == 0:
            raise ValueError("The 'background' parameter of explain must have rows. Got an "
                             "empty DataFrame instead; pass None to use the training data.")
    if not (isinstance(max_background, int) and max_background >= 1):
        raise ValueError("The 'max_background' parameter of explain must be an int >= 1. "
                         f"Got {max_background!r} instead.")
    if isinstance(model, UpdatedModel):
        return _explain_updated(model, X, background, max_background, seed, features_X,
                                features_background)
    pipeline, calibrated = _unwrap(model)
    features: ColumnTransformer = pipeline.named_steps["features"]
    estimator = pipeline.named_steps["model"]
    variables, groups, raw_columns = _variables(features)
    Z = features.transform(X) if features_X is None else features_X
    if is_cure(estimator):
        return _explain_cure(model, X, _reference(features, background, features_background, Z),
                             estimator, calibrated, Z, variables, groups, raw_columns)
    if is_linear(estimator):
        reference = _reference(features, background, features_background, Z)
        phi, raw_base, raw_pred = linear_contributions(estimator, Z, reference, groups,
                                                       len(variables))
        link, method = "logit", "exact linear SHAP (interventional), log-odds"
    else:
        trees_of = estimator.estimator_ if isinstance(estimator, HorizonMonotone) else estimator
        Zb = None
        if background is not None:
            Zb = features.transform(_subsample(background, max_background, seed))
        phi, raw_base, raw_pred, link = tree_contributions(trees_of, Z, Zb, groups,
                                                            len(variables))
        method = ("TreeSHAP " + ("path-dependent" if Zb is None else "interventional")
                  + (", log-odds" if link == "logit" else ", probability"))
    if calibrated is None:
        # predict_proba of these models is exactly the inverse link of their raw score
        p = _inverse_link(raw_pred, link)
        p_base = _inverse_link(np.array([raw_base]), link)[0]
    else:
        p = predict_resorption(model, X)
        p_base = _calibrated_base(calibrated, pipeline, raw_base, link)
        method += f", rescaled to the {calibrated.method} calibration"
    if link == "logit" or calibrated is not None:
        method += "; probability scale by secant-slope scaling"
    values = _distribute(phi, p - p_base)
    return Explanation(
        values=pd.DataFrame(values, index=X.index, columns=pd.Index(variables)),
        base_value=float(p_base),
        scale="probability",
        feature_values=pd.DataFrame({v: X[c].to_numpy() for v, c in zip(variables, raw_columns,
                                                                         strict=True)},
                                    index=X.index),
        method=method,
    )


def _explain_cure(model: Any, X: pd.DataFrame, reference: Any, estimator: Any,
                  calibrated: Any, Z: Any, variables: list[str], groups: np.ndarray,
                  raw_columns: list[str]) -> Explanation:
    """A mixture cure model: exact two-part Shapley split, secant scaling within eta."""
    phi, share, horizon, h, p_base, _p = cure_contributions(estimator, Z, reference, groups,
                                                            len(variables))
    values = _distribute(phi, share)
    values[:, h] += horizon
    method = ("mixture cure: exact Shapley split between eventual resorption and time "
              "course; eventual part by exact linear SHAP (interventional) in log-odds, "
              "probability scale by secant-slope scaling")
    if calibrated is not None:
        p_cal = predict_resorption(model, X)
        p_base = float(calibrated.calibrators[0].predict(np.array([p_base]))[0])
        values = _distribute(values, p_cal - p_base)
        method += f", rescaled to the {calibrated.method} calibration"
    return Explanation(
        values=pd.DataFrame(values, index=X.index, columns=pd.Index(variables)),
        base_value=float(p_base), scale="probability",
        feature_values=pd.DataFrame({v: X[c].to_numpy() for v, c in zip(variables, raw_columns,
                                                                         strict=True)},
                                    index=X.index),
        method=method)


def _explain_updated(model: UpdatedModel, X: pd.DataFrame, background: pd.DataFrame | None,
                     max_background: int, seed: int, features_X: Any = None,
                     features_background: Any = None) -> Explanation:
    """An updated model: the parent's contributions in its log-odds, slope, revision terms."""
    check_is_fitted(model)
    inner = explain(model.base, X, background, max_background, seed, features_X=features_X,
                    features_background=features_background)
    if model.refitted_ is not None:  # a refit predicts as the refitted model: nothing to add
        return Explanation(inner.values, inner.base_value, "probability",
                           inner.feature_values, inner.method + "; refitted on new data")
    from scipy.special import logit

    lp = logit(np.clip(predict_resorption(model.base, X), CLIP, 1 - CLIP))
    lp0 = float(logit(np.clip(inner.base_value, CLIP, 1 - CLIP)))
    phi = model.slope_ * _distribute(inner.values.to_numpy(dtype=float), lp - lp0)
    eta0 = model.intercept_ + model.slope_ * lp0
    inner_method = inner.method.removesuffix("; probability scale by secant-slope scaling")
    method = f"{inner_method}; parent log-odds x slope {model.slope_:.3g}"
    variables = list(inner.values.columns)
    if np.any(model.revision_coef_ != 0):
        reference = background if background is not None else X
        mean = model.revision_matrix(reference).mean(axis=0)
        linear = (model.revision_matrix(X) - mean) * model.revision_coef_
        for j, (_, variable) in enumerate(REVISION_TERMS):
            if model.revision_coef_[j] != 0 and variable in variables:
                phi[:, variables.index(variable)] += linear[:, j]
        eta0 += float(mean @ model.revision_coef_)
        method += " + linear SHAP of the revision terms"
    p = predict_resorption(model, X)
    p0 = float(expit(eta0))
    values = _distribute(phi, p - p0)
    return Explanation(values=pd.DataFrame(values, index=X.index, columns=inner.values.columns),
                       base_value=p0, scale="probability", feature_values=inner.feature_values,
                       method=method + f", {model.method} update; probability scale by "
                                       f"secant-slope scaling")


def _reference(features: ColumnTransformer, background: pd.DataFrame | None,
               features_background: Any, Z: Any) -> Any:
    """A linear explainer's reference features: the background's, else the rows' own."""
    if background is None:
        return Z
    return features.transform(background) if features_background is None \
        else features_background


def _check_frame(frame: object, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"The '{name}' parameter of explain must be a DataFrame (model input). "
                        f"Got {type(frame).__name__} instead.")


def _unwrap(model: Any) -> tuple[Pipeline, Any]:
    """The feature/model pipeline and, for a calibrated model, its single calibrated fold."""
    calibrated = None
    pipeline = model
    if isinstance(model, CalibratedClassifierCV):
        fitted = getattr(model, "calibrated_classifiers_", None)
        if fitted is None:
            raise ValueError("The 'model' parameter of explain must be fitted. Got an unfitted "
                             "CalibratedClassifierCV instead.")
        if len(fitted) != 1:
            raise ValueError("The 'model' parameter of explain must be CalibratedClassifierCV("
                             f"ensemble=False). Got one with {len(fitted)} calibrated folds "
                             "instead; refit with ensemble=False.")
        calibrated = fitted[0]
        if calibrated.method not in ("sigmoid", "isotonic"):
            raise ValueError(f"calibration method '{calibrated.method}' is not supported by "
                             "explain; use 'sigmoid' or 'isotonic'")
        pipeline = calibrated.estimator
    if not (isinstance(pipeline, Pipeline) and "features" in pipeline.named_steps
            and "model" in pipeline.named_steps
            and isinstance(pipeline.named_steps["features"], ColumnTransformer)):
        raise TypeError("The 'model' parameter of explain must be a Pipeline with steps "
                        "'features' (ColumnTransformer) and 'model', or CalibratedClassifierCV"
                        f"(ensemble=False) of one. Got {type(pipeline).__name__} instead.")
    check_is_fitted(pipeline)
    classes = list(pipeline.named_steps["model"].classes_)
    if len(classes) != 2 or classes[1] != 1:
        raise ValueError(f"explain needs a binary model whose second class is 1 (resorbed); "
                         f"got classes {classes}")
    return pipeline, calibrated


def _variables(features: ColumnTransformer) -> tuple[list[str], np.ndarray, list[str]]:
    """Variable names, the variable index of each output feature, and each variable's column."""
    variables, raw_columns = [], []
    for name, _, cols in features.transformers_:
        if name == "remainder":
            continue
        variables.append(name)
        raw_columns.append(cols[0] if len(cols) == 1 else name)
    index = {v: i for i, v in enumerate(variables)}
    groups = np.array([index[feature_variable(f)] for f in features.get_feature_names_out()],
                      dtype=np.intp)
    return variables, groups, raw_columns


def _subsample(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    if len(frame) <= size:
        return frame
    rows = np.random.default_rng(seed).choice(len(frame), size=size, replace=False)
    return frame.iloc[np.sort(rows)]



def _inverse_link(raw: np.ndarray, link: str) -> np.ndarray:
    return expit(raw) if link == "logit" else raw


def _calibrated_base(calibrated: Any, pipeline: Pipeline, raw_base: float, link: str) -> float:
    """Calibrated probability at the base score (the calibrator's input is what sklearn feeds)."""
    # sklearn calibrates decision_function when the pipeline has one, else predict_proba[:, 1]
    score = raw_base if hasattr(pipeline, "decision_function") else float(
        _inverse_link(np.array([raw_base]), link)[0])
    return float(calibrated.calibrators[0].predict(np.array([score]))[0])


def _distribute(phi: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """Scale each row of raw contributions to sum to ``dp`` (keeps signs, exact sums)."""
    total = phi.sum(axis=1)
    out = np.empty_like(phi)
    away = np.abs(total) > _TINY
    out[away] = phi[away] * (dp[away] / total[away])[:, None]
    near = ~away
    if near.any():  # at the base value: |dp| is tiny too, share it by size of contribution
        size = np.abs(phi[near])
        norm = size.sum(axis=1, keepdims=True)
        share = np.where(norm > 0, size / np.where(norm > 0, norm, 1.0), 1.0 / phi.shape[1])
        out[near] = share * dp[near, None]
    return out



def _import_shap() -> Any:
    with warnings.catch_warnings():
        # shap's colour maps call a matplotlib function that is pending deprecation
        warnings.filterwarnings("ignore", message=r"The set_(bad|over|under) function",
                                category=PendingDeprecationWarning)
        import shap
    return shap
