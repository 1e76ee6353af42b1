"""Synthetic cohorts: the generative model, its presets and its fidelity to the literature.

Public API (the CLI calls these; the tests call them directly):

- :data:`PRESETS` and :func:`load_cohort_params`: the parameters in params.yaml ``cohort:``.
- :func:`make_cohort`: draw a canonical frame of ``n`` patients.
- :func:`check_fidelity`: compare a simulated cohort with the published figures.
- :func:`true_effects`: the generator's true importance of each predictor.
"""

from resorb.cohort.fidelity import check_fidelity
from resorb.cohort.generator import make_cohort, true_effects
from resorb.cohort.params import PRESETS, CohortParams
from resorb.cohort.presets import load_cohort_params, with_followup

__all__ = [
    "PRESETS",
    "CohortParams",
    "check_fidelity",
    "load_cohort_params",
    "make_cohort",
    "true_effects",
    "with_followup",
]
