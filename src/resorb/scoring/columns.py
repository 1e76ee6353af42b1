"""The columns an input gives scoring, and its rows mapped: the same for both engines.

The local engine (:mod:`resorb.scoring.batch`) and the Spark engine
(:mod:`resorb.scoring.spark`) read an input's header into :class:`InputColumns` (the mapping
file loaded once), map each batch of rows with :func:`map_rows`, and find repeated episodes
from the two key columns :func:`episode_input` names (:func:`row_episode_keys`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from resorb.intake import ChunkMapping, Mapping, load_mapping, mapping_derivations
from resorb.intake.derive import measurement_mismatches
from resorb.scoring.frame import USED_COLUMNS
from resorb.scoring.model import LoadedModel

FILTERED = "left out by the mapping's filter"


@dataclass(frozen=True)
class InputColumns:
    """What an input's header gives scoring, the same for both engines.

    Attributes
    ----------
    mapping : ChunkMapping or None
        The mapping checked against this header (None without a mapping).
    header : list of str
        The canonical header the checks and the default model see (after the mapping).
    read : list of str
        The columns to read from the input (stripped source names).
    """

    mapping: ChunkMapping | None
    header: list[str]
    read: list[str]


def input_columns(names: list[str], mapping: str | os.PathLike[str] | Any | None,
                  file_name: str) -> InputColumns:
    """The canonical header and the columns to read, the mapping file loaded once.

    Parameters
    ----------
    names : list of str
        The input's header (stripped), in file order.
    mapping : path-like, Mapping, ChunkMapping or None
    file_name : str
        How messages name the input.

    Raises
    ------
    ConfigError, InputError
        An invalid mapping file, or one naming columns the header lacks.
    """
    if mapping is None:
        return InputColumns(None, list(names),
                            [n for n in dict.fromkeys(names) if n in USED_COLUMNS])
    if not isinstance(mapping, ChunkMapping):
        loaded = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        mapping = ChunkMapping(loaded, names, file_name)
    return InputColumns(mapping, list(mapping.columns), list(mapping.sources))


def map_rows(raw: pd.DataFrame, mapping: ChunkMapping | None
             ) -> tuple[pd.DataFrame, pd.Series | None]:
    """Rows as read -> canonical frame and per-row rejection reasons (None: none rejected).

    Rows the mapping's filter leaves out are kept with the reason ``filtered``; a derivation
    the mapping could not make gives its own reason.
    """
    if mapping is None:
        return raw, None
    frame, keep, derived = mapping.apply_with_reasons(raw)
    why = np.full(len(frame), "", dtype=object) if derived is None else derived
    if keep is not None:
        why = np.where(keep, why, FILTERED)
    if keep is None and derived is None:
        return frame, None
    return frame, pd.Series(why, index=frame.index, dtype=object)


def measured_otherwise(mapping: ChunkMapping | None, model: LoadedModel) -> tuple[str, ...]:
    """Model inputs the mapping derives differently from the model's training data."""
    given = mapping_derivations(mapping.mapping if mapping else None)
    return measurement_mismatches(model.metadata.derived, given, model.features)


def episode_input(columns: InputColumns, names: list[str],
                  file_name: str) -> InputColumns | None:
    """What the repeated-episode pass reads: ``patient_id`` and ``level`` only.

    Both engines' first pass over the input (:meth:`_Input.repeated_episodes`, and the
    Spark engine's key pass in :mod:`resorb.scoring.spark.job`): without a mapping the two
    columns as read; with one, the mapping reduced to its filter and its two identifier
    rules (no derivations), so fewer columns are read.

    Parameters
    ----------
    columns : InputColumns
        The run's columns (:func:`input_columns`).
    names : list of str
        The input's header (stripped), in file order.
    file_name : str
        How messages name the input.

    Returns
    -------
    InputColumns or None
        None when the canonical header lacks ``patient_id`` or ``level`` (no rule to apply).
    """
    if not {"patient_id", "level"} <= set(columns.header):
        return None
    if columns.mapping is None:
        return InputColumns(None, ["patient_id", "level"], ["patient_id", "level"])
    mapping = columns.mapping.mapping
    keys = ("patient_id", "level")
    ids = mapping.model_copy(update={
        "columns": {k: v for k, v in mapping.columns.items() if k in keys}, "derive": {}})
    # only the header's columns the key rules read: a source column under a resorb name
    # that the whole mapping replaces (a fixed 'site') is one the run does not read, and
    # the Spark key pass looks each column it reads up among the run's
    needed = {*ids.sources, *(c.column for c in ids.filter), *keys}
    return input_columns([n for n in names if n in needed], ids, file_name)


def row_episode_keys(raw: pd.DataFrame, mapping: ChunkMapping | None) -> np.ndarray | None:
    """Each row's episode key (:func:`resorb.intake.check.episode_keys`), as read.

    Parameters
    ----------
    raw : DataFrame of shape (n_rows, len(episode_input(...).read))
        Rows as read, in the columns :func:`episode_input` names.
    mapping : ChunkMapping or None
        :func:`episode_input`'s mapping.

    Returns
    -------
    ndarray of uint64, shape (n_rows,), or None
        0 for a row whose patient or level is missing or invalid, or that the mapping's
        filter leaves out (such rows never repeat an episode); None when the mapped frame
        lacks ``patient_id`` or ``level``.
    """
    from resorb.intake.check import episode_keys

    frame, rejected = map_rows(raw, mapping)
    keys = episode_keys(frame)
    if keys is None or rejected is None:
        return keys
    return np.where(rejected.to_numpy(dtype=object) == FILTERED, np.uint64(0), keys)
