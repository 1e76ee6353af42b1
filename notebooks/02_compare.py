# %% [markdown]
# # 02 - Compare candidate models, read calibration and decision curves
#
# Every candidate in `params.yaml` on identical folds; the leaderboard gives each metric with
# its bootstrap 95% interval and the champion is chosen by a rule that weighs calibration.

# %%
import os

from resorb import figures
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.training import compare_candidates

N = int(os.environ.get("RESORB_NOTEBOOK_N", "5000"))
fast = {"training.n_boot": 30, "training.folds": 3}  # RESORB_NOTEBOOK_FAST: the test suite
params = Params.resolve(overrides=fast if os.environ.get("RESORB_NOTEBOOK_FAST") else None)
cohort = make_cohort(n=N, seed=2026)
comparison = compare_candidates(cohort, params, seed=2026)
print(comparison.data.account())
comparison.leaderboard[["candidate", "champion", "auroc", "auroc_ci_low", "auroc_ci_high",
                        "calibration_slope", "calibration_slope_ci_low",
                        "calibration_slope_ci_high", "ici", "brier"]]

# %% [markdown]
# ## Calibration: are the probabilities trustworthy?

# %%
from IPython.display import Image

calibration = figures.calibration_figure(
    {k: e.calibration for k, e in comparison.evaluations.items()})
Image(figures.png_bytes(calibration))

# %% [markdown]
# ## Decision curve: net benefit of offering watchful waiting

# %%
decision = figures.decision_curve_figure(
    {k: e.decision for k, e in comparison.evaluations.items()})
Image(figures.png_bytes(decision))
