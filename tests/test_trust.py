"""A model folder cannot run code: every resorb load checks it, refuses with exit 2, runs nothing.

One small logistic model is written as an MLflow model folder (resorb.tracking.save_model_folder,
the export path) once; each case copies it, damages one thing the way an attacker or a broken
copy would, and runs the real ``resorb score`` in a subprocess. The planted code writes a marker
file when imported or unpickled; positive controls show that the same plant does run when the
guard is bypassed (a plain MLflow client, skops told to trust the type), so the tests can fail.
Also: same seed, same bytes for model.skops.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from resorb.card import ModelCard
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.errors import ModelCardError, ModelIntegrityError
from resorb.files import write_table
from resorb.scoring.model import (
    estimator_from_verified_bytes,
    load_model,
    verified_model_bytes,
)
from resorb.serialization import canonical_skops, estimator_from_bytes
from tests.factories import FAST_PARAMS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RESORB = str(Path(sys.executable).with_name("resorb"))
CARD = "artifacts/resorb.json"
SKOPS = "artifacts/model.skops"
PAYLOAD = '''
import os
from pathlib import Path

def _ran(where):
    Path(os.environ["RESORB_MARKER"]).write_text(where)

_ran("import")

class Payload:
    def __setstate__(self, state):
        _ran("setstate")
        self.__dict__.update(state)

    def predict_proba(self, X):
        return X

def _load_pyfunc(path):
    _ran("loader")
'''


def fit_model(seed: int = 3):
    """A logistic candidate fitted on a cohort drawn with ``seed``, and its model input."""
    from resorb.models import build_model
    from resorb.training import prepare

    params = Params.resolve(FAST_PARAMS)
    data, X, _ = prepare(make_cohort(n=400, seed=seed), params)
    return build_model(params.candidates["logistic"], seed=seed).fit(X, data.y), X


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, Path]:
    """An exported model folder, a cohort to score and a folder holding the payload module."""
    from resorb import tracking
    from tests.test_scoring import card_for

    root = tmp_path_factory.mktemp("trust")
    model, X = fit_model()
    folder = tracking.save_model_folder(model, card_for(X, "logistic"), root / "model")
    payload = root / "payload"
    payload.mkdir()
    (payload / "trust_payload.py").write_text(PAYLOAD)
    return {"folder": folder, "csv": write_table(make_cohort(30, seed=5), root / "in.csv"),
            "payload": payload}


def env_with_payload(base: dict[str, Path], marker: Path) -> dict[str, str]:
    """The environment of a run in which the payload module is importable."""
    return {**os.environ, "RESORB_MARKER": str(marker),
            "PYTHONPATH": os.pathsep.join([str(base["payload"]), str(ROOT / "src")])}


def rehash_card(folder: Path, **changes) -> None:
    """Rewrite the card with the current model file's hash (an attacker who edits both)."""
    card = ModelCard.from_json((folder / CARD).read_bytes())
    card = card.with_skops_hash(folder / SKOPS).model_copy(update=changes)
    (folder / CARD).write_text(card.to_json())


def payload_skops(base: dict[str, Path]) -> bytes:
    """A skops file holding an object of the payload's type (written in a subprocess)."""
    code = ("import skops.io as sio, sys, trust_payload\n"
            "sys.stdout.buffer.write(sio.dumps(trust_payload.Payload()))\n")
    marker = base["payload"] / "writer-marker"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                         env=env_with_payload(base, marker), timeout=120)
    return out.stdout


def tamper_loader(m: Path, base) -> None:
    text = (m / "MLmodel").read_text()
    assert "loader_module: resorb.mlflow_model" in text
    (m / "MLmodel").write_text(text.replace("loader_module: resorb.mlflow_model",
                                            "loader_module: trust_payload"))


def add_pickle_key(m: Path, base) -> None:
    text = (m / "MLmodel").read_text()
    (m / "MLmodel").write_text(text.replace("    loader_module: resorb.mlflow_model",
                                            "    loader_module: resorb.mlflow_model\n"
                                            "    python_model: python_model.pkl"))


def add_code_file(m: Path, base) -> None:
    shutil.copy(base["payload"] / "trust_payload.py", m / "artifacts" / "helper.py")


