"""The model a scoring run uses: found, loaded once, described.

An exported model folder (``resorb models export``: ``MLmodel``, ``artifacts/model.skops``,
``artifacts/resorb.json``) is read directly, without importing MLflow: the skops file through
the reviewed allow-list of :mod:`resorb.serialization`, the metadata as JSON. A registry URI
(``models:/resorb@champion``, ``models:/resorb/3``, ``runs:/<id>/model``) is first downloaded
through :mod:`resorb.tracking` (the only module that imports MLflow) into a temporary folder,
then read the same way, so both paths score with the very same estimator.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resorb import schema
from resorb.card import ModelCard, TrainingRange
from resorb.errors import InputError, ModelCardError, ModelNotFoundError
from resorb.runs import ARTIFACTS

DEFAULT_MODEL_URI = "models:/resorb@champion"
#: the registered model's name (resorb.tracking.REGISTERED_MODEL)
REGISTERED_MODEL = "resorb"
#: the SQLite store :mod:`resorb.tracking` creates in the working folder (its DEFAULT_DB)
TRACKING_DB = "mlflow.db"
REFERENCE_FOLDER = Path("models") / "reference"
#: the routine-data reference predictor (``--predictors routine``), tried after the full one
ROUTINE_FOLDER = Path("models") / "routine"
SHIPPED_FOLDERS: tuple[Path, ...] = (REFERENCE_FOLDER, ROUTINE_FOLDER)
_URI_SCHEMES = ("models:/", "runs:/")


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A fitted resorb estimator and what is known about it.

    Attributes
    ----------
    estimator : fitted scikit-learn estimator
        With ``predict_proba``; a candidate of :mod:`resorb.models`.
    metadata : ModelCard
        The model's card (``resorb.json``): candidate, data source, label rule, decision
        threshold, metrics with intervals, training ranges, features, hash of the file.
    name, version : str
        Registered name and version (``"resorb"``, ``"3"``); for an unregistered folder the
        candidate and ``""``.
    source : str
        What was asked for: the URI or the folder.
    folder : Path
        A local MLflow model folder holding the same model (for Spark).
    features : tuple of str
        Model input columns, in the order the estimator was fitted on.
    skops_bytes : bytes
        The verified content of ``model.skops`` the estimator was loaded from (matches
        ``metadata.skops_sha256``); ``b""`` for a model built in memory.
    """

    estimator: Any
    metadata: ModelCard
    name: str
    version: str
    source: str
    folder: Path
    features: tuple[str, ...]
    skops_bytes: bytes = field(default=b"", repr=False)

    @property
    def decision_threshold(self) -> float:
        """P(resorption) from which watchful waiting is offered (the model card's)."""
        return self.metadata.decision_threshold

    @property
    def training_ranges(self) -> Mapping[str, TrainingRange]:
        """``{column: (low, high)}`` for numbers, ``{column: (categories...)}`` for categories."""
        return self.metadata.training_ranges

    @property
    def is_linear(self) -> bool:
        """Whether the final estimator is linear (its explanations need a reference sample)."""
        est = self.estimator
        revision = getattr(est, "revision_coef_", None)
        if revision is not None:  # an UpdatedModel: its revision terms are linear too
            if getattr(est, "refitted_", None) is None and np.any(revision != 0):
                return True
            est = est.base
        fitted = getattr(est, "calibrated_classifiers_", None)
        if fitted:
            est = fitted[0].estimator
        final = getattr(est, "named_steps", {}).get("model", est)
        return hasattr(final, "coef_")

    @property
    def predictors(self) -> tuple[str, ...]:
        """The predictors the model was trained on (its input columns but the horizon)."""
        return tuple(f for f in self.features if f in schema.PREDICTORS)

    @property
    def predictor_set(self) -> str:
        """The card's predictor set (``full``, ``routine`` or ``custom``)."""
        return self.metadata.predictor_set

    def describe(self) -> str:
        """One line naming the model, e.g. ``resorb version 3 (random_forest, trained on ...)``;
        an updated model also names its parent and the method."""
        who = f"{self.name} version {self.version}" if self.version else self.name
        update = self.metadata.update
        if update is not None:
            return (f"{who} ({self.metadata.candidate}: {update.parent} updated by "
                    f"{update.method} on {self.metadata.trained_on})")
        return f"{who} ({self.metadata.candidate}, {self.metadata.trained_on})"

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """P(resorption) per row of model input ``X``, shape (n_rows,)."""
        from resorb.models import predict_resorption

        return predict_resorption(self.estimator, X)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame | None:
        """The feature step's output for model input ``X``, shape (n_rows, n_features_out);
        None when the estimator is not a plain ``Pipeline([("features", ...), ("model",
        ...)])`` (calibrated and updated models predict through more than that)."""
        steps = getattr(self.estimator, "steps", None)
        if not (isinstance(steps, list) and [name for name, _ in steps] == ["features", "model"]):
            return None
        return steps[0][1].transform(X)

    def predict_transformed(self, Z: pd.DataFrame) -> np.ndarray:
        """P(resorption) from :meth:`transform`'s output, shape (n_rows,): what
        :meth:`predict` computes, without transforming again (``Pipeline.predict_proba``
        is the feature step's ``transform`` then the model step's ``predict_proba``)."""
        from resorb.models import predict_resorption

        return predict_resorption(self.estimator.steps[-1][1], Z)


