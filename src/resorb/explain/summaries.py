"""Summaries of an explanation: global importance, each patient's top reasons, and how the
ranking agrees with a synthetic cohort's true effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resorb.explain.values import value_words

if TYPE_CHECKING:
    from resorb.explain.api import Explanation

__all__ = ["global_importance", "ranking_agreement", "top_reasons"]


def global_importance(expl: Explanation) -> pd.Series:
    """Mean absolute contribution of each variable, largest first.

    Parameters
    ----------
    expl : Explanation

    Returns
    -------
    Series indexed by variable, in probability points, sorted descending.

    References
    ----------
    Mean |SHAP| as global importance: Lundberg et al., Nat Mach Intell 2020,
    doi:10.1038/s42256-019-0138-9.
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
        codes, words = value_words(expl.feature_values[variable].iloc[rows], str(variable))
        names = [f"{variable} = {w}" for w in words]
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
