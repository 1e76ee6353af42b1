"""SHAP values per clinical variable, on the probability scale, as DataFrames.

:func:`explain` gives one contribution per clinical *variable* (the contributions of all the
output features a variable becomes, e.g. the five ``level`` indicators, are summed) for every
candidate of :mod:`resorb.models`, so that::

    expl.base_value + expl.values.sum(axis=1) == predict_resorption(model, X)   # to 1e-6

How the contributions are computed
----------------------------------
- Logistic model: exact interventional linear SHAP in log-odds, ``coef * (z - mean(z_bg))``
  on the transformed features.
- Tree ensembles (HistGradientBoosting, random forest): exact TreeSHAP in the model's raw
  space (log-odds for boosting, probability for the forest), path-dependent (the training
  distribution, through the trees' node counts) without a background, interventional with
  one. It is the algorithm of ``shap.TreeExplainer`` written as vectorised numpy over the
  distinct decision patterns of each leaf (tests check it against shap): shap's C++ code is
  single-threaded and explains about 2,000 rows/s of a 100-tree boosting model, and its
  interventional mode fails its own additivity check on deep HistGradientBoosting trees.
  A leaf's value is a game over the features on its path: path-dependent Shapley values come
  from ``int_0^1 prod_j (o_j t + z_j (1 - t)) dt`` (exact Gauss-Legendre), interventional ones
  from a closed form per background pattern.
- Probability scale: the log-odds contributions of a row are multiplied by one positive factor,
  ``(p(x) - p_base) / (f(x) - f_base)`` (the secant slope of the link), so they keep their signs
  and sum exactly to ``p(x) - p_base``. This is an approximation of a probability-scale
  attribution (the link is not additive); ``p_base`` is the probability at the reference
  log-odds, not the mean predicted probability.
- ``CalibratedClassifierCV(ensemble=False)``: the contributions of its single base pipeline,
  rescaled in the same way to the calibrated probability minus the calibrated base value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from resorb import schema
from resorb.features import feature_variable
from resorb.models import HorizonMonotone, predict_resorption
from resorb.schema import Kind

__all__ = ["Explanation", "explain", "global_importance", "plot_beeswarm", "plot_importance",
           "ranking_agreement", "top_reasons"]

_TINY = 1e-9  # |raw contribution sum| below which a row sits at the base value
_CHUNK = 4_000_000  # cells of the (row patterns x background patterns) block held at once
_CHUNK_BYTES = 256 * 2**20  # working memory of the tree engine per block of rows


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
    """

    values: pd.DataFrame
    base_value: float
    scale: Literal["probability"]
    feature_values: pd.DataFrame
    method: str = ""


