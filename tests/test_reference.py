"""The shipped reference predictor is reproducible: retrain with its seed, same predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resorb.card import ModelCard
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.features import model_input
from resorb.models import build_model, predict_resorption
from resorb.serialization import load_estimator
from resorb.training import prepare

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"


def test_reference_predictor_is_shipped_with_its_metadata():
    assert (REFERENCE / "MLmodel").is_file(), "run `make reference` and commit models/reference"
    card = ModelCard.from_json((REFERENCE / "artifacts" / "resorb.json").read_text())
    assert card.data_source.kind == "synthetic"
    assert card.trained_on.startswith("synthetic:literature")
    card.check_skops(REFERENCE / "artifacts" / "model.skops")
    assert "input_example.json" not in {p.name for p in REFERENCE.iterdir()} or \
        "patient_id" not in (REFERENCE / "input_example.json").read_text()


@pytest.mark.slow
def test_retraining_with_the_same_seed_gives_the_same_predictions():
    card = ModelCard.from_json((REFERENCE / "artifacts" / "resorb.json").read_text())
    source = card.data_source
    params = Params.default()
    frame = make_cohort(n=source.n_requested, seed=source.seed, preset=source.preset)
    data, X, _ = prepare(frame, params)
    spec = params.candidates[card.candidate]
    retrained = build_model(spec, seed=card.seed).fit(X, data.y)
    shipped = load_estimator(REFERENCE / "artifacts" / "model.skops")
    fresh = model_input(make_cohort(n=2000, seed=99))
    np.testing.assert_array_equal(predict_resorption(shipped, fresh),
                                  predict_resorption(retrained, fresh))