def registry_available(configured_uri: str | None = None) -> bool:
    """Whether a tracking store is set up: a server URI, or a SQLite file that exists.

    Parameters
    ----------
    configured_uri : str, optional
        params.yaml ``tracking.uri``; ``$MLFLOW_TRACKING_URI`` wins, and without either the
        store is ``mlflow.db`` in the working folder.
    """
    from resorb.config import store_present

    return store_present(configured_uri)


def _named_store_lacks(uri: str) -> str:
    """Why a named SQLite store gives no registered model, and the fixes (one line)."""
    db = Path(uri.removeprefix("sqlite:///"))
    what = ("does not exist" if not db.is_file()
            else f"holds no registered model '{REGISTERED_MODEL}'")
    return (f"the tracking store {uri} (MLFLOW_TRACKING_URI or params.yaml tracking.uri) "
            f"{what}; fix the path, or register and promote a model there (`resorb compare "
            f"--register`, `resorb models promote VERSION`), or pass --model FOLDER (an "
            f"exported model such as models/reference), or unset it to use this folder's "
            f"registry or the shipped reference predictor")


def registry_holds_model(configured_uri: str | None = None) -> bool:
    """Whether the tracking store holds the registered model ``resorb``.

    A SQLite store is read directly, read-only, so an empty ``mlflow.db`` (left by a
    command that failed) is no registry: scoring then uses the reference predictor. An
    HTTP(S) tracking server is asked over its REST API with the standard library
    (:func:`server_registry`; no MLflow import): one that answers that it lacks the model
    does not hold it. A server that cannot be asked (unreachable, refusing, another kind of
    URI) is taken to hold it, so that loading says what is wrong (:func:`check_server_model`).
    """
    from resorb.config import tracking_uri

    uri = tracking_uri(configured_uri)
    if not uri.startswith("sqlite:///"):
        return server_registry(uri) != "lacks"
    db = Path(uri.removeprefix("sqlite:///"))
    if not db.is_file():
        return False
    import sqlite3

    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = con.execute("SELECT 1 FROM registered_models WHERE name = ? LIMIT 1",
                          (REGISTERED_MODEL,)).fetchone()
    except sqlite3.Error:  # no MLflow tables: an empty or foreign file
        return False
    finally:
        con.close()
    return row is not None


#: seconds to wait for a tracking server's answer to :func:`server_registry`
SERVER_TIMEOUT = 10.0


