"""Training on an institutional export: its own column names and units, through a mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb.cli import app
from resorb.cohort import make_cohort

MAPPING = Path(__file__).resolve().parents[2] / "examples" / "hospital_mapping.yaml"
PLANTED = "ZZ-PLANTED-93"


def hospital_export(n: int, seed: int) -> pd.DataFrame:
    """A synthetic cohort written the way examples/hospital_mapping.yaml expects to read it."""
    c = make_cohort(n=n, seed=seed)
    yes_no = {True: "Y", False: "N"}
    pid = [f"{PLANTED}-{i}" if i == 0 else f"H{i:05d}" for i in range(n)]
    rim = c["rim_enhancement"].map({"none": "0", "partial": "1", "complete": "2"})
    return pd.DataFrame({
        "Pat-ID": pid, "Spine region": "lumbar",
        "Scan date": pd.to_datetime(c["baseline_date"]).dt.strftime("%Y-%m-%d"),
        "Age (y)": c["age"].round(), "Gender": c["sex"].map({"male": 1, "female": 2}),
        "bmi": c["bmi"], "Smoker": c["smoker"].map(yes_no),
        "Diabetes": c["diabetes"].map({True: "yes", False: "no"}),
        "Duration (weeks)": (c["symptom_duration_days"] / 7).round(1),
        "VAS leg (0-100)": c["vas_leg"] * 10, "VAS back": c["vas_back"],
        "ODI raw (0-50)": c["odi"] / 2,
        "Lasegue": c["slr_positive"].map({True: "+", False: "-"}),
        "Motor": c["motor_deficit"].astype(int), "Sensory": c["sensory_deficit"].astype(int),
        "Therapy": c["treatment"].map({"conservative": "PT", "epidural_steroid": "ESI",
                                       "periradicular_infiltration": "PRT"}),
        "Level": c["level"].map({"L1-L2": "L1/2", "L2-L3": "L2/3", "L3-L4": "L3/4",
                                 "L4-L5": "L4/5", "L5-S1": "L5/S1"}),
        "Morphology": c["herniation_type"].map({"bulge": "Bulge", "protrusion": "Prot",
                                                "extrusion": "Ext", "sequestration": "Seq"}),
        "Migration": c["migration_grade"], "Rim": rim.fillna(""),
        "T2": c["t2_signal"].map({"low": "hypo", "iso": "iso", "high": "hyper"}),
        "Vol (ml)": c["herniation_volume_mm3"] / 1000,
        "Canal occ.": c["canal_occupation_pct"] / 100, "Pfirrmann": c["pfirrmann_grade"],
        "Modic": c["modic_type"], "Multifidus fat %": c["multifidus_fat_pct"],
        "CES": c["cauda_equina"].astype(int),
        "Progr. paresis": c["progressive_motor_deficit"].map({True: "yes", False: "no"}),
        "FU MRI (months)": (c["followup_days"] / 30.4375).round(2),
        "Vol FU (cc)": c["volume_followup_mm3"] / 1000,
        "Resorbed": c["resorbed"].map(yes_no), "OP": c["surgery"].astype(int),
        "VAS leg FU (0-100)": c["vas_leg_followup"] * 10,
    })


@pytest.mark.slow
def test_train_on_a_hospital_export_through_its_mapping(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = tmp_path / "hospital.csv"
    hospital_export(700, seed=8).to_csv(path, index=False)
    runner = CliRunner()
    checked = runner.invoke(app, ["validate", str(path), "--mapping", str(MAPPING),
                                  "--purpose", "training"])
    assert checked.exit_code == 0, checked.output
    result = runner.invoke(app, ["train", "--data", str(path), "--mapping", str(MAPPING),
                                 "--register"])
    assert result.exit_code == 0, result.output
    assert "registered: resorb version 1" in result.output
    assert "excluded" in result.output and "operated before follow-up" in result.output
    assert PLANTED not in result.output
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and p != path
              and p.suffix not in (".db",) and PLANTED.encode() in p.read_bytes()]
    assert leaked == []
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("resorb").experiment_id])[0]
    assert run.data.tags["data_kind"] == "real"
    assert PLANTED not in repr(run.data.params) + repr(run.data.tags)
    assert np.isfinite(run.data.metrics["auroc"])
