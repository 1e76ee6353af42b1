"""resorb.cohort: the generator honours the data dictionary, its seed and its causal structure."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from resorb import schema
from resorb.cohort import (
    PRESETS,
    draws,
    load_cohort_params,
    make_cohort,
    true_effects,
    with_followup,
)
from resorb.config import DEFAULT_PARAMS, Params
from resorb.errors import ConfigError
from resorb.schema import Kind

N = 4000
DTYPES = {Kind.NUMBER: "float64", Kind.INTEGER: "float64", Kind.CATEGORY: "str",
          Kind.STRING: "str", Kind.BOOLEAN: "boolean", Kind.DATE: "datetime64[ns]"}


@pytest.fixture(scope="module")
def cohorts() -> dict[str, pd.DataFrame]:
    """One small cohort per preset (built once for the module)."""
    return {preset: make_cohort(N, 11, preset) for preset in PRESETS}


@pytest.fixture
def write_params(tmp_path):
    """Factory: params.yaml with one cohort value changed, returns its path."""

    def write(edit) -> Path:
        data = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
        edit(data["cohort"]["presets"]["literature"]["parameters"])
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path

    return write


@pytest.mark.parametrize("preset", PRESETS)
def test_columns_follow_the_dictionary(cohorts, preset):
    frame = cohorts[preset]
    assert list(frame.columns) == list(schema.NAMES)
    assert len(frame) == N


@pytest.mark.parametrize("col", schema.COLUMNS, ids=lambda c: c.name)
@pytest.mark.parametrize("preset", PRESETS)
def test_dtype_range_and_categories(cohorts, preset, col):
    s = cohorts[preset][col.name]
    assert str(s.dtype) == DTYPES[col.kind]
    seen = s.dropna()
    if col.kind in (Kind.NUMBER, Kind.INTEGER) and len(seen):
        assert seen.between(col.minimum, col.maximum).all(), (seen.min(), seen.max())
    if col.kind is Kind.INTEGER:
        assert (seen == np.round(seen)).all()
    if col.categories:
        assert set(seen) <= set(col.categories)
    if col.required:
        assert s.notna().all(), f"required column {col.name} has missing values"


def test_identifiers_look_like_the_spec(cohorts):
    frame = cohorts["literature"]
    assert frame["patient_id"].iloc[0] == "SYN-0000001"
    assert frame["patient_id"].is_unique
    assert set(frame["site"].dropna()) <= {f"site_{c}" for c in "ABCDE"}
    assert (frame["baseline_date"].dropna() == frame["baseline_date"].dropna().dt.normalize()).all()


@pytest.mark.parametrize(("column", "rate"), [("bmi", 0.10), ("multifidus_fat_pct", 0.40),
                                              ("site", 0.02), ("rim_enhancement", 0.65)])
def test_missingness(cohorts, column, rate):
    assert cohorts["literature"][column].isna().mean() == pytest.approx(rate, abs=0.03)


def _bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


@pytest.mark.parametrize("preset", PRESETS)
def test_same_seed_same_bytes(preset):
    assert _bytes(make_cohort(500, 3, preset)) == _bytes(make_cohort(500, 3, preset))


def test_different_seed_different_cohort():
    a = pd.util.hash_pandas_object(make_cohort(500, 3), index=False)
    b = pd.util.hash_pandas_object(make_cohort(500, 4), index=False)
    assert not a.equals(b)


def test_probability_grows_with_the_horizon():
    params = load_cohort_params()
    early = make_cohort(2000, 5, params=with_followup(params, 60))
    late = make_cohort(2000, 5, params=with_followup(params, 400))
    baseline = [c.name for c in schema.COLUMNS if c.role in schema.PREDICTOR_ROLES]
    pd.testing.assert_frame_equal(early[baseline], late[baseline])
    p0, p1 = early["true_resorption_probability"], late["true_resorption_probability"]
    assert p0.between(0, 1).all() and p1.between(0, 1).all()
    assert (p1 >= p0).all() and (p1 > p0).mean() > 0.9


@pytest.mark.parametrize("preset", PRESETS)
def test_operated_rows_have_no_resorption_outcome(cohorts, preset):
    frame = cohorts[preset]
    operated = frame["surgery"].to_numpy(dtype=bool)
    outcomes = frame[["volume_followup_mm3", "resorbed", "resorption_grade"]]
    assert outcomes[operated].isna().all().all()
    assert outcomes[~operated].notna().all().all()
    assert frame.loc[operated, "vas_leg_followup"].notna().all()


def test_surgery_happens_in_the_literature_preset(cohorts):
    assert 0.1 < cohorts["literature"]["surgery"].mean() < 0.5


@pytest.mark.parametrize("min_reduction_pct", [10.0, 0.0, 50.0, 100.0])
def test_label_matches_the_volumes(min_reduction_pct):
    params = load_cohort_params().model_copy(update={"min_reduction_pct": min_reduction_pct})
    frame = make_cohort(3000, 2, params=params).dropna(subset=["resorbed"])
    reduction = 100 * (1 - frame["volume_followup_mm3"] / frame["herniation_volume_mm3"])
    resorbed = frame["resorbed"].to_numpy(dtype=bool)
    assert (reduction[resorbed] >= min_reduction_pct).all()
    assert (reduction[~resorbed] < min_reduction_pct).all()
    assert 0 < resorbed.mean() < 1


@pytest.mark.parametrize("preset", PRESETS)
def test_grades_match_the_label(cohorts, preset):
    frame = cohorts[preset].dropna(subset=["resorbed"])
    by_grade = frame["resorption_grade"].isin(["disappeared", "marked_decrease", "slight_decrease"])
    assert (by_grade.to_numpy() == frame["resorbed"].to_numpy(dtype=bool)).all()


def test_komori_counts_at_48():
    frame = make_cohort(48, 0, "komori1998")
    migrating = frame["migration_grade"] > 0
    extruding = frame["herniation_type"] == "extrusion"
    assert migrating.sum() == 22 and extruding.sum() == 26
    assert (frame.loc[extruding, "rim_enhancement"] == "none").sum() == 6
    assert (frame.loc[migrating, "rim_enhancement"] == "complete").all()
    assert not frame["surgery"].any()


@pytest.mark.parametrize("p", [0.0, 0.13, 0.5, 22 / 48, 1.0])
def test_systematic_sampling_keeps_probabilities_and_counts(p):
    rng = np.random.default_rng(0)
    hits = np.array([draws.bernoulli(rng, p, 48, systematic=True) for _ in range(400)])
    counts = hits.sum(axis=1)
    assert set(counts) <= {np.floor(48 * p + 1e-9), np.ceil(48 * p - 1e-9)}
    assert hits.mean() == pytest.approx(p, abs=0.01)


def test_true_effects_rank_the_rim_first():
    effects = true_effects()
    assert set(effects.index) == set(schema.PREDICTORS)
    assert (effects >= 0).all()
    assert effects.index[0] == "rim_enhancement"
    assert effects[["sex", "pfirrmann_grade", "bmi"]].eq(0).all()
    assert effects[["age", "herniation_volume_mm3", "symptom_duration_days"]].gt(0).all()


@pytest.mark.parametrize("bad", ["nonsense", "Literature", ""])
def test_unknown_preset(bad):
    with pytest.raises(ConfigError, match="komori1998"):
        make_cohort(10, 0, bad)


@pytest.mark.parametrize(("n", "seed", "message"), [
    (0, 0, "n must be a positive integer, got 0"),
    (2.5, 0, "n must be a positive integer, got 2.5"),
    (10, -1, "seed must be a non-negative integer, got -1"),
    (10, "7", "seed must be a non-negative integer, got '7'"),
])
def test_size_and_seed_are_checked(n, seed, message):
    with pytest.raises(ConfigError, match=message):
        make_cohort(n, seed)


def _set_male(p):
    p["population"]["male"] = 1.5


def _bad_mix(p):
    p["imaging"]["herniation_type"]["bulge"] = 0.5


def _bad_level(p):
    p["population"]["level"]["L4/L5"] = p["population"]["level"].pop("L4-L5")


def _not_positive_definite(p):
    p["symptoms"]["latent_correlation"].update({"vas_leg~odi": 0.9, "volume~vas_leg": -0.9})


def _unknown_key(p):
    p["resorption"]["favourite_colour"] = 1


@pytest.mark.parametrize(("edit", "message"), [
    (_set_male, r"population\.male"),
    (_bad_mix, r"herniation_type probabilities sum to 1\.45"),
    (_bad_level, r"unknown categories \['L4/L5'\]"),
    (_not_positive_definite, "not positive definite"),
    (_unknown_key, "favourite_colour"),
])
def test_bad_values_name_the_parameter(write_params, edit, message):
    with pytest.raises(ConfigError, match=message):
        load_cohort_params("literature", Params.resolve(write_params(edit)))


def test_fractions_are_read_as_probabilities():
    params = load_cohort_params("komori1998")
    assert params.imaging.herniation_type["sequestration"] == pytest.approx(22 / 48)
    assert params.sampling == "systematic"
