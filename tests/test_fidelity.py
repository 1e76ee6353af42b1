"""resorb.cohort.check_fidelity: every preset reproduces its published targets."""

from __future__ import annotations

import numpy as np
import pytest

from resorb.cohort import (
    PRESETS,
    check_fidelity,
    fidelity,
    load_cohort_params,
)
from resorb.errors import ConfigError

SIZES = {"literature": 50_000, "komori1998": 20_000, "schmidt2025": 20_000,
         "other_hospital": 20_000}


@pytest.fixture(scope="module")
def tables():
    """The fidelity table of each preset at a moderate n (built once)."""
    return {preset: check_fidelity(preset, SIZES[preset], 2024) for preset in PRESETS}


@pytest.mark.parametrize("preset", PRESETS)
def test_every_target_passes(tables, preset):
    table = tables[preset]
    failed = table.loc[~table["passed"], ["statistic", "published", "simulated", "tolerance"]]
    assert failed.empty, f"\n{failed.to_string()}"


@pytest.mark.parametrize("preset", PRESETS)
def test_table_shape(tables, preset):
    table = tables[preset]
    assert list(table.columns) == list(fidelity.COLUMNS)
    assert len(table) == len(load_cohort_params(preset).targets)
    assert table["source"].str.len().gt(0).all()
    sampled = table["note"].str.contains("rows")
    inside = (table["ci_low"] <= table["simulated"]) & (table["simulated"] <= table["ci_high"])
    assert inside[sampled].all()


@pytest.mark.parametrize(("preset", "statistic"), [
    ("literature", "resorbed by 12 months, sequestration"),
    ("literature", "resorbed by 9 months, no rim (contrast)"),
    ("literature", "r(herniation volume, leg pain VAS)"),
    ("literature", "operated within 1 year"),
    ("komori1998", "migrating that shrank"),
    ("schmidt2025", "volume change, control (mean %)"),
])
def test_required_targets_are_declared(tables, preset, statistic):
    assert statistic in set(tables[preset]["statistic"])


def test_a_wrong_model_fails():
    params = load_cohort_params()
    resorption = params.resorption.model_copy(update={"intercept": -2.0})
    table = check_fidelity("literature", 20_000, 1,
                           params=params.model_copy(update={"resorption": resorption}))
    assert not table["passed"].all()
    assert "resorbed by 12 months, all types" in set(table.loc[~table["passed"], "statistic"])


def test_unknown_preset():
    with pytest.raises(ConfigError, match="literature, komori1998, schmidt2025"):
        check_fidelity("nope", 100, 0)


def test_same_seed_same_table():
    a = check_fidelity("schmidt2025", 2000, 5)
    b = check_fidelity("schmidt2025", 2000, 5)
    assert np.array_equal(a["simulated"].to_numpy(), b["simulated"].to_numpy())
