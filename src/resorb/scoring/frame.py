"""Scoring a frame of follow-up candidates: validate, predict, explain, decide. No files.

:func:`score_frame` is a pure function from a table of candidates (canonical column names,
raw or typed cells) to the output table, one row per input row in the same order. A row
that breaks a rule of the data dictionary is never dropped: it comes out ``rejected`` with
its reasons. Red flags override the model: a patient with cauda equina syndrome or a
progressive motor deficit is never offered watchful waiting, whatever the probability.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from resorb import schema
from resorb.config import ScoringParams
from resorb.errors import DataValidationError
from resorb.features import HORIZON, model_input
from resorb.intake import Purpose, ValidationReport, check_header, conform_rows
from resorb.schema import Role
from resorb.scoring.model import LoadedModel

Predictor = Callable[[pd.DataFrame], np.ndarray]

#: columns scoring reads; outcomes and synthetic truth are ignored (they do not exist yet)
USED_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in schema.COLUMNS if c.role not in (Role.OUTCOME, Role.SYNTHETIC))
SCORED, REJECTED = "scored", "rejected"
#: why a value given for a predictor the model leaves out is listed in ``out_of_range``
UNUSED_REASON = "not used: too few values in training"
NOT_SCORED = "not scored: the input breaks the data dictionary (see reason)"


def output_columns(identifiers: Sequence[str], explain_k: int) -> list[str]:
    """Columns of the scored table, in order."""
    return [*identifiers, "p_resorption", "risk_band", "eligible_for_waiting",
            "eligibility_reason", *(f"reason_{i}" for i in range(1, explain_k + 1)),
            "out_of_range", "model_name", "model_version", "horizon_days", "status", "reason"]


def read_columns(features: Sequence[str] = schema.FEATURES) -> tuple[str, ...]:
    """Columns scoring reads for a model with input ``features``: identifiers, red flags,
    the horizon and the model's own predictors; any other predictor is ignored (listed,
    never validated, never used).

    Parameters
    ----------
    features : sequence of str
        The model's input columns (:attr:`LoadedModel.features`, a card's ``features``).

    Returns
    -------
    tuple of str
        In dictionary order.
    """
    own = set(features)
    return tuple(c for c in USED_COLUMNS
                 if schema.BY_NAME[c].role not in schema.PREDICTOR_ROLES or c in own)


def required_columns(features: Sequence[str] = schema.FEATURES) -> tuple[str, ...]:
    """Columns a file must hold to be scored by a model with input ``features``: the
    required identifiers and red flags, and the model's required predictors (an optional
    predictor, like ``rim_enhancement``, may be absent). In dictionary order."""
    return tuple(c for c in read_columns(features) if schema.BY_NAME[c].required)


def check_columns(columns: Sequence[str],
                  features: Sequence[str] = schema.FEATURES) -> tuple[str, ...]:
    """Check a table's header for scoring by a model; returns the columns scoring ignores.

    Parameters
    ----------
    columns : sequence of str
        The header (canonical names, after any mapping).
    features : sequence of str
        The model's input columns; only its predictors are required and read.

    Returns
    -------
    tuple of str
        Columns that are not read: unknown to the dictionary, outcomes, synthetic truth,
        and predictors the model was not trained on.

    Raises
    ------
    DataValidationError
        A column the model requires is absent or a column is given twice (the report says
        which).
    """
    return _check_header(tuple(str(c) for c in columns), tuple(features))


@lru_cache(maxsize=32)
def _check_header(columns: tuple[str, ...], features: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`check_columns`, once per distinct header (every chunk of a file shares one)."""
    report = for_model(check_header(columns, purpose="scoring", allow_unknown=True), features)
    if not report.ok:
        raise DataValidationError(report)
    read = read_columns(features)
    return tuple(c for c in columns if c not in read)


