"""What starting resorb imports: real subprocesses, checked through ``sys.modules``.

Behaviour, not timing: the figures are in benchmarks/bench_startup.py and docs/scoring.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "reference"
HEAVY = ("mlflow", "matplotlib", "shap", "sklearn", "pandas", "rich", "pytest", "jinja2",
         "scipy", "skops", "numpy", "pyarrow", "sqlalchemy", "yaml")


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
    # the score command's libraries are imported early (cli/preload.py), but not for help
    "import sys\nfrom resorb.cli import app\nsys.argv = ['resorb', 'score', '--help']\n"
    "try:\n    app()\nexcept SystemExit as e:\n    assert e.code == 0, e.code",
], ids=["import", "help", "cohort help", "score help"])
def test_help_imports_nothing_heavy(code, tmp_path):
    assert _imported(code, tmp_path) == []


@pytest.mark.parametrize(("args", "command"), [
    (["score", "-i", "x.csv", "-o", "y.csv"], "score"),
    (["--params", "score", "validate", "x.csv"], "validate"),  # a file named "score"
    (["--set", "scoring.explain=0", "score"], "score"),
    (["--params=p.yaml", "-v", "score"], "score"),
    (["score", "--help"], None),
    (["-h"], None),
    ([], None),
    (["--verbose"], None),
])
def test_the_command_is_found_past_the_global_options(args, command):
    from resorb.cli.preload import command_of

    assert command_of(args) == command


def test_a_score_imports_its_libraries_before_typer_parses(tmp_path):
    # a usage error (no --input) stops typer before the command runs: what is imported by
    # then was imported by the app's call, ahead of typer
    code = ("import sys\nfrom resorb.cli import app\nsys.argv = ['resorb', 'score']\n"
            "try:\n    app()\nexcept SystemExit as e:\n    assert e.code == 2, e.code")
    assert {"pandas", "sklearn"} <= set(_imported(code, tmp_path))
    other = code.replace("'score'", "'validate'")
    assert not {"pandas", "sklearn"} & set(_imported(other, tmp_path))


def test_ctrl_c_while_a_model_command_imports_its_libraries_is_one_line(tmp_path):
    # SIGINT's own handler (KeyboardInterrupt) armed on a timer that fires while the console
    # script imports pandas and scikit-learn (over a second in a fresh interpreter)
    code = ("import signal, sys\nfrom resorb.cli import app\n"
            "signal.signal(signal.SIGALRM, signal.default_int_handler)\n"
            "sys.argv = ['resorb', 'score', '-i', 'x.csv', '-o', 'y.csv']\n"
            "signal.setitimer(signal.ITIMER_REAL, 0.05)\napp()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 130, out.stderr
    assert out.stderr == "interrupted (exit 130): nothing written\n"
    assert not list(tmp_path.iterdir())


def _gc_states(command: str, model_command: bool, tmp_path: Path) -> dict[str, list]:
    """Garbage-collector state inside and after the console script's call of a command."""
    code = (
        "import gc, json, sys\n"
        "from resorb.cli import app, preload\n"
        "seen = {}\n"
        f"@app.command({command!r})\n"
        "def probe() -> None:\n"
        "    seen['inside'] = [gc.isenabled(), gc.get_freeze_count()]\n"
        + (f"preload.MODEL_COMMANDS = preload.MODEL_COMMANDS | {{{command!r}}}\n"
           if model_command else "")
        + f"sys.argv = ['resorb', {command!r}]\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "seen['after'] = [gc.isenabled(), gc.get_freeze_count()]\n"
        "print(json.dumps(seen))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model_command", [True, False], ids=["model command", "other"])
def test_the_collector_runs_during_a_command_and_skips_what_is_left_at_exit(model_command,
                                                                            tmp_path):
    # cli/preload.py: the collector is off only while a model command's libraries are
    # imported (a long score must still collect its cycles); at exit what is left is frozen
    # so that the interpreter's last collections do not walk it
    seen = _gc_states("gc-probe", model_command, tmp_path)
    enabled, frozen = seen["inside"]
    assert enabled
    assert (frozen > 10_000) == model_command  # the imported libraries, frozen before
    assert seen["after"][0]
    assert seen["after"][1] > max(frozen, 10_000)


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
    assert not {"mlflow", "matplotlib", "shap", "pytest", "jinja2", "sqlalchemy"} & set(imported)


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


