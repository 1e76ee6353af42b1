"""Training data: read a file or generate a cohort, then check it can train and validate."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from resorb.card import DataSource
from resorb.config import Params
from resorb.errors import DataValidationError, InputError
from resorb.splits import DataCounts


@dataclass(frozen=True)
class TrainingData:
    """A canonical frame and what it is, for tags (never identifiers)."""

    frame: pd.DataFrame
    source: DataSource
    notes: tuple[str, ...] = ()
    file_name: str = ""  # the data file's name, without its folder ("" when synthetic)
    #: columns the mapping derived, in words (:func:`resorb.intake.mapping_derivations`)
    derived: dict[str, str] = field(default_factory=dict)
    #: predictors the file holds outside ``training.predictors``: dropped, never used
    ignored: tuple[str, ...] = ()
    #: 1-based data row of the file (row 1: the first under the header) each frame row was
    #: read from, shape (n_rows,); None: the frame's own order (a generated cohort)
    source_rows: np.ndarray | None = field(default=None, repr=False)

    @property
    def row_numbers(self) -> np.ndarray:
        """1-based row of the input (file or generated cohort) of each frame row, as
        ``resorb score`` and the validation reports number rows; shape (n_rows,)."""
        if self.source_rows is not None:
            return np.asarray(self.source_rows, dtype=np.int64)
        return np.arange(1, len(self.frame) + 1, dtype=np.int64)


def load_training_data(data: str | os.PathLike[str] | None, synthetic: int | None,
                       preset: str, seed: int, mapping: str | os.PathLike[str] | None = None,
                       params: Params | None = None) -> TrainingData:
    """Read a file (optionally through a column mapping) or generate a synthetic cohort.

    A synthetic cohort follows ``params.cohort`` (default: the packaged parameters).

    Raises
    ------
    InputError
        Neither or both of ``data`` and ``synthetic`` given, or a synthetic cohort of
        ``synthetic`` rows would not fit in the memory available
        (:func:`resorb.cohort.size.check_fits`).
    DataValidationError
        The file breaks the data dictionary (the report lists every problem).
    """
    if (data is None) == (synthetic is None):
        raise InputError("give either --data FILE or --synthetic N (not both, not neither)")
    if synthetic is not None:
        from resorb.cohort import load_cohort_params, make_cohort
        from resorb.cohort.size import CHECK_FROM, check_fits, peak_bytes_per_row

        cohort = load_cohort_params(preset, params)
        if synthetic >= CHECK_FROM:  # --synthetic 10**12 was numpy's ArrayMemoryError traceback
            # the cohort alone must fit (a lower bound: fitting needs several times more)
            check_fits(synthetic, peak_bytes_per_row(
                lambda k: make_cohort(n=k, seed=seed, params=cohort)), option="--synthetic",
                instead="a file of real patients (--data); fitting needs several times "
                        "the cohort's memory")
        frame = make_cohort(n=synthetic, seed=seed, params=cohort)
        return TrainingData(frame, DataSource("synthetic", preset, seed, synthetic))
    notes: list[str] = []
    derived: dict[str, str] = {}
    rows = None  # the frame's rows are the file's, in order, unless a filter kept fewer
    if mapping is not None:
        from resorb.intake import Mapping, load_mapping, mapping_derivations

        mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        derived = mapping_derivations(mapping)
    if params is not None and params.training.predictor_set != "full":
        return replace(_load_for_predictors(Path(data), mapping, params), derived=derived)
    if mapping is not None:
        from resorb.intake import describe, read_mapped

        frame, report, result = read_mapped(data, mapping, purpose="training")
        if result is not None:
            notes.append(describe(result))
            rows = result.source_rows
    else:
        from resorb.intake import check_file

        frame, report = check_file(Path(data), purpose="training")
    if not report.ok:
        raise DataValidationError(report)
    return TrainingData(frame, DataSource("real"), tuple(notes), file_name=Path(data).name,
                        derived=derived, source_rows=rows)


def _load_for_predictors(data: Path, mapping: str | os.PathLike[str] | None,
                         params: Params) -> TrainingData:
    """A labelled file checked against the predictor set of ``params`` only (predictors
    outside it are dropped, never checked, never used; the CLI lists them)."""
    from resorb.features import model_columns
    from resorb.intake import describe
    from resorb.scoring.frame import validate_for_model

    columns = model_columns(params.training.predictor_columns)
    frame, report, ignored, result = validate_for_model(data, columns, mapping, "training")
    if not report.ok:
        raise DataValidationError(report)
    notes = (describe(result),) if result is not None else ()
    return TrainingData(frame, DataSource("real"), notes, file_name=data.name,
                        ignored=ignored,
                        source_rows=result.source_rows if result is not None else None)


@dataclass(frozen=True)
class CheckedData:
    """What :func:`check_training_data` found: the counts, and notes for the user."""

    counts: DataCounts
    notes: tuple[str, ...] = ()


def check_training_data(data: TrainingData, params: Params, candidates: list[str],
                        seed: int, command: str = "compare") -> CheckedData:
    """Check, before any fit, that the labelled rows can train and validate ``candidates``.

    Every split (outer folds, recalibration folds, final fit) is counted by
    :func:`resorb.splits.check_split_capacity`; predictors the labelled rows do not inform
    (no observed value, or one value only) are named in a note, since the model leaves
    them out (:class:`resorb.features.EncodeIfObserved`).

    Parameters
    ----------
    data : TrainingData
    params : Params
    candidates : list of str
        Candidate names to be fitted; names not in ``params.candidates`` are left to the
        training functions, which refuse them.
    seed : int
        Seed of the outer folds.
    command : {"compare", "train"}
        Which command the fixes name.

    Returns
    -------
    CheckedData

    Raises
    ------
    TrainingError
        A split holds too few events or non-events (its counts and a fix), or the outcome
        has a single class.
    """
    from resorb.features import describe_unused, unused_predictors
    from resorb.splits import check_split_capacity
    from resorb.training import prepare

    labelled, X, groups = prepare(data.frame, params)
    specs = {n: params.candidates[n] for n in candidates if n in params.candidates}
    counts = check_split_capacity(labelled.y, groups, params.training, specs, seed=seed,
                                  command=command)
    note = describe_unused(unused_predictors(X))
    return CheckedData(counts=counts, notes=(note,) if note else ())


def preflight(data: TrainingData, params: Params, candidates: list[str] | None,
              command: str = "compare") -> CheckedData:
    """:func:`check_training_data` with the seed the jobs use, for the CLI to call before it
    opens the tracking store: data too small to validate then leave no store behind."""
    seed = data.source.seed if data.source.seed is not None else params.training.seed
    return check_training_data(data, params, candidates or list(params.candidates), seed,
                               command=command)