def server_registry(uri: str, name: str = REGISTERED_MODEL) -> str:
    """Ask a tracking server whether it holds the registered model ``name``, without MLflow.

    One ``GET /api/2.0/mlflow/registered-models/get`` with the credentials MLflow itself
    reads from the environment (``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` or ``TOKEN``).

    Returns
    -------
    str
        ``"holds"``, ``"lacks"`` (the server says RESOURCE_DOES_NOT_EXIST),
        ``"unreachable"`` (no answer within :data:`SERVER_TIMEOUT`), ``"refused"`` (HTTP
        401/403) or ``"unknown"`` (not an HTTP(S) URI, or an answer of another kind).
    """
    import base64
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    if not uri.startswith(("http://", "https://")):
        return "unknown"
    query = urllib.parse.urlencode({"name": name})
    request = urllib.request.Request(
        f"{uri.rstrip('/')}/api/2.0/mlflow/registered-models/get?{query}")
    user, password = (os.environ.get("MLFLOW_TRACKING_USERNAME"),
                      os.environ.get("MLFLOW_TRACKING_PASSWORD"))
    if user and password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    elif os.environ.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}")
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT) as response:
            return "holds" if response.status == 200 else "unknown"
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return "refused"
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            return "unknown"
        return "lacks" if body.get("error_code") == "RESOURCE_DOES_NOT_EXIST" else "unknown"
    except (urllib.error.URLError, OSError, ValueError):
        return "unreachable"


def check_server_model(model_uri: str, configured_uri: str | None = None,
                       chosen: bool = False) -> None:
    """Refuse, with the fix, a registry URI a tracking server cannot give.

    Parameters
    ----------
    model_uri : str
        ``models:/...`` or ``runs:/...``.
    configured_uri : str, optional
        params.yaml ``tracking.uri`` (``$MLFLOW_TRACKING_URI`` wins).
    chosen : bool
        True when resorb chose ``model_uri`` itself (no ``--model`` given): the message
        then says why.

    Raises
    ------
    ModelNotFoundError
        The server cannot be reached, or (for a ``models:/`` URI) holds no model ``resorb``.
    """
    from resorb.config import tracking_uri

    uri = tracking_uri(configured_uri)
    if uri.startswith("sqlite:///"):
        return
    status = server_registry(uri)
    why = (f" (no --model was given, and with a tracking server set resorb scores with "
           f"{model_uri})" if chosen else "")
    folder = "pass --model FOLDER (an exported model such as models/reference)"
    if status == "unreachable":
        raise ModelNotFoundError(
            f"{model_uri}: the tracking server {uri} cannot be reached{why}; start it or fix "
            f"MLFLOW_TRACKING_URI (params.yaml tracking.uri), or {folder}")
    if status == "lacks" and model_uri.startswith("models:/"):
        raise ModelNotFoundError(
            f"{model_uri}: the tracking server {uri} holds no registered model "
            f"'{REGISTERED_MODEL}'{why}; register and promote one there (`resorb compare "
            f"--register`, `resorb models promote VERSION`), or {folder}, or unset "
            f"MLFLOW_TRACKING_URI to use this folder's registry")


def is_registry_uri(model: str | os.PathLike[str] | None) -> bool:
    """Whether ``model`` is read from the registry (``models:/``, ``runs:/``), not a folder."""
    return model is not None and str(model).startswith(_URI_SCHEMES)


def shipped_models() -> list[Path]:
    """The exported reference predictors found, in order of preference (full, routine).

    Each is looked up in the working folder, then in the repository the package runs from.
    """
    import resorb

    roots = [Path.cwd(), Path(resorb.__file__).resolve().parents[2]]
    found = []
    for rel in SHIPPED_FOLDERS:
        folder = next((r / rel for r in roots if (r / rel / ARTIFACTS.model_skops).is_file()),
                      None)
        if folder is not None:
            found.append(folder)
    return found


