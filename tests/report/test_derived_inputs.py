"""The report says which of the model's inputs were derived by the mapping file, and how.

A model trained through a mapping that computes the herniation volume from three diameters
and the canal occupation from two (the card's ``derived``) is trained, registered and
reported through the real ``resorb`` command; its "Predictors" section names each derived
input, how it was obtained in clinical words, and the ellipsoid's caveat.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
import yaml

from resorb.cohort import make_cohort
from resorb.report.predictor_sets import derived_inputs
from tests.factories import FAST_PARAMS, model_card
from tests.report.pages import Page

RESORB = Path(sys.executable).with_name("resorb")
VOLUME = {"method": "ellipsoid_volume", "unit": {"ap": "mm", "transverse": "mm",
                                                 "craniocaudal": "mm"},
          "from": {"ap": "herniation_ap_mm", "transverse": "herniation_transverse_mm",
                   "craniocaudal": "herniation_craniocaudal_mm"}}
OCCUPATION = {"method": "canal_occupation", "unit": "mm",
              "from": {"herniation_ap": "herniation_ap_mm", "canal_ap": "canal_ap_mm"}}


def section_text(html: str, section: str) -> str:
    """The text of the report's ``<section id=...>`` (tags dropped, spaces folded)."""
    start = html.index(f'<section id="{section}">')
    end = html.index("</section>", start)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html[start:end])).split())


@pytest.mark.slow
def test_the_report_of_a_model_trained_on_derived_inputs_says_how(tmp_path):
    # no follow-up volume: the label is the registry's 'resorbed', the volumes feed the model
    frame = make_cohort(500, seed=9, diameters=True).drop(
        columns=["herniation_volume_mm3", "canal_occupation_pct", "volume_followup_mm3"])
    data = tmp_path / "diameters.parquet"
    frame.to_parquet(data, index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {}, "derive": {
        "herniation_volume_mm3": VOLUME, "canal_occupation_pct": OCCUPATION}}))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    quick = ["--params", str(FAST_PARAMS), "--set", "training.optimism_below_rows=100",
             "--set", "training.n_boot=10"]
    for args in (["train", "--data", str(data), "--mapping", str(mapping), "--register"],
                 ["report", "--model", "models:/resorb/1", "--out", "report.html"]):
        run = subprocess.run([str(RESORB), *quick, *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr

    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    text = section_text(html, "predictor_sets")
    assert text.startswith("Predictors, and what is lost without a finding")
    assert ("Derived, not measured: the mapping file of the training data computed 2 "
            "measurements from other findings") in text
    assert ("Herniation volume at baseline ( herniation_volume_mm3 ) model input not measured "
            "by 3D volumetry but computed from the herniation's three diameters on MRI "
            "(anteroposterior, transverse and craniocaudal, read in mm) as an ellipsoid: pi/6 "
            "x AP x transverse x craniocaudal.") in text
    assert "An approximation of volumetry whose bias depends on the herniation's shape" in text
    assert "Give this model volumes derived the same way" in text
    assert "The label compares" not in text  # the label did not come from these volumes
    assert ("Spinal canal occupied by the herniation ( canal_occupation_pct ) model input "
            "computed from the anteroposterior diameters of the herniation and of the spinal "
            "canal (read in mm): 100 x herniation AP / canal AP.") in text
    assert "Every measurement was read as recorded" not in text
    # TRIPOD item 9b (how predictors were measured) points to the section
    assert "herniation_volume_mm3 (mm3) derived from other findings (see 'Predictors')" in \
        unescape(html)
    assert "Predictors, and what is lost without a finding" in Page(html).headings


@pytest.mark.parametrize(("derived", "uses"), [
    ({}, ()),
    # both label volumes derived: the volume is input and label, the follow-up one label only
    ({"herniation_volume_mm3": "ellipsoid from 3 diameters (pi/6 x AP x transverse x "
                               "craniocaudal), an approximation of a 3D volumetry (from cm)",
      "volume_followup_mm3": "ellipsoid from 3 diameters (pi/6 x AP x transverse x "
                             "craniocaudal), an approximation of a 3D volumetry (from cm)",
      "symptom_duration_days": "whole days from the start date to the end date (%d.%m.%Y)"},
     (("herniation_volume_mm3", "model input and label", "read in cm"),
      ("volume_followup_mm3", "label", "read in cm"),
      ("symptom_duration_days", "model input",
       "(%d.%m.%Y), from the onset of symptoms to the baseline MRI"))),
    # per-input units, and a text no method wrote (shown as recorded)
    ({"herniation_volume_mm3": "ellipsoid from 3 diameters (pi/6 x AP x transverse x "
                               "craniocaudal), an approximation of a 3D volumetry (from ap mm, "
                               "transverse cm, craniocaudal cm)",
      "canal_occupation_pct": "a future method"},
     (("herniation_volume_mm3", "model input", "AP in mm, transverse in cm, craniocaudal in cm"),
      ("canal_occupation_pct", "model input", "a future method"))),
])
def test_each_derivation_is_worded_for_the_clinic(derived, uses):
    card = model_card(features=("age", "symptom_duration_days", "herniation_volume_mm3",
                                "canal_occupation_pct", "followup_days"), derived=derived)
    found = derived_inputs(card)
    assert [(d.column, d.use) for d in found] == [(c, u) for c, u, _ in uses]
    for d, (_, _, words) in zip(found, uses, strict=True):
        assert words in d.how
