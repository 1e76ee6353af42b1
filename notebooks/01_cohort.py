# %% [markdown]
# # 01 - A synthetic cohort next to the published evidence
#
# Generate the `literature` preset, look at its distributions, and read the fidelity table:
# every target with its published value, source, simulated value and 95% interval.
# Parameters and sources live in `params.yaml` (section `cohort`).

# %%
import os

import matplotlib.pyplot as plt

from resorb.cohort import check_fidelity, make_cohort

N = int(os.environ.get("RESORB_NOTEBOOK_N", "20000"))
cohort = make_cohort(n=N, seed=2026, preset="literature")
cohort.head()

# %% [markdown]
# ## Fidelity: simulated against published

# %%
fidelity = check_fidelity(preset="literature", n=max(N, 20000), seed=2026)
fidelity[["statistic", "published", "simulated", "ci_low", "ci_high", "passed", "source"]]

# %% [markdown]
# ## Resorption by herniation type (non-operated patients)

# %%
observed = cohort[cohort["surgery"].eq(False)]
by_type = observed.groupby("herniation_type", observed=True)["resorbed"].mean().reindex(
    ["bulge", "protrusion", "extrusion", "sequestration"])
ax = by_type.plot.bar(rot=0, color="#4c72b0")
ax.set(ylabel="share resorbed", title="Resorption by herniation type (synthetic)")
plt.tight_layout()

# %% [markdown]
# ## Age, level and volume

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
cohort["age"].plot.hist(bins=30, ax=axes[0], title="age (years)")
cohort["level"].value_counts().sort_index().plot.bar(ax=axes[1], rot=0, title="level")
cohort["herniation_volume_mm3"].plot.hist(bins=40, ax=axes[2], title="volume (mm3)")
plt.tight_layout()