def modify_recorded_code_file(m: Path, base) -> None:
    # a card that records a code file (resorb writes none), whose file then changes
    card = ModelCard.from_json((m / CARD).read_bytes())
    original = b"VALUE = 1\n"
    integrity = card.integrity.model_copy(
        update={"code_sha256": {"code/helper.py": hashlib.sha256(original).hexdigest()}})
    (m / CARD).write_text(card.model_copy(update={"integrity": integrity}).to_json())
    (m / "code").mkdir()
    (m / "code" / "helper.py").write_text("import trust_payload\n")


def change_requirements(m: Path, base) -> None:
    with open(m / "requirements.txt", "a") as fh:
        fh.write("evil-package==1.0\n")


def replace_skops(m: Path, base) -> None:
    from resorb.serialization import save_estimator

    save_estimator(fit_model(seed=4)[0], m / SKOPS)


def random_skops(m: Path, base) -> None:
    (m / SKOPS).write_bytes(np.random.default_rng(7).bytes(4096))
    rehash_card(m)


def untrusted_skops(m: Path, base) -> None:
    (m / SKOPS).write_bytes(payload_skops(base))
    rehash_card(m)


CASES: list[tuple[str, Callable[[Path, dict], None], str, list[str]]] = [
    ("tampered MLmodel loader", tamper_loader, "MLmodel",
     ["MLmodel does not load the model through the installed resorb",
      "loader_module is 'trust_payload', not 'resorb.mlflow_model'"]),
    ("pickled python_model in MLmodel", add_pickle_key, "MLmodel",
     ["python_function has python_model (code from the folder)"]),
    ("added code file", add_code_file, "artifacts/helper.py",
     ["code file added in the model folder: artifacts/helper.py"]),
    ("modified recorded code file", modify_recorded_code_file, "code/helper.py",
     ["code file changed in the model folder: code/helper.py"]),
    ("changed environment file", change_requirements, "requirements.txt",
     ["requirements.txt differs from the model card's record"]),
    ("replaced skops file", replace_skops, SKOPS,
     ["model.skops does not match its resorb.json"]),
    ("random bytes as model.skops", random_skops, SKOPS,
     ["is not a skops model file (not a zip archive"]),
    ("untrusted type inside model.skops", untrusted_skops, SKOPS,
     ["holds types that are not on resorb's reviewed allow-list: trust_payload.Payload",
      "nothing was loaded"]),
]


@pytest.mark.parametrize("damage, where, words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_damaged_folder_is_refused_by_resorb_score(base, tmp_path, monkeypatch, damage,
                                                     where, words):
    m = tmp_path / "m"
    shutil.copytree(base["folder"], m)
    damage(m, base)
    marker, out = tmp_path / "marker", tmp_path / "out.csv"
    run = subprocess.run([RESORB, "score", "-i", str(base["csv"]),
                          "-o", str(out), "--model", str(m)], capture_output=True, text=True,
                         cwd=tmp_path, env=env_with_payload(base, marker), timeout=300)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.startswith("error: "), run.stderr
    for text in words:
        assert text in run.stderr, run.stderr
    assert str(m) in run.stderr and where.split("/")[-1] in run.stderr
    assert not marker.exists() and not out.exists()
    # the reference predictor path (no --model, models/reference here) refuses it too
    (tmp_path / "models").mkdir()
    shutil.move(m, tmp_path / "models" / "reference")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ModelCardError) as caught:
        load_model()
    assert all(text in str(caught.value) for text in words)
    assert not marker.exists()


def test_the_untouched_folder_loads_and_records_its_hashes(base):
    loaded = load_model(base["folder"])
    integrity = loaded.metadata.integrity
    assert integrity is not None and integrity.code_sha256 == {}
    assert set(integrity.environment_sha256) == {"requirements.txt", "conda.yaml",
                                                 "python_env.yaml"}
    data, card = verified_model_bytes(loaded)
    assert hashlib.sha256(data).hexdigest() == card.skops_sha256
    X = fit_model(seed=9)[1].head(50)
    assert np.array_equal(estimator_from_verified_bytes(data, card).predict_proba(X),
                          loaded.estimator.predict_proba(X))
    with pytest.raises(ModelCardError, match=r"does not match its resorb\.json"):
        estimator_from_verified_bytes(data + b"x", card)