def test_the_listed_default_estimators_are_the_walked_ones():
    # the names handed to skops at each load/save are exactly what the package walk gives
    import sklearn

    from resorb.skops_import import DEFAULT_ESTIMATORS, SKLEARN_VERSION, default_trusted

    # walked in a fresh process: in a long one (a whole pytest run) a module that imported
    # sklearn.experimental.enable_halving_search_cv adds HalvingGridSearchCV to the walk,
    # which is why the list is fixed rather than walked at each load
    code = ("import json; from skops.io._utils import get_type_name; "
            "from resorb.skops_import import estimators_of; "
            "print(json.dumps(sorted({get_type_name(c) for _, c in estimators_of() "
            "if get_type_name(c).startswith('sklearn.')})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=300)
    walked = json.loads(done.stdout)
    assert sklearn.__version__ == SKLEARN_VERSION, \
        "scikit-learn changed: list estimators_of() again in DEFAULT_ESTIMATORS"
    assert list(DEFAULT_ESTIMATORS) == walked
    assert default_trusted() == walked


@pytest.mark.slow
def test_skops_builds_the_same_ufunc_allow_list_with_the_module_index(tmp_path):
    # skops' numpy/scipy allow-lists, built with its own whichmodule and with resorb's index
    lists = ("import json, skops.io._trusted_types as t, skops.io._utils as u\n"
             "print(json.dumps([t.SCIPY_UFUNC_TYPE_NAMES, t.NUMPY_UFUNC_TYPE_NAMES, "
             "t.NUMPY_DTYPE_TYPE_NAMES, t.SKLEARN_INTERNAL_TYPE_NAMES, "
             "u.whichmodule.__name__]))")
    fast = subprocess.run([sys.executable, "-c", "import resorb.scoring\n"
                           "from resorb.skops_import import skops_io\nskops_io()\n" + lists],
                          capture_output=True, text=True, check=True, cwd=tmp_path,
                          timeout=300)
    plain = subprocess.run([sys.executable, "-c", "import resorb.scoring\nimport skops.io\n"
                            + lists], capture_output=True, text=True, check=True,
                           cwd=tmp_path, timeout=300)
    ours, theirs = json.loads(fast.stdout), json.loads(plain.stdout)
    assert ours == theirs  # skops' whichmodule is back in place afterwards, too
    assert len(ours[0]) > 100 and len(ours[1]) > 50 and ours[4] == "whichmodule"


def test_module_index_answers_as_a_scan_of_sys_modules():
    import numpy as np
    import scipy.special

    from resorb.skops_import import _ModuleIndex

    def scan(obj, name):  # skops' rule, written out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for module_name, module in list(sys.modules.items()):
                if module_name in ("__main__", "__mp_main__") or module is None:
                    continue
                try:
                    if getattr(module, name, None) is obj:
                        return module_name
                except (AttributeError, ImportError):
                    continue
        return "__main__"

    index = _ModuleIndex()
    objects = [(getattr(scipy.special, n), n) for n in dir(scipy.special)
               if isinstance(getattr(scipy.special, n), np.ufunc)][:40]
    objects += [(np.add, "add"), (object(), "nothing_has_this")]
    for obj, name in objects:
        assert index(obj, name) == scan(obj, name) if getattr(obj, "__module__", None) is None \
            else obj.__module__
    assert index(objects[-1][0], "nothing_has_this") == "__main__"


@pytest.mark.slow
def test_a_ten_row_score_imports_no_tracking_plotting_or_report_library(tmp_path):
    # the real command in a fresh interpreter: what it leaves in sys.modules
    from resorb.cohort import make_cohort

    make_cohort(10, 1).to_csv(tmp_path / "ten.csv", index=False)
    heavy = ["mlflow", "matplotlib", "shap", "jinja2", "sqlalchemy", "pytest"]
    code = ("import sys\nfrom resorb.cli import app\n"
            f"sys.argv = ['resorb', 'score', '-i', 'ten.csv', '-o', 'scored.csv', "
            f"'--model', {str(REFERENCE)!r}]\n"
            "try:\n    app()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            f"import json\nprint(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=env, timeout=300)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert len(pd.read_csv(tmp_path / "scored.csv")) == 10
