"""Factories for small canonical frames, driven by the data dictionary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from resorb import schema
from resorb.card import DataSource, MetricEstimate, ModelCard
from resorb.config import LabelRule
from resorb.schema import Kind

#: small bootstrap counts and small candidates, for quick tests (CLI: ``--params`` this file)
FAST_PARAMS = Path(__file__).with_name("params_fast.yaml")

def valid_value(col: schema.Column) -> object:
    """A value that every rule of ``col`` accepts, as a CSV cell would hold it."""
    if col.categories:
        return col.categories[-1]
    if col.kind in (Kind.NUMBER, Kind.INTEGER):
        lo = col.minimum if col.minimum is not None else 0
        hi = col.maximum if col.maximum is not None else lo + 10
        mid = (lo + hi) / 2
        return str(round(mid)) if col.kind is Kind.INTEGER else str(mid)
    if col.kind is Kind.BOOLEAN:
        return "false"
    if col.kind is Kind.DATE:
        return "2024-03-01"
    return "P0001"


def baseline_rows(n: int = 3, with_outcomes: bool = False) -> pd.DataFrame:
    """``n`` valid rows (text cells, like a CSV) with every baseline column filled."""
    cols = [c for c in schema.COLUMNS
            if with_outcomes or c.role not in (schema.Role.OUTCOME, schema.Role.SYNTHETIC)]
    data = {c.name: [valid_value(c)] * n for c in cols}
    data["patient_id"] = [f"P{i:04d}" for i in range(n)]
    return pd.DataFrame(data)


def random_canonical(n: int = 200, seed: int = 0, missing: float = 0.1) -> pd.DataFrame:
    """A canonical frame of ``n`` rows with random valid values and a learnable outcome.

    Optional columns are missing with probability ``missing``; ``resorbed`` depends on the
    herniation type, rim enhancement and the horizon so that models have something to learn.
    """
    import numpy as np

    from resorb.intake import conform

    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for c in schema.COLUMNS:
        if c.role in (schema.Role.OUTCOME, schema.Role.SYNTHETIC):
            continue
        if c.categories:
            v = rng.choice(np.asarray(c.categories, dtype=object), n)
        elif c.kind in (Kind.NUMBER, Kind.INTEGER):
            lo = c.minimum if c.minimum is not None else 0.0
            hi = c.maximum if c.maximum is not None else lo + 100
            hi = min(hi, lo + 1000) if c.name != "followup_days" else 720
            v = rng.uniform(lo, hi, n)
            v = np.round(v) if c.kind is Kind.INTEGER else v
        elif c.kind is Kind.BOOLEAN:
            v = rng.random(n) < 0.3
        elif c.kind is Kind.DATE:
            v = np.datetime64("2024-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
        else:
            v = np.asarray([f"P{i:05d}" for i in range(n)], dtype=object)
        s = pd.Series(v)
        if not c.required and c.name != "followup_days":
            s = s.where(rng.random(n) >= missing)
        data[c.name] = s
    frame = pd.DataFrame(data)
    frame["site"] = rng.choice(np.asarray(["A", "B", "C"], dtype=object), n)
    rank = frame["herniation_type"].map({"bulge": 0, "protrusion": 1, "extrusion": 2,
                                          "sequestration": 3}).to_numpy(float)
    rim = frame["rim_enhancement"].map({"none": 0, "partial": 1, "complete": 2}).fillna(0.5)
    logit = -2.0 + 0.9 * rank + 0.8 * rim.to_numpy(float) + np.log(
        frame["followup_days"].to_numpy(float) / 90)
    p = 1 / (1 + np.exp(-logit))
    frame["resorbed"] = rng.random(n) < p
    frame["surgery"] = False
    frame["true_resorption_probability"] = p
    canonical, report = conform(frame, purpose="training")
    assert report.ok, report.render()
    return canonical



def _check_name(check) -> str:
    return getattr(getattr(check, "func", check), "__name__", str(check))


def contract_checks(estimators: list, expected_failed_checks=None,
                    not_applicable: frozenset[str] = frozenset()) -> pytest.MarkDecorator:
    """scikit-learn's common checks for ``estimators``, as ``parametrize_with_checks`` gives
    them (expected failures as strict xfails), less the array-API checks and less the checks
    named in ``not_applicable`` (checks whose generated input the estimator's contract refuses
    outright: the caller tests that refusal itself, rather than listing each as an xfail).

    scipy reads ``SCIPY_ARRAY_API`` once, when it is imported, so in this interpreter those
    checks could only skip themselves; ``tests/test_models.py::
    test_array_api_dispatch_changes_nothing`` runs them in a fresh interpreter instead.
    """
    from sklearn.utils.estimator_checks import estimator_checks_generator

    cases, ids = [], []
    for estimator in estimators:
        expected = expected_failed_checks(estimator) if expected_failed_checks else None
        for case in estimator_checks_generator(estimator, mark="xfail", xfail_strict=True,
                                               expected_failed_checks=expected):
            est, check = case.values if hasattr(case, "values") else case
            if "array_api" in _check_name(check) or _check_name(check) in not_applicable:
                continue
            cases.append(case)
            ids.append(f"{est}-{_check_name(check)}")
    return pytest.mark.parametrize("estimator, check", cases, ids=ids)


def model_card(**changes: object) -> ModelCard:
    """A small valid model card (synthetic, logistic, three inputs); ``changes`` replace fields."""
    fields: dict[str, object] = dict(
        candidate="logistic", kind="logistic", calibration="none",
        data_source=DataSource("synthetic", "literature", 7, 500), seed=7,
        label_rule=LabelRule(), decision_threshold=0.4, resorb_version="0.1.0",
        metrics={"auroc": MetricEstimate.of(0.76, 0.74, 0.78),
                 "calibration_slope": MetricEstimate.of(1.02, float("nan"), float("inf"))},
        training_ranges={"age": (20.0, 75.0), "sex": ("female", "male"), "modic_type": None},
        features=("age", "sex", "modic_type"), skops_sha256="ab" * 32)
    fields.update(changes)
    return ModelCard(**fields)


RESORB = Path(sys.executable).with_name("resorb")


def resorb_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``resorb ARGS`` as a subprocess in ``cwd``: one thread per library, no tracking server
    from the environment, output captured as text."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([str(RESORB), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
