"""The model card: resorb.json written and read as one symmetric pair, strict about its keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resorb.card import DataSource, MetricEstimate, ModelCard, file_sha256
from resorb.config import Params
from resorb.errors import ModelCardError, ModelNotFoundError
from tests.factories import model_card

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference" / "artifacts"


def test_card_round_trips_through_json():
    card = model_card()
    again = ModelCard.from_json(card.to_json())
    assert again == card
    assert again.training_ranges["age"] == (20.0, 75.0)
    assert again.training_ranges["sex"] == ("female", "male")
    assert again.metrics["auroc"] == MetricEstimate(estimate=0.76, ci_low=0.74, ci_high=0.78)
    assert again.trained_on == "synthetic:literature (n=500, seed 7)"


def test_undefined_intervals_are_none_not_nan():
    slope = model_card().metrics["calibration_slope"]
    assert slope.estimate == 1.02 and slope.ci_low is None and slope.ci_high is None
    assert "NaN" not in model_card().to_json() and "Infinity" not in model_card().to_json()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.pop("features"), "missing 'features'"),
    (lambda d: d.pop("skops_sha256"), "missing 'skops_sha256'"),
    (lambda d: d.update(trained_on="synthetic"), "unknown 'trained_on'"),
    (lambda d: d["data_source"].update(n=5), "unknown 'data_source.n'"),
    (lambda d: d.update(seed="seven"), "invalid 'seed'"),
    (lambda d: d.update(decision_threshold=1.5), "invalid 'decision_threshold'"),
    (lambda d: d["metrics"].update(auroc=0.7), "invalid 'metrics.auroc'"),
    (lambda d: d.update(skops_sha256=""), "'skops_sha256' is not a SHA-256"),
])
def test_a_card_with_wrong_keys_is_refused_with_one_message(edit, message):
    data = json.loads(model_card().to_json())
    edit(data)
    with pytest.raises(ModelCardError, match=message) as caught:
        ModelCard.from_json(json.dumps(data), source="m/resorb.json")
    assert str(caught.value).startswith("m/resorb.json")
    assert isinstance(caught.value, ModelNotFoundError)  # the CLI turns it into exit 2


def test_missing_and_unknown_keys_are_carried_by_the_error():
    data = json.loads(model_card().to_json())
    data.pop("kind")
    data["extra"] = 1
    with pytest.raises(ModelCardError) as caught:
        ModelCard.from_json(json.dumps(data))
    assert caught.value.missing == ("kind",) and caught.value.unknown == ("extra",)


def test_not_json_is_refused():
    with pytest.raises(ModelCardError, match="is not valid JSON"):
        ModelCard.from_json("{", source="x.json")


def test_data_source_is_checked():
    with pytest.raises(ValueError, match="'synthetic' or 'real'"):
        DataSource("simulated")
    assert DataSource("real").describe() == "real data" and not DataSource("real").synthetic


def test_the_card_holds_the_hash_of_its_model_file(tmp_path):
    skops = tmp_path / "model.skops"
    skops.write_bytes(b"model bytes")
    card = model_card(skops_sha256="").with_skops_hash(skops)
    assert card.skops_sha256 == file_sha256(skops) and len(card.skops_sha256) == 64
    card.check_skops(skops)
    skops.write_bytes(b"changed")
    with pytest.raises(ModelCardError, match=r"does not match its resorb\.json"):
        card.check_skops(skops)


def test_the_shipped_reference_card_reads_and_matches_its_model():
    card = ModelCard.from_json((REFERENCE / "resorb.json").read_text(), source="reference")
    card.check_skops(REFERENCE / "model.skops")
    assert card.candidate in Params.default().candidates and card.data_source.synthetic
    assert card.predictor_set == "full"
    assert len(card.features) == len(card.training_ranges) == 24
    auroc = card.metrics["auroc"]
    assert 0.7 < auroc.ci_low <= auroc.estimate <= auroc.ci_high < 0.85
