"""What a resorb model folder may hold, recorded when it is written and checked when it is read.

A model folder is data. Whoever can write to the artifact store can change it, so every
resorb load (registry URI, exported folder, reference predictor, the Spark engine's driver)
checks the folder before anything in it is used:

- ``MLmodel``'s loader settings (its ``flavors``) are exactly what the installed resorb writes:
  one ``python_function`` flavor whose ``loader_module`` is :mod:`resorb.mlflow_model` and
  whose ``data`` is ``artifacts``, no ``code`` path, no pickled ``python_model``. A plain
  MLflow client imports whatever ``loader_module`` names, so a repointed loader is refused.
- No code file anywhere in the folder (Python source or bytecode, native libraries, pickles,
  MLflow ``code/`` folders), beyond those the card lists with their hashes (resorb lists none).
- When the card records them (:class:`FolderIntegrity`, written by
  :func:`resorb.mlflow_model.save_model`), the SHA-256 of the loader settings and of the
  environment files (``requirements.txt``, ``conda.yaml``, ``python_env.yaml``) match.
- The skops file matches the card's SHA-256 and is read through the allow-list of
  :mod:`resorb.serialization` (checked by the caller, on the bytes it then loads).

These hashes sit in the card, inside the same folder: they detect a changed or damaged file,
not a writer who rewrites the card too. What stops code from running is the structure check
and the skops allow-list, which do not depend on the card (README, "Trust model").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from resorb.errors import ModelIntegrityError

#: the module ``MLmodel`` must name as the pyfunc loader (resorb.mlflow_model.LOADER_MODULE)
LOADER_MODULE = "resorb.mlflow_model"
#: the pyfunc ``data`` folder (resorb.mlflow_model.DATA)
DATA = "artifacts"
#: keys the python_function flavor may have; ``code``, ``python_model``, ``artifacts``,
#: ``model_code_path`` and the like make MLflow run code from the folder
PYFUNC_KEYS = frozenset({"loader_module", "data", "env", "python_version"})
#: environment files a resorb folder holds (MLflow's env managers install from them)
ENVIRONMENT_FILES = ("requirements.txt", "conda.yaml", "python_env.yaml")
#: file suffixes that hold code or serialised objects that run code when loaded
CODE_SUFFIXES = frozenset({".py", ".pyc", ".pyo", ".pyd", ".pyw", ".pyz", ".pth", ".so",
                           ".dll", ".dylib", ".pkl", ".pickle", ".cloudpickle", ".joblib",
                           ".dill", ".egg", ".whl", ".ipynb", ".sh"})
#: folders whose files MLflow puts on ``sys.path`` (``code_paths``)
CODE_FOLDERS = frozenset({"code"})


class FolderIntegrity(BaseModel):
    """Hashes of a model folder's loader, environment and code files, taken when it was written.

    Attributes
    ----------
    loader_sha256 : str
        Hex SHA-256 of :func:`loader_settings` of ``MLmodel`` (its ``flavors``, as canonical
        JSON).
    environment_sha256 : dict of str to str
        File name -> hex SHA-256 of each of :data:`ENVIRONMENT_FILES` present.
    code_sha256 : dict of str to str
        Folder-relative path -> hex SHA-256 of each code file (:func:`code_files`); empty
        for every folder resorb writes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    loader_sha256: str
    environment_sha256: dict[str, str] = {}
    code_sha256: dict[str, str] = {}


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def loader_settings(mlmodel: Mapping[str, Any]) -> str:
    """The part of an ``MLmodel`` that decides what MLflow runs, as canonical JSON text.

    Parameters
    ----------
    mlmodel : mapping
        ``MLmodel`` as parsed YAML (or ``mlflow.models.Model.to_dict()``).

    Returns
    -------
    str
        ``{"flavors": ...}`` with sorted keys: every flavor and its settings (loader module,
        data folder, code paths, environment files, Python version).
    """
    return json.dumps({"flavors": mlmodel.get("flavors")}, sort_keys=True,
                      separators=(",", ":"), default=str)


def code_files(folder: Path) -> dict[str, str]:
    """Folder-relative path -> SHA-256 of every code file under ``folder`` (sorted by path).

    A code file has a suffix of :data:`CODE_SUFFIXES` or lies under a folder named in
    :data:`CODE_FOLDERS`; symbolic links count as files (their target is hashed when it
    exists).
    """
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() and not path.is_symlink():
            continue
        if path.suffix.lower() in CODE_SUFFIXES or any(p in CODE_FOLDERS for p in rel.parts[:-1]):
            found[rel.as_posix()] = (sha256_bytes(path.read_bytes()) if path.is_file()
                                     else "(not a regular file)")
    return found


def record(folder: Path, mlmodel: Mapping[str, Any]) -> FolderIntegrity:
    """The :class:`FolderIntegrity` of a folder being written, before its ``MLmodel`` is saved.

    Parameters
    ----------
    folder : Path
        The model folder (its environment files already written).
    mlmodel : mapping
        The ``MLmodel`` about to be saved, as a dict.
    """
    env = {name: sha256_bytes((folder / name).read_bytes()) for name in ENVIRONMENT_FILES
           if (folder / name).is_file()}
    return FolderIntegrity(loader_sha256=sha256_bytes(loader_settings(mlmodel).encode()),
                           environment_sha256=env, code_sha256=code_files(folder))


