"""Sample size: to develop a prediction model of resorption, and to validate one.

- :mod:`~resorb.metrics.sample_size.development`: Riley et al., BMJ 2020;368:m441,
  doi:10.1136/bmj.m441 (the criteria; derived in Stat Med 2019;38:1276-1296,
  doi:10.1002/sim.7992), with the anticipated Cox-Snell R2 read off a C-statistic after Riley,
  Van Calster & Collins, Stat Med 2021;40:859-864, doi:10.1002/sim.8806.
  :func:`sample_size_check` returns the verdict as typed data (:class:`SampleSizeReport`).
- :mod:`~resorb.metrics.sample_size.validation`: :func:`validation_sample_size`, the minimum
  size of an external validation data set (Riley et al., Stat Med 2021;40:4230-4251,
  doi:10.1002/sim.9025), as :class:`ValidationSampleSize`.

Every name keeps its former path ``resorb.metrics.sample_size.X``.
"""

from __future__ import annotations

from resorb.metrics.sample_size.development import (
    SampleSizeReport,
    _ceil,
    _max_r2_cs,
    _n_for_shrinkage,
    _null_loglik,
    _r2_cs_from_c,
    expected_shrinkage,
    minimum_sample_size,
    sample_size_check,
)
from resorb.metrics.sample_size.validation import (
    ValidationCriterion,
    ValidationSampleSize,
    _c_statistic_se,
    _lp_nodes,
    _n_c,
    _n_net_benefit,
    _n_oe,
    _n_slope,
    _sensitivity_specificity,
    _slope_variance_per_row,
    validation_precision,
    validation_sample_size,
)

__all__ = [
    "SampleSizeReport",
    "ValidationCriterion",
    "ValidationSampleSize",
    "expected_shrinkage",
    "minimum_sample_size",
    "sample_size_check",
    "validation_precision",
    "validation_sample_size",
]
# private helpers kept at their former path (tests/metrics/test_sample_size_validation.py)
_REEXPORTED = (_ceil, _max_r2_cs, _n_for_shrinkage, _null_loglik, _r2_cs_from_c,
               _c_statistic_se, _lp_nodes, _n_c, _n_net_benefit, _n_oe, _n_slope,
               _sensitivity_specificity, _slope_variance_per_row)
