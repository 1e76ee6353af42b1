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
comparison.leaderboard[["candidate", "champion", "auroc", "auroc_ci", "calibration_slope",
                        "calibration_slope_ci", "ici", "brier"]]

# %% [markdown]
# ## Calibration: are the probabilities trustworthy?

# %%
import tempfile
from pathlib import Path

from IPython.display import Image

plots = Path(tempfile.mkdtemp())

figures.plot_calibration({k: e.calibration for k, e in comparison.evaluations.items()},
                         plots / "calibration.png")
Image(plots / "calibration.png")

# %% [markdown]
# ## Decision curve: net benefit of offering watchful waiting

# %%
figures.plot_decision_curve({k: e.decision for k, e in comparison.evaluations.items()},
                            plots / "decision_curve.png")
Image(plots / "decision_curve.png")
