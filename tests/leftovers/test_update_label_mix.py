"""The label-mix warning of :func:`resorb.intake.derive.update_measurement_warnings` through
the Python API.

A mapping file cannot produce the case (one label volume derived, the other measured): the
mapping refuses it when it loads or is applied (``intake.transform._one_way_label_volumes``),
so ``resorb update`` never reaches the branch. :func:`resorb.jobs.update_job` takes a
:class:`resorb.jobs.TrainingData` whose ``derived`` a caller sets, so the API does reach it;
the branch stays, and this is its test through that API.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"
ELLIPSOID = ("ellipsoid from 3 diameters (pi/6 x AP x transverse x craniocaudal), an "
             "approximation of a 3D volumetry (from mm)")
MIX = (f"the label compares herniation_volume_mm3 derived ({ELLIPSOID}) with "
       "volume_followup_mm3 measured: its volume reduction mixes two measurements; derive "
       "both volumes from diameters or give both measured (docs/derived.md)")


@pytest.mark.slow
@pytest.mark.parametrize(("derived", "mixed"), [
    ({"herniation_volume_mm3": ELLIPSOID}, True),
    ({"herniation_volume_mm3": ELLIPSOID, "volume_followup_mm3": ELLIPSOID}, False),
], ids=["baseline-derived-followup-measured", "both-derived"])
def test_update_job_names_a_label_that_mixes_measurements(cohort, fast_params, derived,
                                                          mixed):
    from resorb.card import DataSource
    from resorb.jobs import TrainingData, update_job

    data = TrainingData(cohort, DataSource("real"), derived=derived)
    outcome = update_job(str(REFERENCE), data, fast_params, method="intercept")
    assert (MIX in outcome.measured_otherwise) is mixed
    # the derived baseline volume, an input of the parent measured in its training, is named
    # either way
    assert outcome.measured_otherwise[0] == (
        f"herniation_volume_mm3: measured in training, derived ({ELLIPSOID}) here")
    assert outcome.card.derived == derived  # the card says what the update data were
