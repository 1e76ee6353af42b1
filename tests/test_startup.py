"""What starting resorb imports: real subprocesses, checked through ``sys.modules``.

Behaviour, not timing: the figures are in benchmarks/bench_startup.py and docs/scoring.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "reference"
HEAVY = ("mlflow", "matplotlib", "shap", "sklearn", "pandas", "rich", "pytest")


def _imported(code: str, cwd: Path) -> list[str]:
    """Top-level packages among HEAVY that ``code`` imported in a fresh interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
             f"set({list(HEAVY)!r}))))")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=cwd, env=env, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", [
    "import resorb.cli",
    # what the console script runs for `resorb --help` (exit 0 raises SystemExit)
    "import sys\nfrom resorb.cli import app\nsys.argv = ['resorb', '--help']\n"
    "try:\n    app()\nexcept SystemExit as e:\n    assert e.code == 0, e.code",
    "import sys\nfrom resorb.cli import app\nsys.argv = ['resorb', 'cohort', '--help']\n"
    "try:\n    app()\nexcept SystemExit as e:\n    assert e.code == 0, e.code",
], ids=["import", "help", "cohort help"])
def test_help_imports_nothing_heavy(code, tmp_path):
    assert _imported(code, tmp_path) == []


@pytest.mark.slow
def test_loading_an_exported_model_imports_neither_mlflow_nor_plotting(tmp_path):
    # a folder (the reference predictor) is read directly: no registry, no figures, and
    # skops does not walk all of scikit-learn (which imports pytest)
    code = (f"from resorb.scoring.model import load_model\n"
            f"m = load_model({str(REFERENCE)!r})\n"
            f"assert m.predict is not None")
    imported = _imported(code, tmp_path)
    assert {"pandas", "sklearn"} <= set(imported)  # the model needs them
    # (rich comes with scikit-learn's pipeline progress bars)
    assert not {"mlflow", "matplotlib", "shap", "pytest"} & set(imported)


def test_skops_default_trust_is_a_subset_covering_the_reference_model():
    from sklearn.utils import all_estimators

    from resorb.skops_import import estimators_of

    def names(pairs):
        return {f"{c.__module__}.{c.__name__}" for _, c in pairs}

    ours, everything = names(estimators_of()), names(all_estimators())
    assert ours < everything  # never trusts a type skops would not
    for needed in ("sklearn.pipeline.Pipeline",
                   "sklearn.compose._column_transformer.ColumnTransformer",
                   "sklearn.ensemble._hist_gradient_boosting.gradient_boosting."
                   "HistGradientBoostingClassifier",
                   "sklearn.ensemble._forest.RandomForestClassifier",
                   "sklearn.calibration.CalibratedClassifierCV",
                   "sklearn.impute._base.SimpleImputer",
                   "sklearn.preprocessing._encoders.OneHotEncoder"):
        assert needed in ours
    assert "sklearn.cluster._kmeans.KMeans" not in ours  # another package: not trusted


@pytest.mark.slow
def test_a_type_outside_the_packages_is_refused_on_save(tmp_path):
    # a fresh process: skops imported by resorb, then a model holding a KMeans step
    code = ("from resorb.serialization import save_estimator\n"
            "from sklearn.cluster import KMeans\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.pipeline import make_pipeline\n"
            "import numpy as np\n"
            "X = np.random.default_rng(0).normal(size=(40, 2)); y = np.arange(40) % 2\n"
            "m = make_pipeline(KMeans(2, n_init=1, random_state=0), LogisticRegression())\n"
            "try:\n"
            f"    save_estimator(m.fit(X, y), {str(tmp_path / 'm.skops')!r})\n"
            "except ValueError as e:\n"
            "    print('refused:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert "refused: the model holds types that are not on the reviewed allow-list: " \
           "['sklearn.cluster._kmeans.KMeans']" in out.stdout
    assert not (tmp_path / "m.skops").exists()