def explain(model: Any, X: pd.DataFrame, background: pd.DataFrame | None = None,
            max_background: int = 200, seed: int = 0) -> Explanation:
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

    Returns
    -------
    Explanation
        ``values`` of shape (n_rows, n_variables) in probability points.
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
    pipeline, calibrated = _unwrap(model)
    features: ColumnTransformer = pipeline.named_steps["features"]
    estimator = pipeline.named_steps["model"]
    variables, groups, raw_columns = _variables(features)
    Z = features.transform(X)
    if _is_linear(estimator):
        reference = features.transform(background) if background is not None else Z
        phi, raw_base, raw_pred = _linear_contributions(estimator, Z, reference, groups,
                                                        len(variables))
        link, method = "logit", "exact linear SHAP (interventional), log-odds"
    else:
        trees_of = estimator.estimator_ if isinstance(estimator, HorizonMonotone) else estimator
        Zb = None
        if background is not None:
            Zb = features.transform(_subsample(background, max_background, seed))
        phi, raw_base, raw_pred, link = _tree_contributions(trees_of, Z, Zb, groups,
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


def _is_linear(estimator: Any) -> bool:
    coef = getattr(estimator, "coef_", None)
    return coef is not None and hasattr(estimator, "decision_function") \
        and np.asarray(coef).ndim == 2 and np.asarray(coef).shape[0] == 1


def _positive_proba(estimator: Any, Z: pd.DataFrame) -> np.ndarray:
    return np.asarray(estimator.predict_proba(Z), dtype=float)[:, 1]


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


def _group_matrix(groups: np.ndarray, n_groups: int) -> np.ndarray:
    m = np.zeros((groups.size, n_groups))
    m[np.arange(groups.size), groups] = 1.0
    return m


# ------------------------------------------------------------------------ linear model


def _linear_contributions(estimator: Any, Z: pd.DataFrame, reference: pd.DataFrame,
                          groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, float,
                                                                        np.ndarray]:
    """Interventional linear SHAP in log-odds, summed per variable."""
    coef = np.asarray(estimator.coef_, dtype=float).ravel()
    intercept = float(np.ravel(estimator.intercept_)[0])
    mean = np.asarray(reference, dtype=float).mean(axis=0)
    phi = ((np.asarray(Z, dtype=float) - mean) * coef) @ _group_matrix(groups, n_groups)
    return phi, intercept + float(mean @ coef), np.asarray(estimator.decision_function(Z))


# ------------------------------------------------------------------------- tree models


@dataclass(frozen=True)
class _Leaf:
    """A leaf as a product game over the distinct features on its path.

    The path's splits are numbered (bits), grouped by feature: a row's leaf code has bit e set
    when the row goes the path's way at split e, and ``starts`` marks each feature's first bit.
    """

    value: float  # leaf output, already scaled (1 / n_trees for a forest)
    cover_share: float  # training share reaching the leaf (path-dependent weight)
    n_bits: int  # splits on the path
    starts: np.ndarray  # first bit of each distinct feature on the path
    z: np.ndarray  # (d,) cover fraction kept when the feature is unknown
    groups: np.ndarray  # distinct variables of the path's features
    to_groups: np.ndarray  # (d, len(groups)) 0/1: feature -> variable


@dataclass(frozen=True)
class _Tree:
    feature: np.ndarray  # (n_internal,) feature of each internal node
    threshold: np.ndarray  # (n_internal,) go left when x <= threshold
    missing_left: np.ndarray  # (n_internal,) NaN goes left
    coding: Any  # sparse (n_leaves, n_internal) of +-2^bit: coding @ goes_left + offset = code
    offset: np.ndarray  # (n_leaves,)
    leaves: tuple[_Leaf, ...]


def _compile_tree(left: np.ndarray, right: np.ndarray, feature: np.ndarray,
                  threshold: np.ndarray, missing_left: np.ndarray, value: np.ndarray,
                  cover: np.ndarray, groups: np.ndarray) -> _Tree:
    """Flatten a binary tree (children -1 at leaves) into its leaves' path games."""
    internal = np.flatnonzero(left >= 0)
    position = np.full(left.size, -1, dtype=np.intp)
    position[internal] = np.arange(internal.size)
    leaves: list[_Leaf] = []
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    offset: list[float] = []
    stack: list[tuple[int, tuple[tuple[int, int, bool], ...]]] = [(0, ())]
    while stack:
        node, path = stack.pop()
        if left[node] >= 0:
            stack.append((int(left[node]), (*path, (node, int(left[node]), True))))
            stack.append((int(right[node]), (*path, (node, int(right[node]), False))))
            continue
        if value[node] == 0.0:
            continue
        if len(path) > 52:  # codes are exact float64 integers
            raise ValueError("explain supports trees up to 52 levels deep; refit with a "
                             "smaller max_depth")
        slot_of: dict[int, int] = {}
        for split, _, _ in path:
            slot_of.setdefault(int(feature[split]), len(slot_of))
        path = tuple(sorted(path, key=lambda s: slot_of[int(feature[s[0]])]))
        slots = np.array([slot_of[int(feature[s])] for s, _, _ in path], dtype=np.intp)
        z = np.ones(len(slot_of))
        for split, child, _ in path:
            z[slot_of[int(feature[split])]] *= cover[child] / cover[split] if cover[split] else 0.0
        for bit, (split, _, went_left) in enumerate(path):
            rows.append(len(leaves))
            cols.append(int(position[split]))
            data.append(2.0 ** bit if went_left else -(2.0 ** bit))
        offset.append(sum(2.0 ** bit for bit, s in enumerate(path) if not s[2]))
        feats = np.array(list(slot_of), dtype=np.intp)
        distinct = np.unique(groups[feats])
        leaves.append(_Leaf(
            value=float(value[node]), cover_share=float(cover[node] / cover[0]),
            n_bits=len(path), starts=np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
            if slots.size else slots, z=z, groups=distinct,
            to_groups=(groups[feats][:, None] == distinct[None, :]).astype(float)))
    # float32 holds the codes exactly up to 24 splits deep, at half the memory traffic
    exact32 = max((leaf.n_bits for leaf in leaves), default=0) <= 24
    coding = csr_matrix((data, (rows, cols)), shape=(len(leaves), internal.size),
                        dtype=np.float32 if exact32 else np.float64)
    return _Tree(feature[internal].astype(np.intp), threshold[internal].astype(np.float64),
                 missing_left[internal].astype(bool), coding, np.asarray(offset, dtype=float),
                 tuple(leaves))


def _compile_ensemble(estimator: Any, groups: np.ndarray) -> tuple[list[_Tree], float, str]:
    """Trees, raw baseline and link of a fitted HistGradientBoosting or forest classifier."""
    if isinstance(estimator, HistGradientBoostingClassifier):
        if estimator.n_trees_per_iteration_ != 1:
            raise ValueError("explain supports binary HistGradientBoostingClassifier only")
        trees = []
        for (predictor,) in estimator._predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("explain does not support native categorical splits of "
                                 "HistGradientBoostingClassifier; one-hot encode instead")
            leaf = nodes["is_leaf"].astype(bool)
            trees.append(_compile_tree(
                np.where(leaf, -1, nodes["left"].astype(np.intp)),
                np.where(leaf, -1, nodes["right"].astype(np.intp)), nodes["feature_idx"],
                nodes["num_threshold"], nodes["missing_go_to_left"], nodes["value"],
                nodes["count"].astype(float), groups))
        return trees, float(np.ravel(estimator._baseline_prediction)[0]), "logit"
    if isinstance(estimator, RandomForestClassifier | ExtraTreesClassifier):
        n_trees = len(estimator.estimators_)
        trees = []
        for member in estimator.estimators_:
            t = member.tree_
            counts = t.value[:, 0, :]
            share = counts[:, 1] / np.where(counts.sum(axis=1) > 0, counts.sum(axis=1), 1.0)
            missing = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=bool))
            trees.append(_compile_tree(t.children_left, t.children_right, t.feature,
                                       t.threshold, np.asarray(missing), share / n_trees,
                                       t.weighted_n_node_samples, groups))
        return trees, 0.0, "identity"
    raise TypeError("The final step of the model must be MonotoneLogisticRegression, "
                    "HorizonMonotone or a HistGradientBoosting/RandomForest classifier. Got "
                    f"{type(estimator).__name__} instead.")


