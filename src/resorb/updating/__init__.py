"""Updating a fitted model to a new hospital's patients: recalibrate, revise or refit.

Every method except refit acts on the parent model's log-odds ``LP = logit(p_parent(x))``
(``p`` clipped to [1e-6, 1 - 1e-6]), so it works for every candidate of :mod:`resorb.models`,
tree ensembles and recalibrated models included (Steyerberg EW, Clinical Prediction Models,
2nd ed., Springer 2019, ch. 20; Janssen KJM et al., J Clin Epidemiol 2008;61:76-86,
doi:10.1016/j.jclinepi.2007.04.018):

- ``intercept``: recalibration in the large, ``logit p = a + LP`` (LP as offset, 1 parameter);
- ``recalibrate``: logistic recalibration, ``logit p = a + b LP`` (2 parameters);
- ``revise``: ``logit p = a + b LP + sum_j g_j t_j(x)`` with the :data:`REVISION_TERMS`, a
  compact linear encoding of the main clinical predictors (herniation type, rim enhancement,
  migration, Modic change, symptom duration, age: 9 terms), re-estimated on the new data with
  a ridge penalty on the ``g_j`` (standardised terms) chosen by AIC with effective degrees of
  freedom (le Cessie S, van Houwelingen JC, Appl Stat 1992;41:191-201); the parent's
  remaining structure (splines, trees, other predictors) is kept through LP;
- ``refit``: the parent's candidate (its params.yaml spec) fitted from scratch on the new data.

``auto`` is the closed testing procedure of Vergouwe Y, Nieboer D, Oostenbrink R et al., A
closed testing procedure to select an appropriate method for updating prediction models, Stat
Med 2017;36:4529-4539, doi:10.1002/sim.7179 (:func:`closed_test`): likelihood-ratio tests on
the new data, each against the most extensive model (the revision, fitted by unpenalised
maximum likelihood), from the least extensive method up, stopping at the first that is not
rejected at ``alpha``:

1. original model vs revision, ``df = k + 2``: not rejected -> keep the original;
2. recalibration in the large vs revision, ``df = k + 1``: not rejected -> ``intercept``;
3. logistic recalibration vs revision, ``df = k``: not rejected -> ``recalibrate``;
   rejected -> ``revise``,

with ``k`` the revision terms that vary in the data. The order and the comparator follow the
paper's description: the extensiveness of the updating increases progressively from the
original model to the revised model, every test against the revised model, with P + 1, P
and P - 1 degrees of freedom for a revision of P coefficients (here P = k + 1). Only the
paper's abstract could be checked while writing this; docs/updating.md says so.
Refit is never chosen by ``auto``: it discards the parent.

The updated model is one estimator, :class:`UpdatedModel`, with ``predict_proba`` on the same
model input as the parent; it is saved with :mod:`resorb.serialization` (skops) and explained
by :func:`resorb.explain.explain`.

The package's modules: :mod:`~resorb.updating.terms` (the parent's log-odds, the revision
terms), :mod:`~resorb.updating.likelihood` (the penalised logistic core),
:mod:`~resorb.updating.model` (:class:`UpdatedModel`), :mod:`~resorb.updating.closed_testing`,
:mod:`~resorb.updating.methods` (names, parameter counts, sample size) and
:mod:`~resorb.updating.update` (:func:`fit_update`). Every name keeps its former path
``resorb.updating.X``; :class:`UpdatedModel`'s ``__module__`` is set to ``resorb.updating``
(as :mod:`resorb.models` does for its estimators), the path skops stores in saved models and
:data:`resorb.serialization.TRUSTED_TYPES` names.
"""

from __future__ import annotations

from resorb.updating.closed_testing import ClosedTest, TestStep, closed_test
from resorb.updating.likelihood import _binary, _effective_df, _fit, _nll, _Standardised
from resorb.updating.methods import (
    CHOICES,
    KEEP,
    METHOD_WORDS,
    METHODS,
    check_alpha,
    update_parameters,
    update_sample_size,
)
from resorb.updating.model import PENALTIES, UpdatedModel
from resorb.updating.terms import _RIM, CLIP, REVISION_TERMS, parent_log_odds, revision_terms
from resorb.updating.update import Update, fit_update, update_fit_predict

__all__ = [
    "CHOICES",
    "CLIP",
    "KEEP",
    "METHODS",
    "METHOD_WORDS",
    "PENALTIES",
    "REVISION_TERMS",
    "ClosedTest",
    "TestStep",
    "Update",
    "UpdatedModel",
    "check_alpha",
    "closed_test",
    "fit_update",
    "parent_log_odds",
    "revision_terms",
    "update_fit_predict",
    "update_parameters",
    "update_sample_size",
]

UpdatedModel.__module__ = __name__
# private helpers kept at their former path
_REEXPORTED = (_RIM, _binary, _effective_df, _fit, _nll, _Standardised)