def default_model(columns: Sequence[str] | None = None) -> str:
    """The model scored with when none is named.

    ``models:/resorb@champion`` when a tracking server is set (loading then says if it
    cannot give it: :func:`check_server_model`) or the SQLite registry holds the model
    ``resorb`` (:func:`registry_holds_model`; an empty ``mlflow.db`` does not count); otherwise the
    first of the project's reference predictors (``models/reference``, then the routine-data
    one ``models/routine``; each looked up in the working folder, then the repository) whose
    required columns the file's header ``columns`` holds.

    Parameters
    ----------
    columns : sequence of str, optional
        The header of the file to score (canonical names); None: the full reference.

    Raises
    ------
    ModelNotFoundError
        No registry and no reference folder; or ``$MLFLOW_TRACKING_URI`` (params.yaml
        ``tracking.uri``) names a SQLite file other than ``./mlflow.db`` that does not
        exist or holds no model ``resorb`` (a typo in a path must not score with the
        shipped predictor instead of the store's champion).
    NoModelFitsError
        The header fits none of the reference predictors; the message lists, per
        predictor, the columns it would still need.
    """
    from resorb.config import named_store, tracking_uri

    uri = tracking_uri()
    if not uri.startswith("sqlite:///") or registry_holds_model():
        # a tracking server set on purpose: its champion, checked when loaded
        # (check_server_model), never silently replaced by a shipped model
        return DEFAULT_MODEL_URI
    if named_store(uri):  # nor a SQLite file named on purpose (a typo in its path)
        raise ModelNotFoundError(_named_store_lacks(uri))
    shipped = shipped_models()
    if not shipped:
        raise ModelNotFoundError(
            f"no model to score with: no registry here (no {TRACKING_DB} holding the model "
            f"'resorb' in {Path.cwd()}, MLFLOW_TRACKING_URI unset) and no exported model "
            f"in {REFERENCE_FOLDER} or {ROUTINE_FOLDER}; pass --model FOLDER, or train and "
            f"export one (`resorb compare --synthetic 2000 --register`, `resorb models "
            f"promote 1`, `resorb models export --to models`)")
    if columns is None:
        return str(shipped[0])
    from resorb.scoring.frame import required_columns

    have = {str(c) for c in columns}
    needs = {}
    for folder in shipped:
        card = ModelCard.from_json((folder / ARTIFACTS.model_card).read_bytes(),
                                   source=f"{folder}: {ARTIFACTS.model_card}")
        missing = [c for c in required_columns(card.features) if c not in have]
        if not missing:
            return str(folder)
        needs[folder] = (card.predictor_set, missing)
    raise NoModelFitsError(needs)


class NoModelFitsError(InputError):
    """A file lacks columns every available reference predictor requires (exit 2)."""

    def __init__(self, needs: Mapping[Path, tuple[str, list[str]]]) -> None:
        self.needs = dict(needs)
        parts = [f"{folder.parent.name}/{folder.name} ({kind} predictors) would still need "
                 f"{', '.join(missing)}" for folder, (kind, missing) in needs.items()]
        super().__init__(
            "the file fits none of the available models: " + "; ".join(parts)
            + ". Add those columns (or map them with --mapping), or name a model with "
              "--model; `resorb validate FILE --model FOLDER` lists the problems for one")


def load_model(model: str | os.PathLike[str] | None = None,
               columns: Sequence[str] | None = None) -> LoadedModel:
    """Load the model to score with.

    Parameters
    ----------
    model : str or path-like, optional
        ``models:/...`` or ``runs:/...`` URI (needs a registry, read from the store MLflow
        points at: :func:`resorb.tracking.configure`), or an exported model folder; ``None``
        for :func:`default_model`.
    columns : sequence of str, optional
        Header of the file to score, which chooses among the reference predictors when
        ``model`` is None (:func:`default_model`).

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelNotFoundError
        The URI or folder names no model, or a URI is given where there is no registry.
    InputError
        The model expects input columns that are not in the data dictionary.
    """
    target = default_model(columns) if model is None else str(model)
    if target.startswith(_URI_SCHEMES):
        check_server_model(target, chosen=model is None)
        return _load_registered(target)
    return load_folder(target, source=target)


