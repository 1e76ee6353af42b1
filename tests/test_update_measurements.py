"""``resorb update`` warns when the update data measure otherwise than the parent's training.

An update keeps the parent's structure and re-estimates part of it on the new data, so an
input measured by volumetry in training and derived from diameters in the update data (or the
reverse) gives a model of mixed measurements; and the label compares the two volumes of the
update data, which must be measured the same way. The warning goes to stderr and, as a tag
naming columns and derivations only, to the update's MLflow run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from resorb.cohort import make_cohort
from resorb.intake.derive import update_measurement_warnings
from tests.factories import FAST_PARAMS

REFERENCE_FOLDER = Path(__file__).resolve().parents[1] / "models" / "reference"
RESORB = Path(sys.executable).with_name("resorb")
ELLIPSOID = ("ellipsoid from 3 diameters (pi/6 x AP x transverse x craniocaudal), an "
             "approximation of a 3D volumetry (from mm)")
OCCUPATION = "100 x herniation AP diameter / canal AP diameter (from mm)"
FEATURES = ("age", "herniation_volume_mm3", "canal_occupation_pct", "followup_days")
BOTH = ("herniation_volume_mm3", "volume_followup_mm3")
WITH_LABEL = (*FEATURES, "volume_followup_mm3")  # the update data's columns
ROUTINE_LIKE = ("age", "followup_days", *BOTH)  # a model without the volume: its data


@pytest.mark.parametrize(("trained", "given", "columns", "expected"), [
    # measured as in training: nothing to say
    ({}, {}, WITH_LABEL, ()),
    ({v: ELLIPSOID for v in BOTH}, {v: ELLIPSOID for v in BOTH}, WITH_LABEL, ()),
    # an exact derivation is the measurement itself
    ({}, {"canal_occupation_pct": OCCUPATION}, FEATURES, ()),
    # both label volumes derived here, measured in training
    ({}, {v: ELLIPSOID for v in BOTH}, WITH_LABEL, (
        f"herniation_volume_mm3: measured in training, derived ({ELLIPSOID}) here",
        f"volume_followup_mm3 (label): measured in training, derived ({ELLIPSOID}) here")),
    # derived in training, measured here
    ({"herniation_volume_mm3": ELLIPSOID}, {}, FEATURES, (
        f"herniation_volume_mm3: derived ({ELLIPSOID}) in training, measured here",)),
    # the baseline volume derived, the follow-up volume measured: the label mixes them
    ({}, {"herniation_volume_mm3": ELLIPSOID}, WITH_LABEL, (
        f"herniation_volume_mm3: measured in training, derived ({ELLIPSOID}) here",
        f"the label compares herniation_volume_mm3 derived ({ELLIPSOID}) with "
        f"volume_followup_mm3 measured: its volume reduction mixes two measurements; derive "
        f"both volumes from diameters or give both measured (docs/derived.md)")),
    # a model without the volume (routine): only the label is concerned
    ({}, {"volume_followup_mm3": ELLIPSOID, "herniation_volume_mm3": ELLIPSOID},
     ROUTINE_LIKE, (
        f"herniation_volume_mm3 (label): measured in training, derived ({ELLIPSOID}) here",
        f"volume_followup_mm3 (label): measured in training, derived ({ELLIPSOID}) here")),
])
def test_what_an_update_mixes_is_named(trained, given, columns, expected):
    features = ("age", "followup_days") if columns == ROUTINE_LIKE else FEATURES
    assert update_measurement_warnings(trained, given, features, columns) == expected


@pytest.mark.slow
def test_update_on_derived_volumes_warns_and_tags_its_run(tmp_path):
    from mlflow import MlflowClient

    cohort = make_cohort(400, seed=6, diameters=True)
    data = tmp_path / "diameters.parquet"
    frame = cohort.drop(columns=["herniation_volume_mm3", "canal_occupation_pct"])
    frame.to_parquet(data, index=False)
    mixed = tmp_path / "mixed.parquet"  # the follow-up volume passes through measured
    frame.to_parquet(mixed, index=False)
    frame.drop(columns=["volume_followup_mm3"]).to_parquet(data, index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {}, "derive": {
        "herniation_volume_mm3": {"method": "ellipsoid_volume", "unit": "mm", "from": {
            "ap": "herniation_ap_mm", "transverse": "herniation_transverse_mm",
            "craniocaudal": "herniation_craniocaudal_mm"}},
        "canal_occupation_pct": {"method": "canal_occupation", "unit": "mm", "from": {
            "herniation_ap": "herniation_ap_mm", "canal_ap": "canal_ap_mm"}}}}))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def update(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RESORB), "--params", str(FAST_PARAMS), "update", "--model",
             str(REFERENCE_FOLDER), "--data", str(path), "--mapping", str(mapping),
             "--method", "intercept"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    # a label comparing a derived baseline with a measured follow-up volume is refused
    refused = update(mixed)
    assert refused.returncode == 2, refused.stderr
    assert ("herniation_volume_mm3 is derived (ellipsoid_volume) but volume_followup_mm3 "
            "passes through as measured") in refused.stderr
    assert "Traceback" not in refused.stderr

    run = update(data)  # the label from `resorbed`: the derived input is warned about
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: ")
                and "minimum sample size" not in line]  # that warning is tested elsewhere
    assert warnings[0] == ("warning: herniation_volume_mm3: measured in training, derived "
                           f"({ELLIPSOID}) here")
    assert warnings[1].startswith("warning: the update mixes measured and derived values")
    assert not any("canal_occupation_pct" in w for w in warnings)  # exact: not flagged
    assert not any("the label compares" in w for w in warnings)

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (update_run,) = client.search_runs(
        [client.get_experiment_by_name("resorb").experiment_id],
        filter_string="tags.mlflow.runName = 'update'")
    tag = update_run.data.tags["measured_otherwise"]
    assert tag == warnings[0].removeprefix("warning: ")
    # column names and derivations only: no identifier of any patient, no source column
    recorded = " ".join([*update_run.data.tags.values(), *update_run.data.params.values()])
    assert not any(pid in recorded for pid in cohort["patient_id"])
    assert "herniation_ap_mm" not in tag