def for_model(report: ValidationReport, features: Sequence[str]) -> ValidationReport:
    """A validation report as a model with input ``features`` sees it: problems of
    predictors it was not trained on, and absent columns it does not require, are left out.

    Parameters
    ----------
    report : ValidationReport
        Of a whole file or a header (:func:`resorb.intake.conform`,
        :func:`resorb.intake.check_header`), against the whole data dictionary.
    features : sequence of str
        The model's input columns.

    Returns
    -------
    ValidationReport
        The same report with fewer problems (its row counts are those of the columns kept
        only when the caller conformed those columns alone, as :func:`validate_for_model`
        does).
    """
    required = set(required_columns(features))
    if report.purpose == "training":
        required.add(HORIZON)
    outside = {p for p in schema.PREDICTORS if p not in features}
    keep = tuple(p for p in report.problems if p.column not in outside
                 and (p.rule != "missing_column" or p.column in required))
    return replace(report, problems=keep)


def validate_for_model(path: str | os.PathLike[str], features: Sequence[str],
                       mapping: str | os.PathLike[str] | Any | None = None,
                       purpose: Purpose = "scoring",
                       ) -> tuple[pd.DataFrame, ValidationReport, tuple[str, ...], Any]:
    """Check a file against what one model needs (``resorb validate --model``, and training
    or validating on a predictor set).

    Predictors outside ``features`` are dropped before the cells are checked (a bad value
    there cannot hurt: it is never read), and only the columns the model requires must be
    present.

    Parameters
    ----------
    path : path-like
        CSV or Parquet file.
    features : sequence of str
        The model's input columns (:attr:`LoadedModel.features`, or
        :func:`resorb.features.model_columns` of a predictor set).
    mapping : path-like or Mapping, optional
        Mapping file applied first (:func:`resorb.intake.apply_mapping`).
    purpose : {"any", "scoring", "training"}

    Returns
    -------
    (DataFrame, ValidationReport, tuple of str, MappingResult or None)
        The canonical frame (without the ignored predictors), the report (row numbers of
        the source file), the predictors ignored (present in the file, not in the model)
        and what the mapping did.

    Raises
    ------
    InputError
        The file cannot be read, or a mapping's filter keeps no rows.
    ConfigError
        Invalid mapping file.
    """
    from resorb.features import describe_unused, model_input, unused_predictors
    from resorb.intake import (
        Mapping,
        apply_mapping,
        conform,
        in_source_rows,
        load_mapping,
        read_table,
    )
    from resorb.intake.derive import DerivedColumns, fold_into_report

    loaded = (None if mapping is None
              else mapping if isinstance(mapping, Mapping) else load_mapping(mapping))
    if loaded is None:
        raw = read_table(path)
    else:  # the mapping's dialect, as validate and train read the file without --model
        raw = read_table(path, dialect=loaded.dialect, numeric=loaded.numeric_sources)
    result = None
    allow_unknown = False
    if loaded is not None:
        result = apply_mapping(raw, loaded, source_name=Path(path).name)
        raw, allow_unknown = result.frame, not loaded.drop_unmapped
    ignored = tuple(c for c in raw.columns if c in schema.PREDICTORS and c not in features)
    frame, report = conform(raw.drop(columns=list(ignored)), purpose=purpose,
                            allow_unknown=allow_unknown)
    if result is not None:  # the refusals of the derivations the model reads, as read_mapped
        report = fold_into_report(report, DerivedColumns(tuple(
            c for c in result.derived.columns if c.target not in ignored)))
    report = for_model(report, features)
    if purpose == "training" and len(frame):  # notes about the model's predictors only
        note = describe_unused(unused_predictors(model_input(frame, columns=tuple(features))))
        report = replace(report, notes=(note,) if note else ())
    if result is not None:
        report = in_source_rows(report, result)
    return frame, report, ignored, result


