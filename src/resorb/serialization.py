"""Saving and loading fitted models in the skops format, with a reviewed allow-list.

skops refuses to load any type it does not trust by default. The extra types our pipelines
need are listed here, in the project's code, after review; they are never read from the file
being loaded (an attacker who can write the file could otherwise whitelist anything).
Pickle is not used anywhere.

Same model, same bytes. skops names each array's entry in the zip archive after the array's
memory address (``id()``), repeats that number as the object's ``__id__`` in
``schema.json``, names byte strings by a random UUID and stamps every entry with the time
of writing, so two fits with the same seed gave different files. :func:`canonical_skops`
rewrites the archive: the numbers are renumbered 1, 2, ... in the order ``schema.json``
first mentions them (one bijection, so every reference keeps pointing at its object), the
UUID names become ``b1.bin``, ... and every entry is stamped 1980-01-01 00:00:00, in the
order skops wrote them. skops' own loader reads the result (the tests load it and compare
predictions). There is no skops option for this (skops 0.16 ``dumps`` takes only the
compression), hence the rewrite here.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

from resorb.arguments import HasMethods, validate_arguments
from resorb.errors import ModelIntegrityError, ModelNotFoundError

#: Types beyond skops' defaults that resorb pipelines contain; each was reviewed:
#: our own estimators, scikit-learn/scipy internals of the candidates, and numpy's dtype.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "resorb.features.HorizonRamps",
    "resorb.features.EncodeIfObserved",
    "resorb.models.FindingLevels",
    "resorb.models.FindingTerms",
    "resorb.models.HorizonMonotone",
    "resorb.models.MixtureCureClassifier",
    "resorb.models.OutOfBagCalibratedClassifier",
    "resorb.models.MonotoneLogisticRegression",
    "resorb.models.MonotoneLogisticRegressionCV",
    # SplineTransformer keeps scipy BSplines; their array namespace is a plain asarray alias
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
    "scipy.interpolate._bsplines.BSpline",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.tree._tree.Tree",
    # a parent model updated on new data (resorb update): recalibration, revision or refit
    "resorb.updating.UpdatedModel",
)


@validate_arguments({"model": [HasMethods("predict_proba")], "path": [str, os.PathLike]})
def save_estimator(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted estimator to ``path`` in the skops format, refusing untrusted types.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    path : str or path-like
        Destination file (overwritten).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the estimator contains a type outside :data:`TRUSTED_TYPES` (review it first).
    InvalidParameterError
        If ``model`` has no ``predict_proba`` or ``path`` is not a path.
    """
    from resorb.skops_import import default_trusted, skops_io

    sio = skops_io()  # without importing all of scikit-learn

    p = Path(path)
    data = canonical_skops(sio.dumps(model))
    untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
                       - set(default_trusted()))
    if untrusted:
        raise ValueError(f"the model holds types that are not on the reviewed allow-list: "
                         f"{untrusted}; review them and add them to TRUSTED_TYPES")
    p.write_bytes(data)
    return p


@validate_arguments({"path": [str, os.PathLike]})
def load_estimator(path: str | os.PathLike[str]) -> Any:
    """Load a skops file, trusting only :data:`TRUSTED_TYPES` and skops' defaults.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_estimator`.

    Returns
    -------
    The fitted estimator.

    Raises
    ------
    ModelNotFoundError
        If the file does not exist.
    ModelIntegrityError
        The file is not a skops file, or holds a type outside the allow-list (nothing of
        it is imported or run).
    InvalidParameterError
        If ``path`` is not a path.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(f"no model file at {p}")
    return estimator_from_bytes(p.read_bytes(), source=str(p))


def estimator_from_bytes(data: bytes, source: str = "model.skops") -> Any:
    """Load an estimator from the bytes of a skops file, trusting only the allow-list.

    The types the file names are audited before any is imported or constructed: a file
    naming another type is refused as a whole (skops' ``audit_tree``).

    Parameters
    ----------
    data : bytes
        The content of a file written by :func:`save_estimator`.
    source : str
        Where the bytes came from, for the messages.

    Returns
    -------
    The fitted estimator.

    Raises
    ------
    ModelIntegrityError
        Not a zip archive, no or an unreadable ``schema.json``, a type outside
        :data:`TRUSTED_TYPES` and skops' defaults, or content skops cannot rebuild.
    """
    from resorb.skops_import import default_trusted, skops_io

    sio = skops_io()  # without importing all of scikit-learn
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.loads(data, trusted=[*TRUSTED_TYPES, *default_trusted()])
    except zipfile.BadZipFile:
        raise ModelIntegrityError(
            f"{source} is not a skops model file (not a zip archive: damaged or replaced); "
            f"export the model again", path=source) from None
    except UntrustedTypesFoundException as exc:
        types = sorted(_types_in(str(exc).splitlines()[0]))
        raise ModelIntegrityError(
            f"{source} holds types that are not on resorb's reviewed allow-list: "
            f"{', '.join(types)}; nothing was loaded; this is not a model resorb wrote "
            f"(or one from a newer resorb: update resorb)", path=source) from None
    except Exception as exc:  # any other failure to parse untrusted bytes is the file's
        raise ModelIntegrityError(
            f"{source} cannot be read as a skops model ({type(exc).__name__}: "
            f"{str(exc)[:200]}); export the model again", path=source) from None


def load_estimator_bytes(data: bytes) -> Any:
    """:func:`estimator_from_bytes` for Spark executors: they receive the bytes the driver
    read and checked against the model card (:mod:`resorb.scoring.spark`), never a path or
    an MLflow folder. Raises :class:`~resorb.errors.ModelIntegrityError` as it does."""
    return estimator_from_bytes(data, source="model.skops (broadcast)")


def _types_in(message: str) -> list[str]:
    """The type names of skops' "Untrusted types found in the file: [...]" message."""
    return re.findall(r"'([^']+)'", message)


def canonical_skops(data: bytes) -> bytes:
    """The same skops file with stable entry names and fixed time stamps (module docstring).

    Parameters
    ----------
    data : bytes
        A skops archive as ``skops.io.dumps`` returns it.

    Returns
    -------
    bytes
        An archive skops loads into the same object, identical for identical objects.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        infos = src.infolist()
        schema = json.loads(src.read("schema.json"))
        numbers: dict[int, int] = {}
        names: dict[str, str] = {}

        def number(old: int) -> int:
            return numbers.setdefault(old, len(numbers) + 1)

        def rename(file: str) -> str:
            if file not in names:
                stem, dot, suffix = file.partition(".")
                names[file] = (f"{number(int(stem))}.{suffix}" if stem.isdigit()
                               else f"b{len(names) + 1}.{suffix}" if dot else file)
            return names[file]

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                out = {}
                for key, value in node.items():
                    if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                        out[key] = number(value)
                    elif key == "file" and isinstance(value, str):
                        out[key] = rename(value)
                    else:
                        out[key] = walk(value)
                return out
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        schema = walk(schema)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as dst:
            for info in infos:
                name = "schema.json" if info.filename == "schema.json" else names.get(
                    info.filename, info.filename)
                body = (json.dumps(schema, indent=2).encode() if name == "schema.json"
                        else src.read(info.filename))
                entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = info.compress_type
                entry.external_attr = 0o600 << 16
                dst.writestr(entry, body)
    return buffer.getvalue()
