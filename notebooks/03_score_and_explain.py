# %% [markdown]
# # 03 - Score a batch of follow-up candidates and read the reasons
#
# The reference predictor (`models/reference`, or `resorb@champion` when a registry is set up)
# scores this week's candidates: probability of resorption at the horizon asked about, a risk
# band, eligibility for watchful waiting (never with a red flag), the top reasons in clinical
# words, and inputs outside what the model was trained on. Rows that fail validation are kept
# and marked rejected, never dropped.

# %%
import os
from pathlib import Path

from resorb.cohort import make_cohort
from resorb.explain import explain, global_importance
from resorb.features import model_input
from resorb.scoring import load_model, score_frame

N = int(os.environ.get("RESORB_NOTEBOOK_N", "2000"))
# the shipped reference predictor (use load_model() for the registry champion)
model = load_model(str(Path("..") / "models" / "reference"))
print(model.describe())

# %% [markdown]
# ## A batch of candidates (synthetic, outcome columns removed), with two problems planted

# %%
outcomes = ["volume_followup_mm3", "resorbed", "resorption_grade", "surgery",
            "vas_leg_followup", "odi_followup", "true_resorption_probability", "followup_days"]
batch = make_cohort(n=min(N, 500), seed=7).drop(columns=outcomes)
vas = batch["vas_leg"].to_numpy().copy()
vas[3] = 72.0  # recorded on 0-100 by mistake
cauda = batch["cauda_equina"].to_numpy().copy()
cauda[5] = True  # a red flag
batch = batch.assign(vas_leg=vas, cauda_equina=cauda)

scored = score_frame(batch, model, horizon_days=180, explain_k=3)
scored[["patient_id", "p_resorption", "risk_band", "eligible_for_waiting",
        "eligibility_reason", "reason_1", "reason_2", "status", "reason"]].head(8)

# %% [markdown]
# ## Every row is accounted for

# %%
scored["status"].value_counts()

# %% [markdown]
# ## What drives the model across the batch

# %%
valid = batch.drop(index=[3])
expl = explain(model.estimator, model_input(valid), background=model_input(valid))
global_importance(expl).head(10)