def test_the_guards_are_what_stops_the_payload(base, tmp_path):
    """Positive controls: bypassing resorb's checks, the same plants do run."""
    import skops.io as sio

    marker = tmp_path / "marker"
    m = tmp_path / "m"
    shutil.copytree(base["folder"], m)
    tamper_loader(m, base)
    plain = subprocess.run([sys.executable, "-c", "import mlflow.pyfunc, sys\n"
                            "try:\n    mlflow.pyfunc.load_model(sys.argv[1])\n"
                            "except Exception:\n    pass\n", str(m)],
                           env=env_with_payload(base, marker), capture_output=True,
                           text=True, timeout=300)
    assert marker.exists(), plain.stderr  # a plain MLflow client imports the repointed loader
    marker.unlink()
    data = payload_skops(base)
    with pytest.raises(ModelIntegrityError, match=r"trust_payload\.Payload"):
        estimator_from_bytes(data)
    code = ("import skops.io as sio, sys\n"
            "sio.loads(sys.stdin.buffer.read(), trusted=['trust_payload.Payload'])\n")
    subprocess.run([sys.executable, "-c", code], input=data, check=True, timeout=120,
                   env=env_with_payload(base, marker), capture_output=True)
    assert marker.exists()  # skops told to trust the type imports (runs) it
    assert sio.get_untrusted_types(data=data) == ["trust_payload.Payload"]


# ----------------------------------------------------------------- same seed, same bytes
def test_same_seed_gives_the_same_model_bytes(tmp_path):
    """Two trainings in two processes (different hash seeds) write identical model.skops."""
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from resorb.serialization import save_estimator\n"
            "from tests.test_trust import fit_model\n"
            "import skops.io as sio\n"
            "model = fit_model(seed=int(sys.argv[2]))[0]\n"
            "save_estimator(model, Path(sys.argv[1]) / 'model.skops')\n"
            "(Path(sys.argv[1]) / 'raw.skops').write_bytes(sio.dumps(model))\n")
    files = []
    for i, seed in enumerate((3, 3, 4)):
        where = tmp_path / str(i)
        where.mkdir()
        subprocess.run([sys.executable, "-c", code, str(where), str(seed)], check=True,
                       cwd=ROOT, timeout=300, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": str(i + 11)})
        files.append(where)
    same = [(f / "model.skops").read_bytes() for f in files]
    assert same[0] == same[1]
    assert same[0] != same[2]  # another seed: another model
    # skops' own bytes differ (array names are memory addresses, zip entries carry times)
    assert (files[0] / "raw.skops").read_bytes() != (files[1] / "raw.skops").read_bytes()
    X = fit_model(seed=9)[1].head(100)
    raw = estimator_from_bytes((files[0] / "raw.skops").read_bytes())
    assert np.array_equal(estimator_from_bytes(same[0]).predict_proba(X), raw.predict_proba(X))
    assert canonical_skops(same[0]) == same[0]


def test_a_card_without_integrity_still_loads(base, tmp_path):
    """Cards written before the hashes were recorded load, with the structural checks only."""
    m = tmp_path / "m"
    shutil.copytree(base["folder"], m)
    card = json.loads((m / CARD).read_text())
    del card["integrity"]
    (m / CARD).write_text(json.dumps(card))
    assert load_model(m).metadata.integrity is None
    add_code_file(m, {"payload": base["payload"]})
    with pytest.raises(ModelIntegrityError, match=r"artifacts/helper\.py"):
        load_model(m)


def test_a_registered_model_changed_in_the_artifact_store_is_refused(tmp_path, monkeypatch,
                                                                       base):
    """Who can write to the artifact store can change a model: resorb refuses the change."""
    from tests.test_scoring import make_registry

    registry = make_registry(tmp_path)
    monkeypatch.chdir(registry.folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert load_model("models:/resorb/1").version == "1"
    stored = [p for p in (registry.folder / "mlartifacts").rglob("MLmodel")]
    assert stored
    marker = tmp_path / "marker"
    monkeypatch.setenv("RESORB_MARKER", str(marker))
    monkeypatch.syspath_prepend(str(base["payload"]))
    for path in stored:
        tamper_loader(path.parent, base)
    with pytest.raises(ModelIntegrityError, match=r"loader_module is 'trust_payload'"):
        load_model("models:/resorb@champion")
    assert not marker.exists()