def score_frame(frame: pd.DataFrame, model: LoadedModel, horizon_days: int | None = None,
                explain_k: int | None = None, params: ScoringParams | None = None, *,
                background: pd.DataFrame | None = None, predict: Predictor | None = None,
                rejected: pd.Series | None = None,
                conformed: tuple[pd.DataFrame, pd.Series] | None = None,
                background_features: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score follow-up candidates: P(resorption), band, eligibility for waiting, reasons.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        Candidates with the dictionary's column names (text cells as read from CSV, or typed
        columns); not modified. Outcome, synthetic and unknown columns are ignored.
    model : LoadedModel
        From :func:`resorb.scoring.load_model`.
    horizon_days : int, optional
        Horizon asked about, in days, for rows whose ``followup_days`` cell is empty or
        absent (default ``params.horizon_days``).
    explain_k : int, optional
        Reasons per scored row (``reason_1`` ..); 0 for none (default ``params.explain``).
    params : ScoringParams, optional
        Bands and defaults; ``ScoringParams()`` when None.
    background : DataFrame, optional
        Reference rows (model input) for explaining a linear model; without it the scored
        rows of ``frame`` are their own reference, so pass a fixed sample to make reasons
        independent of how a file is cut into chunks. Tree models explain against their
        training distribution and ignore it.
    predict : callable, optional
        ``predict(X) -> P(resorption)`` for model input ``X``; default ``model.predict``
        (e.g. a Spark UDF instead).
    rejected : Series of str, optional
        Per-row reasons, from earlier steps (e.g. a mapping's filter), to reject rows
        whatever their values (``""``: no objection; otherwise it replaces the row's
        validation problems); aligned with ``frame``.
    conformed : (DataFrame, Series), optional
        What :func:`conform_frame` returned for this very ``frame`` (the local engine
        conforms a file's first chunk once for its reference sample and once to score it
        otherwise); not checked against ``frame`` beyond its index.
    background_features : DataFrame, optional
        ``model.transform(background)``, when the caller has it (the local engine transforms
        a file's reference sample once, not once per chunk).

    Returns
    -------
    DataFrame of shape (n_rows, len(output_columns(...)))
        Identifiers present in ``frame`` (passed through), ``p_resorption`` (float, missing
        when rejected), ``risk_band``, ``eligible_for_waiting`` (bool), ``eligibility_reason``,
        ``reason_1..k`` (``"rim_enhancement = complete: +0.18"``, probability points),
        ``out_of_range`` (inputs outside the training ranges, ``""`` when none),
        ``model_name``, ``model_version``, ``horizon_days`` (days, missing when rejected),
        ``status`` (scored / rejected) and ``reason`` (why rejected, ``""`` when scored).
        Same index as ``frame``.

    Raises
    ------
    DataValidationError
        A required column is absent (a usage error: no row could be scored).
    """
    params = params or ScoringParams()
    horizon = params.horizon_days if horizon_days is None else int(horizon_days)
    k = params.explain if explain_k is None else int(explain_k)
    n = len(frame)
    canonical, reasons, days, X = prepare_rows(frame, model, horizon, rejected, conformed)
    ok = reasons == ""
    rows = np.flatnonzero(ok)
    # the feature transform is shared by the prediction and the reasons: one
    # ColumnTransformer pass per chunk instead of two (0.065 s of CPU for 10 rows)
    Z = model.transform(X) if k and predict is None and len(X) else None
    if Z is not None:
        p_valid = np.asarray(model.predict_transformed(Z), dtype=float)
        if background_features is None and _same_rows(background, X):
            background_features = Z  # a file of one chunk is its own reference sample
    else:
        p_valid = (np.asarray((predict or model.predict)(X), dtype=float) if len(X)
                   else np.empty(0))

    idx = frame.index
    # position of each output row among the scored rows; -1 for a rejected row
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    p = np.full(n, np.nan)
    p[rows] = p_valid
    band = np.full(n, -1, dtype=np.int64)
    band[rows] = params.risk_bands.band_index(p_valid)
    eligible, why_code, why_text = _eligibility(canonical, rows, p_valid,
                                                model.decision_threshold)
    eligible_all = np.zeros(n, dtype=bool)
    eligible_all[rows] = eligible
    why = np.full(n, len(why_text), dtype=np.int64)
    why[rows] = why_code
    out_range = np.full(n, "", dtype=object)
    out_range[rows] = out_of_range(X, model.training_ranges, unused_inputs(model))

    out: dict[str, Any] = {c: frame[c] for c in schema.IDENTIFIERS if c in frame.columns}
    out["p_resorption"] = p
    out["risk_band"] = _labels(band, params.risk_bands.labels, idx)
    out["eligible_for_waiting"] = eligible_all
    out["eligibility_reason"] = _labels(why, [*why_text, NOT_SCORED], idx)
    if k:
        top = _top_reasons(model, X, k, background, Z, background_features)
        for name in top.columns:
            cells = pa.array(top[name]).take(pa.array(pos, mask=pos < 0))
            out[name] = pd.Series(cells, index=idx, dtype="str")
    out["out_of_range"] = _text(out_range, idx)
    out["model_name"] = _labels(np.zeros(n, dtype=np.int64), [model.name], idx)
    out["model_version"] = _labels(np.zeros(n, dtype=np.int64), [model.version], idx)
    horizon_out = pd.array(np.rint(days), dtype="Int64")
    horizon_out[~ok] = pd.NA
    out["horizon_days"] = horizon_out
    out["status"] = _labels((~ok).astype(np.int64), [SCORED, REJECTED], idx)
    out["reason"] = _text(reasons, idx)
    return pd.DataFrame(out, index=idx)


def _same_rows(a: pd.DataFrame | None, b: pd.DataFrame) -> bool:
    """Whether ``a`` holds the values of ``b``, row for row (indexes aside)."""
    return a is not None and a.shape == b.shape and list(a.columns) == list(b.columns) \
        and a.reset_index(drop=True).equals(b.reset_index(drop=True))


def _labels(codes: np.ndarray, labels: Sequence[str], index: pd.Index) -> pd.Series:
    """``labels[codes]`` as a ``str`` Series (code -1: missing), built in Arrow."""
    arr = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                         pa.array(list(labels), type=pa.string()))
    return pd.Series(arr.dictionary_decode(), index=index, dtype="str")


def _text(values: np.ndarray, index: pd.Index) -> pd.Series:
    """An object array of mostly repeated strings as a ``str`` Series."""
    codes, uniques = pd.factorize(values)
    return _labels(codes.astype(np.int64), [str(u) for u in uniques], index)


def conform_frame(frame: pd.DataFrame, model: LoadedModel) -> tuple[pd.DataFrame, pd.Series]:
    """Check the header and apply the data dictionary's cell rules to the columns scoring reads.

    The costly, model-input-independent half of :func:`prepare_rows`.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        As for :func:`score_frame`; not modified.
    model : LoadedModel

    Returns
    -------
    canonical : DataFrame of shape (n_rows, n_used_columns)
        Coerced values (invalid cells missing).
    problems : Series of str, shape (n_rows,)
        Why each row breaks the dictionary, with the value found and what is allowed
        (``"sex: unknown category (found 'm', allowed female / male)"``; identifiers are
        never quoted: :mod:`resorb.intake.found`); ``""`` for a valid row.

    Raises
    ------
    DataValidationError
        A required column is absent, or a column is given twice.
    """
    check_columns(frame.columns, model.features)
    read = read_columns(model.features)
    return conform_rows(frame[[c for c in read if c in frame.columns]], purpose="scoring",
                        quote_values=True)


def prepare_rows(frame: pd.DataFrame, model: LoadedModel, horizon_days: int,
                 rejected: pd.Series | None = None,
                 conformed: tuple[pd.DataFrame, pd.Series] | None = None
                 ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """Validate candidates row by row and build the model input of the valid ones.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        As for :func:`score_frame`; not modified.
    model : LoadedModel
    horizon_days : int
        Horizon for rows without a ``followup_days`` value, in days.
    rejected : Series of str, optional
        As for :func:`score_frame`.
    conformed : (DataFrame, Series), optional
        :func:`conform_frame` of ``frame``, when already computed (used if its index is
        ``frame``'s).

    Returns
    -------
    canonical : DataFrame of shape (n_rows, n_used_columns)
        Coerced values (invalid cells missing).
    reasons : ndarray of str, shape (n_rows,)
        Why each row is rejected; ``""`` for rows to score.
    days : ndarray of float, shape (n_rows,)
        Horizon of each row: its ``followup_days`` where given, else ``horizon_days``.
    X : DataFrame of shape (n_valid_rows, n_features)
        Model input of the rows to score, in order.

    Raises
    ------
    DataValidationError
        A required column is absent, or a column is given twice.
    """
    if conformed is not None and conformed[0].index.equals(frame.index):
        canonical, problems = conformed
    else:
        canonical, problems = conform_frame(frame, model)
    reasons = problems.to_numpy(dtype=object)
    if rejected is not None:
        extra = rejected.to_numpy(dtype=object)
        reasons = np.where(extra == "", reasons, extra)
    rows = np.flatnonzero(reasons == "")
    days = np.full(len(frame), float(horizon_days))
    if HORIZON in canonical.columns:
        given = canonical[HORIZON].to_numpy(dtype=float, na_value=np.nan)
        days = np.where(np.isnan(given), days, given)
    valid = canonical if rows.size == len(canonical) else canonical.iloc[rows]
    valid = valid.assign(**{HORIZON: days[rows]})
    return canonical, reasons, days, model_input(valid, columns=model.features)


def _eligibility(canonical: pd.DataFrame, rows: np.ndarray, p: np.ndarray,
                 threshold: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Eligibility for watchful waiting of the scored rows, and its reason (code, texts).

    Red flags override the model: a flagged row is never eligible, whatever ``p``.
    """
    flags = [c for c in schema.columns_with_role(Role.RED_FLAG) if c.name in canonical.columns]
    texts = [f"P(resorption) at or above the decision threshold {threshold:g}",
             f"P(resorption) below the decision threshold {threshold:g}"]
    code = np.where(p >= threshold, 0, 1)
    flag_bits = np.zeros(len(p), dtype=np.int64)
    for bit, col in enumerate(flags):
        hit = canonical[col.name].to_numpy(dtype=bool, na_value=False)[rows]
        flag_bits |= hit.astype(np.int64) << bit
    for combo in range(1, 2 ** len(flags)):
        hit = flag_bits == combo
        if hit.any():
            words = " and ".join(c.description.lower() for bit, c in enumerate(flags)
                                 if combo >> bit & 1)
            code[hit] = len(texts)
            texts.append(f"red flag: {words}; needs urgent surgical assessment, "
                         f"not watchful waiting")
    return (code == 0) & (flag_bits == 0), code, texts


def _top_reasons(model: LoadedModel, X: pd.DataFrame, k: int,
                 background: pd.DataFrame | None, Z: pd.DataFrame | None = None,
                 background_features: pd.DataFrame | None = None) -> pd.DataFrame:
    names = [f"reason_{i}" for i in range(1, k + 1)]
    if len(X) == 0:
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in names})
    from resorb.explain import explain, top_reasons

    ref = background if (model.is_linear and background is not None and len(background)) \
        else None
    expl = explain(model.estimator, X, background=ref, features_X=Z,
                   features_background=background_features if ref is not None else None)
    return top_reasons(expl, min(k, expl.values.shape[1])).reindex(columns=names)


def out_of_range(X: pd.DataFrame, ranges: Mapping[str, Any],
                 unused: Sequence[str] = ()) -> np.ndarray:
    """Which inputs of each row lie outside the ranges the model was trained on.

    Parameters
    ----------
    X : DataFrame of shape (n_rows, n_features)
        Model input (:func:`resorb.features.model_input`).
    ranges : mapping
        ``{column: [min, max]}`` for numbers, ``{column: [categories]}`` for categories, as
        in a model's ``resorb.json``. A predictor whose range is None or empty had no
        observed value in training.
    unused : sequence of str
        Predictors the model leaves out (a card's ``unused_predictors``: no observed value,
        or one value only, in training).

    Returns
    -------
    ndarray of str, shape (n_rows,)
        e.g. ``"herniation_volume_mm3 (25000 > 18950), level (L1-L2 not seen in training)"``,
        or ``"bmi (not used: too few values in training)"`` for a value given for a
        predictor in ``unused`` or without a range (listed first); ``""`` when every input
        lies within its range. Missing values are never out of range.
    """
    text = np.full(len(X), "", dtype=object)
    for name in X.columns:
        if name == HORIZON or not (name in unused or (name in ranges and not ranges[name])):
            continue
        idx = np.flatnonzero(X[name].notna().to_numpy())
        if idx.size:
            _append(text, idx, np.full(idx.size, f"{name} ({UNUSED_REASON})", dtype=object))
    for name, allowed in ranges.items():
        if name not in X.columns or not allowed or name in unused:
            continue
        values = X[name]
        if pd.api.types.is_numeric_dtype(values.dtype) and len(allowed) == 2 \
                and all(isinstance(v, int | float) for v in allowed):
            lo, hi = float(allowed[0]), float(allowed[1])
            x = values.to_numpy(dtype=float, na_value=np.nan)
            for mask, sign, bound in ((x < lo, "<", lo), (x > hi, ">", hi)):
                idx = np.flatnonzero(mask)
                if idx.size:
                    codes, uniques = pd.factorize(x[idx])
                    words = np.array([f"{name} ({_number(u)} {sign} {_number(bound)})"
                                      for u in uniques], dtype=object)
                    _append(text, idx, words[codes])
        else:
            seen = [str(v) for v in allowed]
            mask = values.notna().to_numpy() & ~values.isin(seen).to_numpy()
            idx = np.flatnonzero(mask)
            if idx.size:
                codes, uniques = pd.factorize(values.iloc[idx].astype(object))
                words = np.array([f"{name} ({u} not seen in training)" for u in uniques],
                                 dtype=object)
                _append(text, idx, words[codes])
    return text


def _append(text: np.ndarray, idx: np.ndarray, words: np.ndarray) -> None:
    current = text[idx]
    text[idx] = np.where(current == "", words, current + ", " + words)


def _number(v: float) -> str:
    return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:.6g}"


def gave_unused(out_of_range_text: pd.Series) -> np.ndarray:
    """Rows whose ``out_of_range`` lists a value given for a predictor the model leaves out.

    Parameters
    ----------
    out_of_range_text : Series of str, shape (n_rows,)
        The ``out_of_range`` column of :func:`score_frame` (missing for rejected rows).

    Returns
    -------
    ndarray of bool, shape (n_rows,)
    """
    listed = out_of_range_text.astype(object).fillna("").astype(str)
    return listed.str.contains(f"({UNUSED_REASON})", regex=False).to_numpy()


def unused_inputs(model: LoadedModel) -> tuple[str, ...]:
    """Predictors the model leaves out: its card's ``unused_predictors``, and any predictor
    its card gives no training range (no observed value in training: a card written before
    ``unused_predictors`` existed)."""
    card = model.metadata
    no_range = (n for n, r in card.training_ranges.items() if not r and n != HORIZON)
    return tuple(dict.fromkeys([*card.unused_predictors, *no_range]))