def verified_model_bytes(model: str | os.PathLike[str] | LoadedModel | None = None
                         ) -> tuple[bytes, ModelCard]:
    """The verified bytes of a model's skops file and its card, to send to other processes.

    For engines that load the model elsewhere (Spark executors): the driver loads and
    verifies the model once (:func:`load_model`: the folder's ``MLmodel`` loader, code and
    environment files, the file's hash, the allow-list), then broadcasts these bytes, which
    each worker turns into the estimator with :func:`estimator_from_verified_bytes`. No
    worker reads the model folder or goes through MLflow.

    Parameters
    ----------
    model : str, path-like, LoadedModel or None
        As for :func:`load_model`, or a model it already loaded.

    Returns
    -------
    bytes
        The content of ``model.skops`` (its SHA-256 is the card's ``skops_sha256``).
    ModelCard

    Raises
    ------
    ModelNotFoundError, ModelCardError, ModelIntegrityError
        As :func:`load_model`; also for a model built in memory (no file bytes).
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    if not loaded.skops_bytes:
        raise ModelNotFoundError(f"{loaded.source}: the model was not loaded from a file, "
                                 f"so there are no verified bytes to send")
    return loaded.skops_bytes, loaded.metadata


def estimator_from_verified_bytes(data: bytes, card: ModelCard) -> Any:
    """The estimator of :func:`verified_model_bytes`' output, checked again where it lands.

    The SHA-256 of ``data`` is compared with ``card.skops_sha256`` and the file is read
    through the allow-list of :mod:`resorb.serialization`, so a worker runs only what the
    driver verified.

    Raises
    ------
    ModelCardError
        The bytes differ from the card's hash.
    ModelIntegrityError
        Not a skops file, or a type outside the allow-list.
    """
    from resorb.serialization import estimator_from_bytes

    card.check_skops_bytes(data)
    return estimator_from_bytes(data)


def _load_registered(uri: str) -> LoadedModel:
    from resorb.config import named_store, tracking_uri

    if not registry_available() and named_store(tracking_uri()):
        raise ModelNotFoundError(f"{uri}: {_named_store_lacks(tracking_uri())}")
    if not registry_available():
        raise ModelNotFoundError(
            f"{uri}: no model registry here (no {TRACKING_DB} in {Path.cwd()} and "
            f"MLFLOW_TRACKING_URI unset); run from the folder that holds the registry, or "
            f"pass --model with an exported model folder")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from resorb import tracking

    tmp = Path(tempfile.mkdtemp(prefix="resorb-model-"))
    try:
        loaded = load_folder(tracking.export(uri, tmp / "model"), source=uri)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # the download lives as long as the model (Spark reads it), and is deleted with it
    weakref.finalize(loaded, shutil.rmtree, tmp, True)
    return loaded


def load_folder(folder: str | os.PathLike[str], source: str | None = None) -> LoadedModel:
    """Load a local MLflow model folder with every check, naming ``source`` in errors.

    What :func:`load_model` does with an exported folder, and with the folder a registry
    URI was downloaded into: for a caller that downloaded the model itself (``resorb
    report`` fetches it from the store into a temporary folder, then loads it in its
    worker), so that a refused model is named by what the user asked for
    (``models:/resorb@champion``), not by a temporary path. The checks: ``MLmodel`` names
    resorb's loader and no code, the folder holds no code file, the card's SHA-256s of the
    loader settings, environment files and ``model.skops`` match, and ``model.skops`` is
    read from the very bytes hashed, through the allow-list of
    :data:`resorb.serialization.TRUSTED_TYPES` (README "Trust model").

    Parameters
    ----------
    folder : path-like
        The model folder: ``MLmodel``, ``artifacts/model.skops``, ``artifacts/resorb.json``
        (``registered_model_meta`` when downloaded from the registry).
    source : str, optional
        What the model is called in messages and in :attr:`LoadedModel.source`: a URI, or
        the folder itself (the default).

    Returns
    -------
    LoadedModel
        Its ``folder`` is ``folder`` (not copied: the caller keeps it as long as it needs
        it), its ``name`` and ``version`` those of ``registered_model_meta`` (else the
        candidate and ``""``).

    Raises
    ------
    ModelNotFoundError
        No such folder, or no ``model.skops`` in it.
    ModelCardError
        No card, an invalid card, or a ``model.skops`` whose SHA-256 differs from the card's.
    ModelIntegrityError
        ``MLmodel`` or the folder fails a trust check, or ``model.skops`` holds a type
        outside the allow-list.
    InputError
        The model expects input columns that are not in the data dictionary.
    """
    from resorb.serialization import estimator_from_bytes
    from resorb.trust import verify_folder

    folder = Path(folder)
    source = str(folder) if source is None else source
    if not folder.exists():
        raise ModelNotFoundError(f"no model at {source}: no such folder (give an exported "
                                 f"model folder or a models:/ or runs:/ URI)")
    skops = folder / ARTIFACTS.model_skops
    if not skops.is_file():
        raise ModelNotFoundError(f"{source} is not an exported resorb model: "
                                 f"{ARTIFACTS.model_skops} is missing (see `resorb models "
                                 f"export`)")
    card_file = folder / ARTIFACTS.model_card
    if not card_file.is_file():
        raise ModelCardError(f"{source} has no model card: {ARTIFACTS.model_card} is missing "
                             f"(see `resorb models export`)", path=str(card_file))
    card = ModelCard.from_json(card_file.read_bytes(), source=f"{source}: {card_file.name}")
    verify_folder(folder, card.integrity, source)
    # hashed and loaded from the same bytes: the file cannot change between check and load
    data = skops.read_bytes()
    # a download is named by what was asked for (a URI), not by its temporary folder
    card.check_skops_bytes(data, path=str(skops) if source == str(folder)
                           else f"{source}: {ARTIFACTS.model_skops}")
    estimator = estimator_from_bytes(data, source=f"{source}: {ARTIFACTS.model_skops}")
    name, version = _registered_meta(folder)
    features = _features(estimator, card)
    foreign = [f for f in features if f not in schema.FEATURES]
    if foreign:
        raise InputError(
            f"the model {source} expects input column{'s' * (len(foreign) != 1)} "
            f"{', '.join(repr(f) for f in foreign)}, which {'are' if len(foreign) > 1 else 'is'}"
            f" not in resorb's data dictionary, so no input file can supply "
            f"{'them' if len(foreign) > 1 else 'it'}; was it trained by another resorb version?")
    return LoadedModel(estimator=estimator, metadata=card, name=name or card.candidate,
                       version=version, source=source, folder=folder, features=features,
                       skops_bytes=data)


def _registered_meta(folder: Path) -> tuple[str, str]:
    """Registered name and version of a downloaded registered model (``""`` when none)."""
    path = folder / ARTIFACTS.registered_meta
    if not path.is_file():
        return "", ""
    import yaml

    data = yaml.load(path.read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: faster
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("model_name") or ""), str(data.get("model_version") or "")


def _features(estimator: Any, card: ModelCard) -> tuple[str, ...]:
    """Input columns: the estimator's fitted names, else the card's."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return tuple(str(n) for n in names)
    return card.features