def _tree_contributions(estimator: Any, Z: pd.DataFrame, Zb: pd.DataFrame | None,
                        groups: np.ndarray, n_groups: int
                        ) -> tuple[np.ndarray, float, np.ndarray, str]:
    """TreeSHAP summed per variable: (phi, raw base, raw prediction, link)."""
    trees, baseline, link = _compile_ensemble(estimator, groups)
    # forests compare float32 inputs with their thresholds
    cast = np.float32 if link == "identity" else np.float64
    xt = np.ascontiguousarray(np.asarray(Z, dtype=cast).T, dtype=np.float64)
    xbt = None if Zb is None else np.ascontiguousarray(np.asarray(Zb, dtype=cast).T,
                                                       dtype=np.float64)
    # about 16 bytes per row for each internal node and each leaf of the largest tree
    widest = max((t.coding.shape[0] + t.coding.shape[1] for t in trees), default=1)
    step = max(1024, _CHUNK_BYTES // (16 * max(1, widest)))
    phi = np.empty((xt.shape[1], n_groups))
    base = 0.0
    for start in range(0, xt.shape[1], step):
        phi[start:start + step], base = _tree_shap(trees, xt[:, start:start + step], xbt,
                                                   n_groups)
    base += baseline
    raw = (np.asarray(estimator.decision_function(Z), dtype=float) if link == "logit"
           else _positive_proba(estimator, Z))
    gap = np.abs(base + phi.sum(axis=1) - raw)
    if gap.size and gap.max() > 1e-6 * max(1.0, float(np.abs(raw).max())):
        raise RuntimeError(f"TreeSHAP contributions miss the model output by {gap.max():.2g}; "
                           "this is a bug in resorb.explain")
    return phi, base, raw, link


def _tree_shap(trees: list[_Tree], xt: np.ndarray, xbt: np.ndarray | None,
               n_groups: int) -> tuple[np.ndarray, float]:
    """Contributions per variable (n, n_groups) and the base value, summed over trees.

    ``xt`` and ``xbt`` are the rows and the background, transposed (n_features, n).
    """
    out = np.zeros((n_groups, xt.shape[1]))
    base = 0.0
    has_nan = bool(np.isnan(xt).any()) or (xbt is not None and bool(np.isnan(xbt).any()))
    for tree in trees:
        codes = _leaf_codes(tree, xt, has_nan)
        ref_codes = None if xbt is None else _leaf_codes(tree, xbt, has_nan)
        for i, leaf in enumerate(tree.leaves):
            if leaf.n_bits == 0:  # a tree that is a single leaf
                base += leaf.value
                continue
            kinds, index, size = _distinct_codes(codes[i], leaf.n_bits)
            # the game only sees which features a code satisfies: solve each pattern once
            patterns, back = _distinct_patterns(_satisfied(kinds, leaf))
            if ref_codes is None:
                base += leaf.value * leaf.cover_share
                phi = _product_shapley(patterns.astype(float), leaf.z)[back]
            else:
                ref, ref_back = _distinct_patterns(_satisfied(ref_codes[i], leaf))
                weight = np.bincount(ref_back, minlength=ref.shape[0]) / ref_codes.shape[1]
                base += leaf.value * float(weight[ref.all(axis=1)].sum())
                phi = _interventional_shapley(patterns, ref, weight)[back]
            table = np.zeros((leaf.groups.size, size))
            table[:, kinds if size != kinds.size else slice(None)] = (
                leaf.value * phi @ leaf.to_groups).T
            for row, group in zip(table, leaf.groups, strict=True):
                target = out[group]
                np.add(target, row.take(index), out=target)
    return out.T, base


def _leaf_codes(tree: _Tree, xt: np.ndarray, has_nan: bool) -> np.ndarray:
    """(n_leaves, n) integer codes: bit e set when the row goes the leaf's way at split e."""
    cells = xt[tree.feature]
    left = cells <= tree.threshold[:, None]
    if has_nan:
        left |= np.isnan(cells) & tree.missing_left[:, None]
    codes = tree.coding @ left.astype(tree.coding.dtype)
    return (np.asarray(codes) + tree.offset[:, None]).astype(np.int64)


def _distinct_codes(codes: np.ndarray, n_bits: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes that occur, each row's index into the leaf's table, and the table's size."""
    if n_bits <= 3:  # tabulating every code is cheaper than finding the ones that occur
        return np.arange(1 << n_bits), codes, 1 << n_bits
    if 1 << n_bits <= max(64, codes.size):  # a table indexed by the code itself
        return np.flatnonzero(np.bincount(codes, minlength=1 << n_bits)), codes, 1 << n_bits
    kinds, which = np.unique(codes, return_inverse=True)  # such a table would be too large
    return kinds, which.ravel(), kinds.size


def _distinct_patterns(satisfied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a (k, d) boolean matrix and each row's position among them."""
    powers = np.left_shift(1, np.arange(satisfied.shape[1], dtype=np.int64))
    codes, back = np.unique(satisfied.astype(np.int64) @ powers, return_inverse=True)
    return (codes[:, None] & powers).astype(bool), back.ravel()


def _satisfied(codes: np.ndarray, leaf: _Leaf) -> np.ndarray:
    """(k, d): whether a code satisfies every split on each of the leaf's features."""
    bits = ((codes[:, None] >> np.arange(leaf.n_bits)) & 1).astype(bool)
    return np.logical_and.reduceat(bits, leaf.starts, axis=1)


@lru_cache(maxsize=64)
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _product_shapley(o: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Shapley values (k, d) of the games u(S) = prod_{j in S} o_j * prod_{j not in S} z_j.

    ``o`` is (k, d), one game per row; ``z`` is (d,). phi_i = (o_i - z_i) *
    int_0^1 prod_{j != i} (o_j t + z_j (1 - t)) dt: the integrand has degree d - 1, so
    d // 2 + 1 Gauss-Legendre nodes integrate it exactly.
    """
    t, w = _gauss_legendre(o.shape[1] // 2 + 1)
    # features first: the running products below multiply whole contiguous blocks
    f = o.T[:, None, :] * t[:, None] + (z[:, None] * (1.0 - t))[:, :, None]  # (d, nodes, k)
    before, after = np.ones_like(f), np.ones_like(f)
    for j in range(1, f.shape[0]):
        np.multiply(before[j - 1], f[j - 1], out=before[j])
        np.multiply(after[-j], f[-j], out=after[-j - 1])
    return (o - z) * np.einsum("dqk,q->kd", before * after, w)


def _interventional_shapley(kinds: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Background-weighted Shapley values (k, d) of the leaf game for 0/1 patterns.

    Against one reference pattern q the game is u(S) = [A in S, B not in S], with A the
    features only the row satisfies and B those only the reference satisfies, and it is zero
    when some feature fails for both. Its Shapley values are (|A|-1)! |B|! / (|A|+|B|)! on A
    and -|A|! (|B|-1)! / (|A|+|B|)! on B. When the pair is live, B is exactly the row's
    failures and A the reference's, so both sizes come from one side each.
    """
    d = kinds.shape[1]
    fact = np.cumprod(np.r_[1.0, np.arange(1.0, 2 * d + 1)])
    b, a = np.meshgrid(np.arange(d + 1), np.arange(d + 1), indexing="ij")  # b: row's failures
    to_row = np.where(a > 0, fact[np.maximum(a - 1, 0)] * fact[b] / fact[a + b], 0.0)
    to_ref = np.where(b > 0, fact[a] * fact[np.maximum(b - 1, 0)] / fact[a + b], 0.0)
    powers = np.left_shift(1, np.arange(d, dtype=np.int64))
    row_code, ref_code = kinds.astype(np.int64) @ powers, ref.astype(np.int64) @ powers
    row_fails, ref_fails = d - kinds.sum(axis=1), d - ref.sum(axis=1)
    ref_on = ref.astype(float)
    step = max(1, _CHUNK // max(1, ref.shape[0]))
    out = []
    for i in range(0, kinds.shape[0], step):
        rows = slice(i, i + step)
        live = ((row_code[rows, None] | ref_code) == (1 << d) - 1) * weight
        gain = live * to_row[row_fails[rows]][:, ref_fails]
        loss = (live * to_ref[row_fails[rows]][:, ref_fails]).sum(axis=1, keepdims=True)
        on = kinds[rows].astype(float)
        # bit i of A is p_i (1 - q_i); every failure of the row is in B
        out.append(on * (gain @ (1.0 - ref_on)) - (1.0 - on) * loss)
    return np.concatenate(out)


# --------------------------------------------------------------------- summaries and words


def global_importance(expl: Explanation) -> pd.Series:
    """Mean absolute contribution of each variable, largest first.

    Parameters
    ----------
    expl : Explanation

    Returns
    -------
    Series indexed by variable, in probability points, sorted descending.
    """
    importance = expl.values.abs().mean(axis=0).sort_values(ascending=False, kind="stable")
    return importance.rename("mean_abs_contribution")


def top_reasons(expl: Explanation, k: int = 3) -> pd.DataFrame:
    """The ``k`` largest contributions of each row, in clinical words.

    Each cell reads ``rim_enhancement = complete: +0.18`` (variable, its value, contribution in
    probability points); booleans read yes/no, missing values what they mean clinically
    (``rim_enhancement = missing (no contrast given)``), numbers three significant digits.

    Parameters
    ----------
    expl : Explanation
    k : int
        Reasons per row, 1 <= k <= number of variables.

    Returns
    -------
    DataFrame of shape (n_rows, k)
        Columns ``reason_1`` .. ``reason_k``, ordered by absolute contribution (ties by
        variable order).
    """
    values = expl.values.to_numpy(dtype=float)
    n, n_vars = values.shape
    if isinstance(k, bool) or not (isinstance(k, int | np.integer) and 1 <= k <= n_vars):
        raise ValueError(f"The 'k' parameter of top_reasons must be an int in [1, {n_vars}]. "
                         f"Got {k!r} instead.")
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(values, order, axis=1)
    label = np.zeros((n, k), dtype=np.int64)
    labels: list[str] = []
    for j, variable in enumerate(expl.values.columns):
        hit = order == j
        rows = np.flatnonzero(hit.any(axis=1))
        if rows.size == 0:
            continue
        codes, names = _value_labels(expl.feature_values[variable].iloc[rows], str(variable))
        full = np.zeros(n, dtype=np.int64)
        full[rows] = codes + len(labels)
        r, c = np.nonzero(hit)
        label[r, c] = full[r]
        labels.extend(names)
    size = np.abs(picked)
    hundredths = np.rint(size * 100)
    # two decimals from 0.01 up, three below so that small effects keep a visible size
    size_key = np.where(hundredths >= 1, hundredths * 2 + 1, np.rint(size * 1000) * 2)
    size_key = size_key.astype(np.int64)
    span = int(size_key.max(initial=0)) + 1
    key = (label * 2 + (picked < 0)) * span + size_key
    distinct, inverse = np.unique(key.ravel(), return_inverse=True)
    text = np.array([f"{labels[int(q) // (2 * span)]}: {'-' if (q // span) % 2 else '+'}"
                     f"{_size_text(int(q % span))}" for q in distinct], dtype=object)
    cells = text[inverse.ravel()].reshape(n, k)
    return pd.DataFrame({f"reason_{i + 1}": cells[:, i] for i in range(k)},
                        index=expl.values.index, dtype="str")


def _size_text(size_key: int) -> str:
    return f"{size_key // 2 / 100:.2f}" if size_key % 2 else f"{size_key // 2 / 1000:.3f}"


def _value_labels(values: pd.Series, variable: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes of ``values`` and their labels (``'level = L4-L5'``), missing last."""
    col = schema.BY_NAME.get(variable)
    kind = col.kind if col is not None else None
    if kind is None and pd.api.types.is_numeric_dtype(values.dtype):
        kind = Kind.NUMBER
    if kind in (Kind.NUMBER, Kind.INTEGER, Kind.BOOLEAN):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        numbers = _round_significant(numbers, 3) if kind is Kind.NUMBER else np.round(numbers)
        codes, uniques = pd.factorize(numbers)
        if kind is Kind.BOOLEAN:
            shown = ["yes" if u else "no" for u in uniques]
        elif kind is Kind.INTEGER:
            shown = [f"{int(u)}" for u in uniques]
        else:
            shown = [f"{u:.6g}" for u in uniques]
    else:
        codes, uniques = pd.factorize(values.astype(object))
        shown = [str(u) for u in uniques]
    names = [f"{variable} = {s}" for s in shown]
    missing = f"{variable} = missing" + (f" ({col.missing_means})" if col is not None
                                         and col.missing_means else "")
    codes = np.where(codes < 0, len(names), codes)
    return codes, [*names, missing]


def _round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(x)))
    scale = 10.0 ** (digits - 1 - np.where(np.isfinite(magnitude), magnitude, 0.0))
    return np.round(x * scale) / scale


def ranking_agreement(importance: pd.Series, true_effects: pd.Series,
                      k: int = 5) -> dict[str, Any]:
    """How well an explanation ranks variables compared with the generator's true effects.

    Variables present on one side only count as zero on the other (a variable the generator
    does not use has no true effect; one the model does not see has no importance). Signed
    true effects are compared by size.

    Parameters
    ----------
    importance : Series
        Importance per variable, e.g. :func:`global_importance`.
    true_effects : Series
        True effect per variable (e.g. ``resorb.cohort.true_effects()``), any scale.
    k : int
        Size of the top sets compared.

    Returns
    -------
    dict
        ``spearman`` (rank correlation over the union of variables, NaN when a side is
        constant), ``top_k_overlap`` (shared share of the two top-``k`` sets, 0-1),
        ``top_k_shared`` (those variables, by true rank), ``k``, ``n_variables``,
        ``only_in_importance`` and ``only_in_truth`` (names seen on one side only).
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"The 'k' parameter of ranking_agreement must be an int >= 1. "
                         f"Got {k!r} instead.")
    common = importance.index.intersection(true_effects.index)
    if common.empty:
        raise ValueError("importance and true_effects share no variable name; importance has "
                         f"{list(importance.index[:5])}..., true_effects has "
                         f"{list(true_effects.index[:5])}...")
    names = importance.index.union(true_effects.index)
    model_side = importance.reindex(names).fillna(0.0).abs().astype(float)
    truth = true_effects.reindex(names).fillna(0.0).abs().astype(float)
    rank_a = model_side.rank().to_numpy()
    rank_b = truth.rank().to_numpy()
    if rank_a.std() == 0 or rank_b.std() == 0:
        spearman = float("nan")
    else:
        spearman = float(np.corrcoef(rank_a, rank_b)[0, 1])
    top_model = set(model_side.sort_values(ascending=False, kind="stable").index[:k])
    top_true = list(truth.sort_values(ascending=False, kind="stable").index[:k])
    shared = [v for v in top_true if v in top_model]
    return {
        "spearman": spearman,
        "top_k_overlap": len(shared) / min(k, len(names)),
        "top_k_shared": shared,
        "k": k,
        "n_variables": len(names),
        "only_in_importance": sorted(set(importance.index) - set(true_effects.index)),
        "only_in_truth": sorted(set(true_effects.index) - set(importance.index)),
    }


# --------------------------------------------------------------------------------- plots


def plot_importance(expl: Explanation, path: str | Path) -> Path:
    """Bar chart of the mean absolute contribution of each variable, as a PNG.

    Parameters
    ----------
    expl : Explanation
    path : str or Path
        PNG file to write (its folder must exist).

    Returns
    -------
    Path of the written file.
    """
    importance = global_importance(expl).iloc[::-1]
    fig, ax = _figure(height=0.3 * len(importance) + 1.2)
    ax.barh(np.arange(len(importance)), importance.to_numpy(), color="#3b6ea5")
    ax.set_yticks(np.arange(len(importance)), importance.index)
    ax.set_xlabel("Mean |contribution| to the probability of resorption")
    ax.set_title("Which findings move the predicted chance of resorption")
    return _save(fig, path)


def plot_beeswarm(expl: Explanation, path: str | Path, max_display: int = 15,
                  max_points: int = 2000, seed: int = 0) -> Path:
    """One row of points per variable: each patient's contribution, coloured by value.

    Parameters
    ----------
    expl : Explanation
    path : str or Path
        PNG file to write (its folder must exist).
    max_display : int
        Most important variables shown.
    max_points : int
        Rows drawn at most (a seeded sample of them beyond that).
    seed : int
        Seed of the row sample and the vertical jitter.

    Returns
    -------
    Path of the written file.
    """
    if not (isinstance(max_display, int) and max_display >= 1):
        raise ValueError("The 'max_display' parameter of plot_beeswarm must be an int >= 1. "
                         f"Got {max_display!r} instead.")
    rng = np.random.default_rng(seed)
    shown = list(global_importance(expl).index[:max_display])[::-1]
    rows = np.arange(len(expl.values))
    if rows.size > max_points:
        rows = np.sort(rng.choice(rows.size, size=max_points, replace=False))
    fig, ax = _figure(height=0.4 * len(shown) + 1.5)
    points = None
    for y, variable in enumerate(shown):
        x = expl.values[variable].to_numpy()[rows]
        colour = _value_rank(expl.feature_values[variable].iloc[rows], variable)
        jitter = y + rng.uniform(-0.3, 0.3, size=x.size)
        missing = np.isnan(colour)
        ax.scatter(x[missing], jitter[missing], s=6, color="#b0b0b0", linewidths=0)
        points = ax.scatter(x[~missing], jitter[~missing], s=6, c=colour[~missing],
                            cmap="coolwarm", vmin=0.0, vmax=1.0, linewidths=0)
    ax.axvline(0.0, color="#444444", linewidth=0.8)
    ax.set_yticks(np.arange(len(shown)), shown)
    ax.set_xlabel("Contribution to the probability of resorption (grey: value missing)")
    ax.set_title("How each finding pushes individual patients' chance of resorption")
    if points is not None:
        bar = fig.colorbar(points, ax=ax, ticks=[0.0, 1.0], fraction=0.04, pad=0.02)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("Value of the finding")
    return _save(fig, path)


def _figure(height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # a bare Agg figure: no pyplot state, no interactive backend
    fig = Figure(figsize=(8.0, max(2.5, height)), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, format="png", dpi=120)
    return path


def _value_rank(values: pd.Series, variable: str) -> np.ndarray:
    """Colour position in [0, 1] of each value (low to high); NaN when missing."""
    col = schema.BY_NAME.get(variable)
    if col is not None and col.categories:
        position = pd.Series(np.arange(len(col.categories), dtype=float), index=col.categories)
        rank = values.astype(object).map(position).to_numpy(dtype=float, na_value=np.nan)
        return rank / max(len(col.categories) - 1, 1)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype(float)
    else:
        codes = pd.factorize(values)[0].astype(float)
        numbers = pd.Series(np.where(codes < 0, np.nan, codes), index=values.index)
    low, high = numbers.min(), numbers.max()
    if not np.isfinite(low) or high == low:
        return np.where(numbers.isna(), np.nan, 0.5)
    return numbers.rank(pct=True).to_numpy(dtype=float, na_value=np.nan)
