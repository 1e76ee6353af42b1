"""The card of an updated model records what the update data were (``derived``), for a
recalibration as for a refit; the parent's derivations stay under ``update.parent_derived``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.factories import FAST_PARAMS
from tests.leftovers.conftest import run

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"
ELLIPSOID = ("ellipsoid from 3 diameters (pi/6 x AP x transverse x craniocaudal), an "
             "approximation of a 3D volumetry (from mm)")


@pytest.fixture(scope="module")
def derived_parent(tmp_path_factory):
    """The reference predictor, its card saying it was trained on ellipsoid volumes."""
    from resorb.scoring.model import load_model
    from resorb.tracking import save_model_folder

    loaded = load_model(REFERENCE)
    assert loaded.metadata.derived == {}
    card = loaded.metadata.model_copy(update={"derived": {"herniation_volume_mm3": ELLIPSOID}})
    return save_model_folder(loaded.estimator, card, tmp_path_factory.mktemp("p") / "parent")


@pytest.mark.slow
def test_a_recalibration_on_measured_volumes_records_measured(tmp_path, cohort,
                                                              derived_parent):
    cohort.to_csv(tmp_path / "f.csv", index=False)  # volumes measured, no mapping
    shutil.copytree(derived_parent, tmp_path / "updated")  # an earlier export, replaced
    result = run("--params", str(FAST_PARAMS), "update", "--model", str(derived_parent),
                 "--data", "f.csv", "--method", "intercept", "--no-register",
                 "--out", "updated", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # the mix is still warned about when the update is made
    assert "herniation_volume_mm3" in result.stderr and "warning:" in result.stderr
    assert "note: replaced the existing folder updated" in result.stderr.splitlines()
    card = json.loads((tmp_path / "updated" / "artifacts" / "resorb.json").read_text())
    assert card["update"]["method"] == "intercept"
    assert card["derived"] == {}  # what the update data were: measured
    assert card["update"]["parent_derived"] == {"herniation_volume_mm3": ELLIPSOID}
    assert card["data_source"]["kind"] == "real"


def test_an_old_card_without_parent_derived_still_loads():
    from resorb.card import UpdateRecord

    record = UpdateRecord(parent="folder reference", parent_skops_sha256="0" * 64,
                          parent_candidate="logistic", requested="intercept",
                          method="intercept", alpha=0.05, data_sha256="1" * 64, rows=10,
                          events=5, prevalence=0.5)
    assert record.parent_derived == {}