def load_for_predictors(model: str | os.PathLike[str] | None,
                        selection: str | None) -> LoadedModel:
    """A model for a command given ``--predictors``: chosen by it, and checked against it.

    Without ``model`` and without a registry, the reference predictor whose columns the
    selection holds (``routine`` -> ``models/routine``); with a model, the model itself.
    Either way, a model trained on other predictors than ``selection`` is refused.

    Parameters
    ----------
    model : str or path-like, optional
        As for :func:`load_model`.
    selection : str, optional
        A predictor set or list (:func:`resorb.schema.resolve_predictors`); None: no check.

    Raises
    ------
    InputError
        The model was trained on other predictors (the message names the difference).
    ModelNotFoundError
        As for :func:`load_model`.
    """
    if selection is None:
        return load_model(model)
    from resorb.features import model_columns
    from resorb.scoring.frame import required_columns

    wanted = schema.resolve_predictors(selection)
    loaded = load_model(model, columns=required_columns(model_columns(wanted))
                        if model is None else None)
    if set(loaded.predictors) != set(wanted):
        extra = [p for p in loaded.predictors if p not in wanted]
        lacking = [p for p in wanted if p not in loaded.predictors]
        raise InputError(
            f"--predictors {selection}: {loaded.describe()} was trained on the "
            f"'{loaded.predictor_set}' predictors"
            + (f", which also hold {', '.join(extra)}" if extra else "")
            + (f", without {', '.join(lacking)}" if lacking else "")
            + "; name a model trained on that set with --model, or leave --predictors out")
    return loaded
