"""resorb.config: where parameters come from, which layer wins, what an error says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from resorb.config import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_PARAMS,
    PARAMS_ENV,
    LabelRule,
    Params,
    ScoringParams,
    TrackingParams,
    TrainingParams,
    expand_keys,
    merge,
)
from resorb.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Factory: write YAML files in an empty working folder without $RESORB_PARAMS."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(PARAMS_ENV, raising=False)

    def write(name: str, data: object) -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data),
                        encoding="utf-8")
        return path

    return write


# ---------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(("cwd_file", "env_file", "path_file", "cli", "folds", "origin"), [
    (None, None, None, None, 5, "packaged"),
    ({"training": {"folds": 4}}, None, None, None, 4, "params.yaml"),
    ({"training": {"folds": 4}}, {"training": {"folds": 3}}, None, None, 3, "env.yaml"),
    (None, {"training": {"folds": 3}}, {"training": {"folds": 6}}, None, 6, "given.yaml"),
    ({"training": {"folds": 4}}, None, {"training": {"folds": 6}}, {"training.folds": 7}, 7,
     "command line"),
    ({"training": {"folds": 4}}, None, None, {"training": {"n_boot": 40}}, 4, "params.yaml"),
], ids=["defaults", "cwd-file", "env-beats-cwd", "path-beats-env", "cli-beats-files",
        "cli-elsewhere"])
def test_layers_override_in_order(project, monkeypatch, tmp_path, cwd_file, env_file,
                                  path_file, cli, folds, origin):
    if cwd_file is not None:
        project("params.yaml", cwd_file)
    if env_file is not None:
        monkeypatch.setenv(PARAMS_ENV, str(project("env.yaml", env_file)))
    path = project("given.yaml", path_file) if path_file is not None else None
    params = Params.resolve(path, cli)
    assert params.training.folds == folds
    assert params.training.n_boot == (cli or {}).get("training", {}).get("n_boot", 200)
    expected = {"packaged": str(DEFAULT_PARAMS), "command line": "command line"}.get(
        origin, str(tmp_path / origin))
    assert params.origin_of(("training", "folds")) == expected


def test_project_file_merges_key_by_key_and_lists_replace(project):
    path = project("params.yaml", {
        "label": {"min_reduction_pct": 50},
        "candidates": {"logistic": {"params": {"C": 0.5}},
                       "small_forest": {"kind": "random_forest", "params": {"n_estimators": 5}}},
        "scoring": {"risk_bands": {"cuts": [0.5], "labels": ["low", "high"]}},
    })
    params = Params.resolve(path)
    default = Params.default()
    assert params.label.min_reduction_pct == 50
    assert params.label.grades_resorbed == default.label.grades_resorbed
    assert params.candidates["logistic"].params == {"C": 0.5, "spline_knots": 5,
                                                  "finding_terms": True}
    assert params.candidates["logistic"].description == default.candidates["logistic"].description
    assert list(params.candidates) == [*default.candidates, "small_forest"]
    assert params.scoring.risk_bands.cuts == (0.5,)  # a list replaces, it does not merge
    assert params.cohort == default.cohort


def test_packaged_defaults_when_there_is_no_project_file(project):
    assert Params.resolve() == Params.default()
    assert Params.resolve(overrides={}) == Params.default()


def test_an_installed_package_has_parameters_without_the_checkout(tmp_path):
    # what a wheel needs: the defaults are package data, found from the package itself
    assert DEFAULT_PARAMS.parent == Path(sys.modules["resorb"].__file__).parent
    assert DEFAULT_PARAMS.is_file() and not DEFAULT_PARAMS.is_symlink()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "params.yaml" in build["tool"]["setuptools"]["package-data"]["resorb"]
    env = {k: v for k, v in os.environ.items() if k != PARAMS_ENV}
    code = ("from resorb.config import Params; p = Params.resolve(); "
            "print(p.training.folds, sorted(p.candidates), p.scoring.horizon_days)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split("[")[0].strip() == "5"
    assert "'logistic'" in out.stdout and out.stdout.strip().endswith("180")


def test_the_projects_params_yaml_is_the_packaged_file():
    # one documented file: the root params.yaml links to the packaged defaults
    assert (ROOT / "params.yaml").resolve() == DEFAULT_PARAMS.resolve()


def test_the_packaged_file_restates_the_code_defaults():
    params = Params.default()
    assert params.label.model_copy(update={"source": ""}) == LabelRule()
    assert params.training == TrainingParams()
    assert params.scoring == ScoringParams()
    assert params.tracking == TrackingParams()
    assert ScoringParams().horizon_days == DEFAULT_HORIZON_DAYS == 180


# -------------------------------------------------------------------------------- errors


def _set(data: dict, dotted: str, value: object) -> dict:
    return merge(data, expand_keys({dotted: value}))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("training.fold", 3, r"unknown key 'training\.fold'; expected one of: seed, folds,"),
    ("trainig", {}, r"unknown key 'trainig'; expected one of: label, training, candidates"),
    ("candidates.logistic.kernel", "rbf",
     r"unknown key 'candidates\.logistic\.kernel'; expected one of: kind, calibration,"),
    ("training.folds", 1, r"'training\.folds' input should be greater than or equal to 2; "
                          r"found 1"),
    ("scoring.horizon_days", "soon", r"'scoring\.horizon_days' input should be a valid "
                                     r"integer.*; found 'soon'"),
    ("candidates.logistic.kind", "svm", r"'candidates\.logistic\.kind' input should be "
                                        r"'logistic', 'hist_gradient_boosting', "
                                        r"'random_forest' or 'mixture_cure'; found 'svm'"),
    ("candidates.extra", {"params": {}}, r"'candidates\.extra\.kind' is required but missing"),
    ("scoring.risk_bands.cuts", [0.6, 0.3], r"'scoring\.risk_bands' cuts must increase"),
    ("cohort.presets.nope", {}, r"'cohort\.presets\.nope' \(the key\) input should be "
                                r"'literature', 'komori1998', 'schmidt2025' or "
                                r"'other_hospital'"),
])
def test_bad_values_name_file_key_expected_and_found(project, key, value, message):
    path = project("bad.yaml", _set({}, key, value))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: .*{message}"):
        Params.resolve(path)
    with pytest.raises(ConfigError, match=rf"^command line: .*{message}"):
        Params.resolve(overrides={key: value})


@pytest.mark.parametrize(("content", "message"), [
    ("- a list\n", "must hold a mapping of sections, found list"),
    ("label: [\n", "is not valid YAML"),
])
def test_unreadable_files(project, content, message):
    path = project("bad.yaml", content)
    with pytest.raises(ConfigError, match=rf"params file {re.escape(str(path))} {message}"):
        Params.resolve(path)


def test_a_named_file_must_exist(project, monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match=r"params file .*nowhere\.yaml not found"):
        Params.resolve(tmp_path / "nowhere.yaml")
    monkeypatch.setenv(PARAMS_ENV, str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=r"gone\.yaml \(from \$RESORB_PARAMS\) not found"):
        Params.resolve()


def test_an_empty_project_file_changes_nothing(project):
    assert Params.resolve(project("params.yaml", "")) == Params.default()


def test_a_cohort_error_names_the_key_to_edit(project):
    from resorb.cohort import load_cohort_params

    path = project("p.yaml", {"cohort": {"presets": {"komori1998": {"overrides": {
        "imaging": {"contrast_given": 2}}}}}})
    params = Params.resolve(path)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: 'cohort\.presets\."
                                          rf"komori1998\.overrides\.imaging\.contrast_given' "
                                          rf"input should be less"):
        load_cohort_params("komori1998", params)
    load_cohort_params("literature", params)  # the other presets are untouched


# ------------------------------------------------------------------------ the object itself


def test_params_are_frozen_and_strict():
    params = Params.default()
    with pytest.raises(ValidationError, match="frozen"):
        params.training = TrainingParams()  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        params.scoring.horizon_days = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        ScoringParams(horizon=3)  # type: ignore[call-arg]


def test_variants_are_new_objects_and_the_digest_follows_the_values():
    params = Params.default()
    fast = params.model_copy(update={"training": params.training.model_copy(
        update={"folds": 3})})
    assert params.training.folds == 5 and fast.training.folds == 3
    assert fast.digest() != params.digest() == Params.default().digest()


@pytest.mark.parametrize(("values", "expected"), [
    ({"a.b": 1}, {"a": {"b": 1}}),
    ({"a.b": 1, "a.c": 2}, {"a": {"b": 1, "c": 2}}),
    ({"a": {"b": 1}, "a.c.d": 2}, {"a": {"b": 1, "c": {"d": 2}}}),
    ({"a": [1, 2]}, {"a": [1, 2]}),
])
def test_expand_keys(values, expected):
    assert expand_keys(values) == expected


def test_merge_does_not_modify_its_arguments():
    base, override = {"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}
    assert merge(base, override) == {"a": {"b": 1, "c": [2]}}
    assert base == {"a": {"b": 1, "c": [1]}} and override == {"a": {"c": [2]}}
