"""MLflow datasets that describe the data (schema, digest, counts) and hold none of it."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import mlflow

from resorb import schema
from resorb.card import DataSource
from resorb.errors import ResorbError
from resorb.runs import Fingerprint


def data_description(features: tuple[str, ...], fp: Fingerprint, source: DataSource,
                     file_name: str = "") -> Any:
    """An MLflow dataset that describes the data and holds none of it.

    Parameters
    ----------
    features : tuple of str
        The model's input columns (data dictionary names); with the label ``resorbed`` they
        make the dataset's schema (the dictionary's types, never values).
    fp : Fingerprint
        Hash, rows, events and prevalence (:func:`fingerprint`): the digest is the first 32
        hex digits of the hash, the profile the counts.
    source : DataSource
        Synthetic preset, size and seed, or real data.
    file_name : str
        The data file's name, without its folder (``""`` for synthetic data).

    Returns
    -------
    mlflow.data.meta_dataset.MetaDataset
        Named after the file's stem or ``synthetic-<preset>``; source type ``resorb``.
    """
    from mlflow.types import ColSpec, DataType, Schema

    kinds = {schema.Kind.BOOLEAN: DataType.boolean, schema.Kind.INTEGER: DataType.long,
             schema.Kind.NUMBER: DataType.double, schema.Kind.CATEGORY: DataType.string}
    columns = [schema.BY_NAME[n] for n in (*features, "resorbed")]
    spec = Schema([ColSpec(kinds[c.kind], c.name, required=c.required or c.name == "resorbed")
                   for c in columns])
    name = Path(file_name).name
    described = {"file": name} if name else {
        "synthetic": source.preset, "rows_requested": source.n_requested, "seed": source.seed}
    profile = {"num_rows": fp.rows, "num_events": fp.events, "prevalence": fp.prevalence}
    label = Path(name).stem if name else f"synthetic-{source.preset}"
    source_cls, dataset_cls = _description_classes()
    return dataset_cls(source_cls(described), profile, name=label,
                       digest=fp.data_sha256[:32], schema=spec)


@functools.cache
def _description_classes() -> tuple[type, type]:
    """The dataset source and dataset of :func:`data_description` (built once, lazily)."""
    from mlflow.data.dataset_source import DatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    class DescribedSource(DatasetSource):
        """Where the data came from, in words: a file name or a synthetic preset."""

        def __init__(self, described: dict[str, Any]) -> None:
            self._described = dict(described)

        @staticmethod
        def _get_source_type() -> str:
            return "resorb"

        def load(self, **kwargs: Any) -> Any:
            raise ResorbError("a resorb dataset describes the data and holds none of it")

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> Any:
            raise ResorbError("a resorb dataset source is never resolved from a URI")

        def to_dict(self) -> dict[Any, Any]:
            return dict(self._described)

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> Any:
            return cls(source_dict)

    class Description(MetaDataset):
        """Name, digest, schema and counts of the data; no row of it."""

        def __init__(self, source: Any, profile: dict[str, Any], **kwargs: Any) -> None:
            self._profile = dict(profile)
            super().__init__(source, **kwargs)

        @property
        def profile(self) -> dict[str, Any]:
            return dict(self._profile)

        def to_dict(self) -> dict[str, str]:
            return {**super().to_dict(), "profile": json.dumps(self._profile)}

    return DescribedSource, Description


def log_dataset(features: tuple[str, ...], fp: Fingerprint, source: DataSource,
                file_name: str = "", context: str = "training") -> None:
    """Log :func:`data_description` as the active run's input (the UI's Dataset column).

    Parameters
    ----------
    features, fp, source, file_name
        As for :func:`data_description`.
    context : str
        ``training``, ``evaluation``, ...: what the run did with the data.
    """
    mlflow.log_input(data_description(features, fp, source, file_name), context=context)
