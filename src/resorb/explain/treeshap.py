"""Exact TreeSHAP for scikit-learn's tree ensembles, as vectorised numpy.

This module is the only place in resorb that reads scikit-learn's private tree structures
(``HistGradientBoostingClassifier._predictors`` and ``_baseline_prediction``, each forest
member's ``tree_``); a change there breaks :func:`tree_contributions` and nothing else, and the
tests check it against ``shap.TreeExplainer`` and brute-force Shapley values.

A leaf's value is a game over the features on its path: path-dependent Shapley values come from
``int_0^1 prod_j (o_j t + z_j (1 - t)) dt`` (exact Gauss-Legendre), interventional ones from a
closed form per background pattern. Each leaf is solved once per distinct decision pattern of
the rows, not once per row.

Why not ``shap.TreeExplainer``
------------------------------
It computes the same numbers (the tests compare to 1e-9) but is slower on the batches resorb
explains, and its interventional mode fails its own additivity check on our models. Measured
on the reference boosting candidate (``params.yaml``: 200 trees of 15 leaves, 39 features,
fitted on the 6,271 of 8,000 synthetic patients with an outcome), one thread each, shap
0.51.0, scikit-learn 1.9.1, a shared 2-core AMD EPYC machine, 2026-11:

- 2,000 rows, path-dependent: this module 710 rows/s, shap 1,040 rows/s;
- 20,000 rows, path-dependent: this module 6,300 rows/s, shap 1,020 rows/s (same values to
  2e-15);
- 2,000 rows, interventional with 200 background rows: this module 480 rows/s; shap 97
  rows/s, then ``ExplainerError: Additivity check failed in TreeExplainer``.

A call has a fixed cost of about 1-3 s (compiling the trees into leaf games: 1.1 s here), so
shap is faster below about 3,000 rows; above, the gap grows with the rows explained, and
``resorb score`` explains chunks of up to 200,000 rows (``scoring.chunk_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)

__all__ = ["tree_contributions"]

_CHUNK = 4_000_000  # cells of the (row patterns x background patterns) block held at once
_CHUNK_BYTES = 256 * 2**20  # working memory of the tree engine per block of rows
#: up to this many rows (path-dependent), every leaf at once (:func:`_small_batch_shap`)
SMALL_BATCH = 64


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
    raw, baseline, link = _raw_trees(estimator)
    return [_compile_tree(*tree, groups) for tree in raw], baseline, link


#: (left, right, feature, threshold, missing_left, value, cover) of one tree, children -1 at
#: leaves
_RawTree = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                 np.ndarray]


def _raw_trees(estimator: Any) -> tuple[list[_RawTree], float, str]:
    """Node arrays, raw baseline and link of a fitted HistGradientBoosting or forest."""
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
            trees.append((
                np.where(leaf, -1, nodes["left"].astype(np.intp)),
                np.where(leaf, -1, nodes["right"].astype(np.intp)), nodes["feature_idx"],
                nodes["num_threshold"], nodes["missing_go_to_left"], nodes["value"],
                nodes["count"].astype(float)))
        return trees, float(np.ravel(estimator._baseline_prediction)[0]), "logit"
    if isinstance(estimator, RandomForestClassifier | ExtraTreesClassifier):
        n_trees = len(estimator.estimators_)
        trees = []
        for member in estimator.estimators_:
            t = member.tree_
            counts = t.value[:, 0, :]
            share = counts[:, 1] / np.where(counts.sum(axis=1) > 0, counts.sum(axis=1), 1.0)
            missing = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=bool))
            trees.append((t.children_left, t.children_right, t.feature, t.threshold,
                          np.asarray(missing), share / n_trees, t.weighted_n_node_samples))
        return trees, 0.0, "identity"
    raise TypeError("The final step of the model must be MonotoneLogisticRegression, "
                    "HorizonMonotone or a HistGradientBoosting/RandomForest classifier. Got "
                    f"{type(estimator).__name__} instead.")


def tree_contributions(estimator: Any, Z: Any, Zb: Any | None, groups: np.ndarray,
                       n_groups: int) -> tuple[np.ndarray, float, np.ndarray, str]:
    """Exact TreeSHAP of a fitted tree ensemble, summed over groups of features.

    Lundberg et al., "From local explanations to global understanding with explainable AI for
    trees", Nat Mach Intell 2020, doi:10.1038/s42256-019-0138-9 (path-dependent: Algorithm 2;
    interventional: the background-weighted game of its Methods).

    Parameters
    ----------
    estimator : fitted classifier
        Binary ``HistGradientBoostingClassifier``, ``RandomForestClassifier`` or
        ``ExtraTreesClassifier``.
    Z : array-like of shape (n_rows, n_features)
        Transformed rows to explain (numbers; NaN follows each split's learned side).
    Zb : array-like of shape (n_background, n_features) or None
        Background rows (interventional), or None for the trees' training distribution
        (path-dependent, through the node counts).
    groups : ndarray of int, shape (n_features,)
        Group (clinical variable) of each feature, in ``0 .. n_groups - 1``.
    n_groups : int
        Number of groups.

    Returns
    -------
    phi : ndarray of shape (n_rows, n_groups)
        Contributions in the model's raw space (log-odds for boosting, probability for a
        forest).
    base : float
        Raw output at the reference; ``base + phi.sum(axis=1) == raw``.
    raw : ndarray of shape (n_rows,)
        The model's raw output for each row.
    link : {"logit", "identity"}
        How ``raw`` maps to the probability of class 1.

    Raises
    ------
    TypeError
        For an estimator that is not one of the above.
    ValueError
        For multiclass boosting, native categorical splits or trees deeper than 52 levels.
    """
    n_rows = np.shape(Z)[0]
    if Zb is None and n_rows <= SMALL_BATCH:
        raw_trees, baseline, link = _raw_trees(estimator)
    else:
        trees, baseline, link = _compile_ensemble(estimator, groups)
    # forests compare float32 inputs with their thresholds
    cast = np.float32 if link == "identity" else np.float64
    xt = np.ascontiguousarray(np.asarray(Z, dtype=cast).T, dtype=np.float64)
    xbt = None if Zb is None else np.ascontiguousarray(np.asarray(Zb, dtype=cast).T,
                                                       dtype=np.float64)
    if Zb is None and n_rows <= SMALL_BATCH:
        phi, base = _small_batch_shap(raw_trees, xt, groups, n_groups)
    else:
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
           else np.asarray(estimator.predict_proba(Z), dtype=float)[:, 1])
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


def _small_batch_shap(raw: list[_RawTree], xt: np.ndarray, groups: np.ndarray,
                      n_groups: int) -> tuple[np.ndarray, float]:
    """Path-dependent contributions (n, n_groups) and base value, every leaf at once.

    The same leaf games as :func:`_tree_shap` (the product game over the distinct features
    of each leaf's path, solved by Gauss-Legendre), but laid out as padded arrays over all
    the leaves of all the trees, so that the cost is a few dozen numpy calls instead of a
    dozen per leaf: for the few rows of a small ``resorb score`` the per-leaf calls, not
    the rows, were the cost (docs/scoring.md "Start-up"). Padded slots have o = z = 1,
    a factor of 1 in every product and no contribution.
    """
    sizes = np.array([tree[0].size for tree in raw], dtype=np.intp)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    left, right, feature, threshold, missing_left, value, cover = (
        np.concatenate([np.asarray(tree[k]) for tree in raw]) for k in range(7))
    left, right = left.astype(np.intp), right.astype(np.intp)
    tree_of = np.repeat(np.arange(len(raw)), sizes)
    internal = left >= 0
    left = np.where(internal, left + offsets[tree_of], -1)
    right = np.where(internal, right + offsets[tree_of], -1)
    parent = np.full(left.size, -1, dtype=np.intp)
    parent[left[internal]] = np.flatnonzero(internal)
    parent[right[internal]] = np.flatnonzero(internal)
    went_left = np.zeros(left.size, dtype=bool)
    went_left[left[internal]] = True
    value = value.astype(float)
    cover = cover.astype(float)
    leaves = np.flatnonzero(~internal & (value != 0.0))
    alone = leaves[parent[leaves] < 0]  # a tree that is a single leaf
    leaves = leaves[parent[leaves] >= 0]
    root = offsets[tree_of[leaves]]
    base = float(value[alone].sum() + (value[leaves] * cover[leaves] / cover[root]).sum())
    # the path of each leaf, climbed upwards: split, side taken, cover kept
    splits, sides, kept = [], [], []
    node = leaves
    while True:
        up = parent[node]
        live = up >= 0
        if not live.any():
            break
        safe = np.where(live, up, 0)
        splits.append(np.where(live, up, -1))
        sides.append(went_left[node])
        with np.errstate(divide="ignore", invalid="ignore"):
            kept.append(np.where(cover[safe] > 0, cover[node] / cover[safe], 0.0))
        node = np.where(live, up, node)
    split = np.column_stack(splits)  # (n_leaves, depth), -1 past the root
    side, ratio = np.column_stack(sides), np.column_stack(kept)
    valid = split >= 0
    if split.shape[1] > 52:
        raise ValueError("explain supports trees up to 52 levels deep; refit with a smaller "
                         "max_depth")
    feat = np.where(valid, feature[np.maximum(split, 0)], -1)
    # slots: the distinct features of a path, numbered in order of first appearance
    same = (feat[:, :, None] == feat[:, None, :]) & valid[:, None, :]
    first = np.argmax(same, axis=2)
    starts = valid & (first == np.arange(feat.shape[1]))
    numbered = np.cumsum(starts, axis=1) - 1
    slot = np.where(valid, np.take_along_axis(numbered, first, axis=1), 0)
    d = int(starts.sum(axis=1).max())
    rows_of = np.arange(leaves.size)
    z = np.ones((leaves.size, d))
    for e in range(split.shape[1]):
        z[rows_of, slot[:, e]] *= np.where(valid[:, e], ratio[:, e], 1.0)
    slot_feature = np.full((leaves.size, d), -1, dtype=np.intp)
    slot_feature[rows_of[:, None].repeat(split.shape[1], 1)[valid], slot[valid]] = feat[valid]
    used = slot_feature >= 0
    to_group = csr_matrix((np.ones(int(used.sum())),
                           (groups[slot_feature[used]], np.flatnonzero(used.ravel()))),
                          shape=(n_groups, leaves.size * d))
    t, w = _gauss_legendre(d // 2 + 1)
    cells = xt[feature[internal]]
    goes_left = cells <= threshold[internal][:, None]
    goes_left |= np.isnan(cells) & missing_left[internal].astype(bool)[:, None]
    row_of_node = np.full(left.size, -1, dtype=np.intp)
    row_of_node[internal] = np.arange(int(internal.sum()))
    n = xt.shape[1]
    out = np.empty((n, n_groups))
    # about 8 (d, nodes) float arrays per leaf and row
    step = max(1, _CHUNK_BYTES // (64 * leaves.size * d * t.size))
    for start in range(0, n, step):
        cols = slice(start, start + step)
        k = goes_left[:, cols].shape[1]
        o = np.ones((leaves.size, d, k), dtype=bool)
        for e in range(split.shape[1]):
            took = goes_left[row_of_node[np.maximum(split[:, e], 0)], cols] == side[:, e, None]
            o[rows_of, slot[:, e]] &= took | ~valid[:, e, None]
        of = o.astype(float)
        f = of[:, :, None, :] * t[:, None] + (z[:, :, None] * (1.0 - t))[:, :, :, None]
        before, after = np.ones_like(f), np.ones_like(f)
        for j in range(1, d):
            np.multiply(before[:, j - 1], f[:, j - 1], out=before[:, j])
            np.multiply(after[:, -j], f[:, -j], out=after[:, -j - 1])
        integral = np.einsum("ldqk,q->ldk", before * after, w)
        phi = (of - z[:, :, None]) * integral * value[leaves][:, None, None]
        out[cols] = (to_group @ phi.reshape(leaves.size * d, k)).T
    return out, base


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

