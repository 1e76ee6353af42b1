"""resorb models for every MLflow client: the pyfunc flavor's loader module.

A resorb model folder is data, never code. Its ``MLmodel`` names this module of the
*installed* resorb package as the pyfunc ``loader_module`` and ``artifacts/`` as its data;
``mlflow.pyfunc.load_model`` (and so ``mlflow models serve`` and ``mlflow.pyfunc.spark_udf``)
imports this module and calls :func:`_load_pyfunc`, which reads ``artifacts/model.skops``
through the reviewed allow-list of :mod:`resorb.serialization` after checking it against the
SHA-256 in the model card ``artifacts/resorb.json`` (:func:`resorb.scoring.load_model`, the
loader ``resorb score`` uses). Nothing in the folder is imported, executed or unpickled.

The model takes the data dictionary's own columns (:mod:`resorb.schema`) as a user's frame
holds them: booleans as booleans, numbers as int or float, categories as strings, optional
columns absent or empty. Its ``predict`` checks every cell with the rules of
:mod:`resorb.intake` (the code ``resorb score`` runs), so invalid input is refused with the
column and the rule, and returns a frame with one column, ``p_resorption`` (float in [0, 1]).

Why most columns are declared ``any`` in the MLflow signature: MLflow enforces a declared
``double`` by refusing int64 columns and a declared ``long`` by refusing float64 ones, so no
numeric type accepts integer-valued numbers stored either way (a CSV read by pandas gives
int64 for ``"52"``, float64 for ``"52.0"`` or a column with an empty cell); a declared
``boolean`` refuses pandas' nullable booleans with a missing value (a Parquet cohort) and, in
``mlflow models serve``, turns a JSON ``null`` into ``False``, silently. Those columns are
therefore ``any`` for MLflow, with the dictionary's type, unit and allowed values in the
model's metadata (:func:`input_dictionary`), and are checked by resorb, which says which
column breaks which rule. Categories are ``string``, which MLflow accepts in every form.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resorb import schema, trust
from resorb.config import DEFAULT_HORIZON_DAYS
from resorb.features import HORIZON, model_input
from resorb.runs import ARTIFACTS
from resorb.schema import Kind

#: the module MLflow imports to load a resorb model (the pyfunc ``loader_module``)
LOADER_MODULE = trust.LOADER_MODULE
#: the model folder's data, relative to its root: the skops file and the card
DATA = trust.DATA
#: the one output column
OUTPUT = "p_resorption"
#: key of the data dictionary in the MLmodel ``metadata``
METADATA_KEY = "resorb_input_dictionary"
#: rows listed per broken rule in an error message
_ROWS_SHOWN = 5


class InvalidInputError(ValueError):
    """Input a resorb pyfunc refuses: which columns break which rules, in which rows."""


def input_columns(features: tuple[str, ...] = schema.FEATURES) -> tuple[schema.Column, ...]:
    """The dictionary entries of a model's input columns, in the model's order."""
    return tuple(schema.BY_NAME[name] for name in features)


def input_schema(features: tuple[str, ...] = schema.FEATURES) -> Any:
    """The MLflow input schema of a model with these input columns.

    Parameters
    ----------
    features : tuple of str
        The model's input columns (its card's ``features``), all in the data dictionary.

    Returns
    -------
    mlflow.types.Schema
        One ``ColSpec`` per column: ``string`` for categories, ``any`` for numbers and
        booleans (see the module docstring), ``required`` as in the dictionary (the horizon
        ``followup_days`` is optional: the packaged default horizon is used without it).
    """
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.schema import AnyType

    return Schema([ColSpec(DataType.string if c.kind is Kind.CATEGORY else AnyType(), c.name,
                           required=c.required) for c in input_columns(features)])


def output_schema() -> Any:
    """The MLflow output schema: one ``double`` column ``p_resorption``."""
    from mlflow.types import ColSpec, DataType, Schema

    return Schema([ColSpec(DataType.double, OUTPUT)])


def input_dictionary(features: tuple[str, ...] = schema.FEATURES) -> list[dict[str, Any]]:
    """The data dictionary of the input columns, as kept in the MLmodel ``metadata``.

    Returns
    -------
    list of dict
        Per column: ``name``, ``type`` (``number``, ``integer``, ``boolean``, ``category``),
        ``unit``, ``allowed`` (e.g. ``"0-10"``, ``"none / partial / complete"``),
        ``required`` and, when a missing value means something, ``missing_means``.
    """
    out = []
    for c in input_columns(features):
        entry: dict[str, Any] = {"name": c.name, "type": c.kind.value, "unit": c.unit,
                                 "allowed": c.allowed, "required": c.required}
        if c.missing_means:
            entry["missing_means"] = c.missing_means
        out.append(entry)
    return out


def input_example(features: tuple[str, ...] = schema.FEATURES) -> pd.DataFrame:
    """Two rows built from the data dictionary alone, typed as a user's frame holds them.

    Booleans are ``bool``, integers ``int64``, numbers ``float64``, categories strings; no
    patient's data is used.
    """
    values: dict[str, list[Any]] = {}
    for i, c in enumerate(input_columns(features)):
        if c.categories:
            values[c.name] = [c.categories[(i + r) % len(c.categories)] for r in range(2)]
        elif c.kind is Kind.BOOLEAN:
            values[c.name] = [bool((i + r) % 2) for r in range(2)]
        elif c.name == HORIZON:
            values[c.name] = [DEFAULT_HORIZON_DAYS, 2 * DEFAULT_HORIZON_DAYS]
        else:
            lo = c.minimum if c.minimum is not None else 0.0
            hi = c.maximum if c.maximum is not None else lo + 100.0
            mid = round((lo + hi) / 2)
            values[c.name] = [int(mid)] * 2 if c.kind is Kind.INTEGER else [float(mid)] * 2
    return pd.DataFrame(values)


def conform_input(frame: pd.DataFrame, features: tuple[str, ...],
                  horizon_days: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """Check a frame of candidates against the data dictionary and build the model input.

    The cells are parsed and checked by :func:`resorb.intake.conform_rows`, as
    ``resorb score`` does; a row with an empty or absent ``followup_days`` is predicted at
    ``horizon_days``.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        The model's input columns (others are ignored), typed (bool, int, float, str, pandas
        nullable dtypes) or as text; not modified.
    features : tuple of str
        The model's input columns, in its order.
    horizon_days : int
        Horizon, in days, for rows without a ``followup_days`` value.

    Returns
    -------
    DataFrame of shape (n_rows, len(features))
        Model input (:func:`resorb.features.model_input`), same index as ``frame``.

    Raises
    ------
    InvalidInputError
        A required column is absent, or cells break a rule of the dictionary (the message
        names each column and rule with the first offending rows, by index label).
    """
    from resorb.intake import conform_rows

    absent = [c.name for c in input_columns(features) if c.required and c.name not in frame]
    if absent:
        raise InvalidInputError(
            f"the input lacks the required column{'s' * (len(absent) > 1)} "
            f"{', '.join(repr(a) for a in absent)} (see `resorb schema` for the data "
            f"dictionary)")
    present = [name for name in features if name in frame.columns]
    canonical, reasons = conform_rows(frame[present], purpose="scoring")
    bad = reasons.to_numpy(dtype=object) != ""
    if bad.any():
        raise InvalidInputError(_refusal(reasons[bad], len(frame)))
    days = np.full(len(frame), float(horizon_days))
    if HORIZON in canonical.columns:
        given = canonical[HORIZON].to_numpy(dtype=float, na_value=np.nan)
        days = np.where(np.isnan(given), days, given)
    return model_input(canonical.assign(**{HORIZON: days}), columns=features)


def _refusal(reasons: pd.Series, n_rows: int) -> str:
    """``"2 of 50 rows break the data dictionary: vas_leg above 10 points (index 3, 7); ..."``."""
    rows: dict[str, list[str]] = {}
    for label, text in reasons.items():
        for reason in str(text).split("; "):
            rows.setdefault(reason, []).append(str(label))
    parts = []
    for reason, labels in rows.items():
        allowed = ""
        name = reason.split(":")[0].split(" ")[0]
        if reason.endswith("unknown category") and name in schema.BY_NAME:
            allowed = f", allowed: {schema.BY_NAME[name].allowed}"
        more = f", ... ({len(labels)} rows)" if len(labels) > _ROWS_SHOWN else ""
        parts.append(f"{reason}{allowed} (index {', '.join(labels[:_ROWS_SHOWN])}{more})")
    n = len(reasons)
    return (f"{n} of {n_rows} row{'s' * (n_rows != 1)} break{'s' * (n == 1)} the data "
            f"dictionary: {'; '.join(parts)}")


class ResorbPyfunc:
    """What :func:`_load_pyfunc` returns: ``predict`` gives P(resorption) per row.

    Parameters
    ----------
    model : resorb.scoring.LoadedModel
        The estimator and its card, loaded by resorb's own loader.
    horizon_days : int
        Horizon for rows without ``followup_days``, in days (the packaged default).
    """

    def __init__(self, model: Any, horizon_days: int = DEFAULT_HORIZON_DAYS) -> None:
        self.model = model
        self.horizon_days = int(horizon_days)

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None
                ) -> pd.DataFrame:
        """P(resorption) of each row, as a frame with one column ``p_resorption``.

        Parameters
        ----------
        model_input : DataFrame of shape (n_rows, n_columns), or a dict of columns
            Candidates in the dictionary's columns (see :func:`conform_input`).
        params : mapping, optional
            Unused (MLflow passes it).

        Returns
        -------
        DataFrame of shape (n_rows, 1)
            ``p_resorption`` (float64 in [0, 1]); same index as ``model_input``.

        Raises
        ------
        mlflow.exceptions.MlflowException
            ``INVALID_PARAMETER_VALUE`` (HTTP 400 from ``mlflow models serve``), with the
            message of :class:`InvalidInputError`: the columns and rules broken, and where.
        """
        from mlflow.exceptions import MlflowException

        frame = model_input if isinstance(model_input, pd.DataFrame) \
            else pd.DataFrame(model_input)
        try:
            X = conform_input(frame, self.model.features, self.horizon_days)
        except InvalidInputError as exc:
            raise MlflowException.invalid_parameter_value(str(exc)) from None
        p = self.model.predict(X) if len(X) else np.empty(0)
        return pd.DataFrame({OUTPUT: np.asarray(p, dtype=np.float64)}, index=frame.index)


def _load_pyfunc(data_path: str) -> ResorbPyfunc:
    """MLflow's entry point: load the model whose ``artifacts/`` folder is ``data_path``.

    Parameters
    ----------
    data_path : str
        ``<model folder>/artifacts`` (the pyfunc flavor's ``data``).

    Raises
    ------
    resorb.errors.ModelNotFoundError, resorb.errors.ModelCardError
        The skops file or the card is missing, or the file's hash differs from the card's.
    """
    from resorb.scoring.model import load_model

    data = Path(data_path)
    return ResorbPyfunc(load_model(data.parent))


# ------------------------------------------------ writing a model folder (``Model.log``)


def save_model(path: str | os.PathLike[str], mlflow_model: Any, *, skops: Path, card: Path,
               features: tuple[str, ...], requirements: list[str]) -> None:
    """Write a resorb model folder for ``mlflow.models.Model.log`` (this module's flavor).

    The folder holds ``artifacts/model.skops``, ``artifacts/resorb.json``, the input
    example built from the data dictionary, the environment files and ``MLmodel`` with the
    pyfunc flavor (``loader_module`` this module, ``data`` ``artifacts``), the signature of
    :func:`input_schema` and :func:`output_schema`, and the dictionary in its ``metadata``.
    No code and no pickle is written. The card gets the SHA-256 of ``MLmodel``'s loader
    settings and of the environment files (:func:`resorb.trust.record`), which every resorb
    load checks.

    Parameters
    ----------
    path : path-like
        The new folder (must not exist).
    mlflow_model : mlflow.models.Model
        Prepared by ``Model.log`` (run, model id); completed and saved here.
    skops, card : Path
        The estimator file and its card (with the file's hash).
    features : tuple of str
        The model's input columns.
    requirements : list of str
        pip requirements of the environment that serves the model.
    """
    import mlflow.pyfunc
    import yaml
    from mlflow.models import ModelSignature
    from mlflow.models.utils import _save_example

    root = Path(path)
    (root / DATA).mkdir(parents=True)
    shutil.copyfile(skops, root / ARTIFACTS.model_skops)
    shutil.copyfile(card, root / ARTIFACTS.model_card)
    mlflow_model.signature = ModelSignature(inputs=input_schema(features),
                                            outputs=output_schema())
    mlflow_model.metadata = {**(mlflow_model.metadata or {}),
                             METADATA_KEY: input_dictionary(features)}
    _save_example(mlflow_model, input_example(features), str(root))
    (root / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    python = ".".join(map(str, sys.version_info[:3]))
    (root / "python_env.yaml").write_text(yaml.safe_dump(
        {"python": python, "build_dependencies": ["pip"],
         "dependencies": ["-r requirements.txt"]}, sort_keys=False), encoding="utf-8")
    (root / "conda.yaml").write_text(yaml.safe_dump(
        {"name": "resorb", "channels": ["conda-forge"],
         "dependencies": [f"python={python}", "pip", {"pip": requirements}]},
        sort_keys=False), encoding="utf-8")
    mlflow.pyfunc.add_to_model(mlflow_model, loader_module=LOADER_MODULE, data=DATA,
                               conda_env="conda.yaml", python_env="python_env.yaml")
    _record_integrity(root, mlflow_model.to_dict())
    mlflow_model.save(str(root / "MLmodel"))


def _record_integrity(root: Path, mlmodel: dict[str, Any]) -> None:
    """Write the hashes of the loader settings, environment and code files into the card."""
    from resorb import trust
    from resorb.card import ModelCard

    card_file = root / ARTIFACTS.model_card
    card = ModelCard.from_json(card_file.read_bytes(), source=str(card_file))
    card = card.model_copy(update={"integrity": trust.record(root, mlmodel)})
    card_file.write_text(card.to_json(), encoding="utf-8")