def read_mlmodel(folder: Path, source: str) -> dict[str, Any] | None:
    """``MLmodel`` of ``folder`` as a dict, None when absent.

    Raises
    ------
    ModelIntegrityError
        ``MLmodel`` is not a YAML mapping.
    """
    import yaml

    path = folder / "MLmodel"
    if not path.is_file():
        return None
    try:
        # libyaml's loader when PyYAML has it (as for params.yaml): the reference model's
        # 4.8 kB MLmodel in 0.001 s of CPU instead of 0.011 s, at every model load
        data = yaml.load(path.read_text(encoding="utf-8"),
                         Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelIntegrityError(f"{source}: MLmodel is not valid YAML ({type(exc).__name__})",
                                  path=str(path)) from None
    if not isinstance(data, dict):
        raise ModelIntegrityError(f"{source}: MLmodel is not a YAML mapping", path=str(path))
    return data


def check_loader(mlmodel: Mapping[str, Any], source: str, path: str) -> None:
    """Refuse an ``MLmodel`` whose loader is not the installed resorb's.

    Raises
    ------
    ModelIntegrityError
        Another flavor than ``python_function``, another ``loader_module`` or ``data``,
        or a key that makes MLflow run code from the folder (``code``, ``python_model``).
    """
    flavors = mlmodel.get("flavors")
    problems = []
    if not isinstance(flavors, dict) or "python_function" not in flavors:
        problems.append("it has no python_function flavor")
    else:
        extra = sorted(set(flavors) - {"python_function"})
        if extra:
            problems.append(f"it declares other flavors: {', '.join(extra)}")
        pyfunc = flavors["python_function"]
        if not isinstance(pyfunc, dict):
            problems.append("its python_function flavor is not a mapping")
        else:
            if pyfunc.get("loader_module") != LOADER_MODULE:
                problems.append(f"loader_module is {pyfunc.get('loader_module')!r}, not "
                                f"{LOADER_MODULE!r}")
            if pyfunc.get("data") != DATA:
                problems.append(f"data is {pyfunc.get('data')!r}, not {DATA!r}")
            unknown = sorted(set(pyfunc) - PYFUNC_KEYS)
            if unknown:
                problems.append(f"python_function has {', '.join(unknown)} (code from the "
                                f"folder)")
    if problems:
        raise ModelIntegrityError(
            f"{source}: MLmodel does not load the model through the installed resorb: "
            f"{'; '.join(problems)}; MLflow would run code from elsewhere, so the model is "
            f"refused (export it again from the registry you trust)", path=path)


def verify_folder(folder: Path, integrity: FolderIntegrity | None, source: str) -> None:
    """Check a model folder's ``MLmodel`` loader, environment and code files.

    Parameters
    ----------
    folder : Path
        The model folder (``MLmodel``, ``artifacts/``).
    integrity : FolderIntegrity or None
        What its card recorded; None for a card written before resorb recorded it (only
        the checks that need no record are made).
    source : str
        What the user asked for, for the messages.

    Raises
    ------
    ModelIntegrityError
        Naming the file and what does not match: ``MLmodel``'s loader, an environment file,
        a code file added, changed or removed.
    """
    mlmodel_path = folder / "MLmodel"
    mlmodel = read_mlmodel(folder, source)
    if mlmodel is None and integrity is not None:
        raise ModelIntegrityError(f"{source}: MLmodel is missing, though the model card "
                                  f"records its loader; export the model again",
                                  path=str(mlmodel_path))
    if mlmodel is not None:
        check_loader(mlmodel, source, str(mlmodel_path))
        if integrity is not None:
            found = sha256_bytes(loader_settings(mlmodel).encode())
            if found != integrity.loader_sha256:
                raise ModelIntegrityError(
                    f"{source}: MLmodel's loader settings (flavors) differ from those recorded "
                    f"in the model card (sha256 {found[:12]}... instead of "
                    f"{integrity.loader_sha256[:12]}...): MLmodel was changed after export",
                    path=str(mlmodel_path))
    expected_code = {} if integrity is None else integrity.code_sha256
    code = code_files(folder)
    added = sorted(set(code) - set(expected_code))
    changed = sorted(p for p in set(code) & set(expected_code) if code[p] != expected_code[p])
    removed = sorted(set(expected_code) - set(code))
    for label, paths in (("added", added), ("changed", changed), ("removed", removed)):
        if paths:
            raise ModelIntegrityError(
                f"{source}: code file{'s' * (len(paths) > 1)} {label} in the model folder: "
                f"{', '.join(paths)}; a resorb model folder holds data only, and nothing in it "
                f"is run; the model is refused (export it again)",
                path=str(folder / paths[0]))
    if integrity is not None:
        for name, digest in sorted(integrity.environment_sha256.items()):
            path = folder / name
            found = sha256_bytes(path.read_bytes()) if path.is_file() else "(missing)"
            if found != digest:
                raise ModelIntegrityError(
                    f"{source}: {name} differs from the model card's record (sha256 "
                    f"{found[:12]}... instead of {digest[:12]}...): the model's environment "
                    f"was changed after export; export the model again", path=str(path))
