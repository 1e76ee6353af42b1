"""Explanations of predicted resorption: SHAP values per clinical variable, probability scale.

- :func:`explain` -> :class:`Explanation` (``values``, ``base_value``, ``feature_values``;
  ``Explanation.to_shap()`` gives a ``shap.Explanation`` for shap's own plots), in
  :mod:`resorb.explain.api`; the engines behind it are :mod:`resorb.explain.linear` and
  :mod:`resorb.explain.treeshap` (the only module reading scikit-learn's private tree
  structures).
- :func:`global_importance`, :func:`top_reasons` (clinical words),
  :func:`ranking_agreement` (against a synthetic cohort's true effects).
- :func:`importance_figure`, :func:`beeswarm_figure`, :func:`waterfall_figure`: matplotlib
  Figures; the caller saves them.

Importing this package loads scikit-learn (through :mod:`resorb.models`) but neither shap nor
matplotlib, which load when a figure or ``to_shap()`` is asked for.
"""

from resorb.explain.api import Explanation, explain
from resorb.explain.plots import beeswarm_figure, importance_figure, waterfall_figure
from resorb.explain.summaries import global_importance, ranking_agreement, top_reasons

__all__ = ["Explanation", "beeswarm_figure", "explain", "global_importance",
           "importance_figure", "ranking_agreement", "top_reasons", "waterfall_figure"]
