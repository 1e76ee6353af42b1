"""Train, validate and compare candidates: pure functions from frames to results.

Nothing here touches MLflow, files or the terminal; :mod:`resorb.tracking` logs what these
functions return and :mod:`resorb.cli` prints it.

The package's modules: :mod:`~resorb.training.crossval` (:func:`prepare`, the shared folds,
one unit of cross-validation), :mod:`~resorb.training.validation` (:class:`Evaluation`,
:func:`evaluate`), :mod:`~resorb.training.sizing` (candidate parameters, the Riley check),
:mod:`~resorb.training.candidate` (:func:`train_candidate`),
:mod:`~resorb.training.comparison` (:func:`compare_candidates`) and
:mod:`~resorb.training.tables` (:func:`subgroup_table`, :func:`missingness_table`). Every
name keeps its former path ``resorb.training.X``.
"""

from __future__ import annotations

from resorb.champion import champion_score
from resorb.training.candidate import (
    Progress,
    TrainResult,
    _fitted_penalty,
    _train_unit,
    train_candidate,
)
from resorb.training.comparison import Comparison, compare_candidates
from resorb.training.crossval import (
    _averaged,
    fold_prediction,
    make_folds,
    out_of_fold,
    prepare,
    refit_predict,
)
from resorb.training.sizing import candidate_parameters, count_parameters, size_candidate
from resorb.training.tables import _age_band, _hide_small, missingness_table, subgroup_table
from resorb.training.validation import Evaluation, evaluate, evaluate_candidate

__all__ = [
    "Comparison",
    "Evaluation",
    "Progress",
    "TrainResult",
    "candidate_parameters",
    "compare_candidates",
    "count_parameters",
    "evaluate",
    "evaluate_candidate",
    "fold_prediction",
    "make_folds",
    "missingness_table",
    "out_of_fold",
    "prepare",
    "refit_predict",
    "size_candidate",
    "subgroup_table",
    "train_candidate",
]
# kept at their former path: private helpers, and champion_score (tests/test_training.py)
_REEXPORTED = (_age_band, _averaged, _fitted_penalty, _hide_small, _train_unit, champion_score)
