"""Data dictionary -> scikit-learn ColumnTransformer with clinical feature names.

One transformer per clinical variable, named after it, so that every output feature reads
``<variable>__<feature>`` and maps back to its variable (:func:`feature_variable`) for
explanations. Only predictors and the horizon ``followup_days`` may enter; asking for an
identifier, red flag, outcome or synthetic truth raises :class:`LeakageError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Sequence
from numbers import Integral
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, SplineTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from resorb import schema
from resorb.arguments import (
    Interval,
    Options,
    Satisfies,
    Strings,
    ValidatedParams,
    validate_arguments,
)
from resorb.config import DEFAULT_HORIZON_DAYS
from resorb.errors import LeakageError
from resorb.schema import Column, Encoding, Kind

Flavour = Literal["linear", "tree"]
HORIZON = "followup_days"
#: ramp knots of the horizon basis, in days (about 1, 2, 3, 6, 12 and 24 months)
HORIZON_KNOTS_DAYS: tuple[float, ...] = (30.0, 60.0, 90.0, 180.0, 365.0, 730.0)


@validate_arguments({"columns": [Strings()]})
def check_no_leakage(columns: Collection[str]) -> None:
    """Raise :class:`LeakageError` if any column may not become a model feature.

    Parameters
    ----------
    columns : collection of str
        Column names a pipeline would use.

    Raises
    ------
    LeakageError
        Naming every column that is not a predictor or the horizon.
    """
    bad = []
    for name in columns:
        col = schema.BY_NAME.get(name)
        if col is None:
            bad.append(f"'{name}' (not in the data dictionary)")
        elif not col.is_feature:
            bad.append(f"'{name}' ({col.role.value})")
    if bad:
        raise LeakageError(
            "these columns can never be model features: " + ", ".join(bad)
            + "; only clinical and imaging predictors and the horizon 'followup_days' may enter"
        )


@validate_arguments({"predictors": [Strings()]})
def model_columns(predictors: Sequence[str] = schema.PREDICTORS) -> tuple[str, ...]:
    """The model input columns of a predictor set: its predictors and the horizon.

    Parameters
    ----------
    predictors : sequence of str
        Predictors (:func:`resorb.schema.resolve_predictors`), checked by
        :func:`check_no_leakage`.

    Returns
    -------
    tuple of str
        In the data dictionary's order, ``followup_days`` included.
    """
    check_no_leakage(predictors)
    wanted = {*predictors, HORIZON}
    return tuple(f for f in schema.FEATURES if f in wanted)


def outside_predictors(frame: pd.DataFrame, predictors: Sequence[str]) -> tuple[str, ...]:
    """Predictors of the data dictionary that ``frame`` holds (with at least one value) but
    that are not in ``predictors``: ignored by a model of that set, in dictionary order."""
    return tuple(p for p in schema.PREDICTORS if p not in predictors and p in frame.columns
                 and bool(frame[p].notna().any()))


def describe_selection(name: str, predictors: Sequence[str], ignored: Sequence[str]) -> str:
    """One line naming a model's predictors and those it ignores, for the terminal."""
    line = (f"predictors: '{name}' ({len(predictors)}): {', '.join(predictors)}; with the "
            f"horizon {HORIZON}")
    if ignored:
        line += (f". Ignored (in the data, outside the set; never used): "
                 f"{', '.join(ignored)}")
    return line


@validate_arguments({"frame": [pd.DataFrame], "columns": [Strings()]})
def model_input(frame: pd.DataFrame, columns: Sequence[str] = schema.FEATURES) -> pd.DataFrame:
    """Select the feature columns and give them plain model dtypes.

    Booleans become 0/1 floats, numbers float64, categories object strings; optional columns
    absent from ``frame`` are added as missing, so every model sees the same columns (and the
    MLflow signature never depends on pandas nullable dtypes).

    Parameters
    ----------
    frame : DataFrame
        Canonical frame (see :func:`resorb.intake.conform`); not modified.
    columns : sequence of str
        Feature columns, checked by :func:`check_no_leakage`.

    Returns
    -------
    DataFrame of shape (n_rows, len(columns))
    """
    check_no_leakage(columns)
    out: dict[str, pd.Series | np.ndarray] = {}
    n = len(frame)
    for name in columns:
        col = schema.BY_NAME[name]
        if name not in frame.columns:
            out[name] = np.full(n, np.nan) if col.kind is not Kind.CATEGORY else np.full(
                n, None, dtype=object)
            continue
        s = frame[name]
        if col.kind is Kind.CATEGORY:
            out[name] = s.astype(object).where(s.notna(), None).to_numpy(dtype=object)
        else:
            out[name] = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=frame.index)


def _increasing_positive(knots: Any) -> bool:
    k = np.asarray(knots, dtype=float)
    return bool(k.ndim == 1 and k.size >= 2 and np.all(k > 0) and np.all(np.diff(k) > 0))


class HorizonRamps(ValidatedParams, TransformerMixin, BaseEstimator):
    """Monotone basis of the horizon: ramps of log(days) between consecutive knots.

    Each output rises linearly in log-days from 0 at one knot to 1 at the next and is flat
    outside, so a non-negative combination of them is a non-decreasing function of the
    horizon: with non-negative coefficients the predicted probability can never fall as the
    horizon grows.

    Parameters
    ----------
    knots : sequence of float
        Increasing knots in days (> 0).

    Attributes
    ----------
    log_knots_ : ndarray of shape (len(knots),)
        Natural logarithm of the knots.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on named columns
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "knots": [Satisfies(_increasing_positive, "at least two increasing positive days")],
    }

    def __init__(self, knots: Sequence[float] = HORIZON_KNOTS_DAYS) -> None:
        self.knots = knots

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y=None):
        """Check the input and knots; nothing is learned from the data."""
        self._validate_params()
        X = validate_data(self, X, ensure_all_finite="allow-nan", reset=True)
        self.log_knots_ = np.log(np.asarray(self.knots, dtype=float))
        return self

    def transform(self, X):
        """Ramp features, shape (n_rows, n_features * (len(knots) - 1)); NaN stays NaN."""
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", reset=False)
        logx = np.log(np.clip(X, 1e-9, None))
        lo, hi = self.log_knots_[:-1], self.log_knots_[1:]
        ramps = np.clip((logx[:, :, None] - lo) / (hi - lo), 0.0, 1.0)
        return ramps.reshape(X.shape[0], -1)

    def get_feature_names_out(self, input_features=None):
        """Names like ``followup_days_30_60``."""
        check_is_fitted(self)
        names = input_features if input_features is not None else getattr(
            self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
        k = [f"{v:g}" for v in np.exp(self.log_knots_).round()]
        pairs = list(itertools.pairwise(k))
        return np.asarray([f"{n}_{a}_{b}" for n in names for a, b in pairs], dtype=object)


def _impute(col: Column, add_indicator: bool) -> SimpleImputer:
    if col.missing_means:  # e.g. no contrast given: treat as the lowest grade plus an indicator
        return SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True,
                             keep_empty_features=True)
    strategy = "most_frequent" if col.kind is Kind.BOOLEAN else "median"
    return SimpleImputer(strategy=strategy, add_indicator=add_indicator,
                         keep_empty_features=True)


def _variable_pipeline(col: Column, flavour: Flavour, spline_knots: int) -> Pipeline:
    """The encoding of one clinical variable."""
    optional = not col.required
    linear = flavour == "linear"
    if col.name == HORIZON:
        if linear:
            return make_pipeline(SimpleImputer(strategy="median"), HorizonRamps())
        return make_pipeline(SimpleImputer(strategy="median"))
    enc = col.encoding
    if enc is Encoding.ONEHOT:
        cats = ([float(v) for v in range(int(col.minimum), int(col.maximum) + 1)]
                if col.kind is Kind.INTEGER else list(col.categories))
        return make_pipeline(OneHotEncoder(categories=[cats], handle_unknown="ignore",
                                           sparse_output=False))
    steps: list = []
    if enc is Encoding.ORDINAL and col.kind is Kind.CATEGORY:
        steps.append(OrdinalEncoder(categories=[list(col.categories)],
                                    handle_unknown="use_encoded_value", unknown_value=np.nan,
                                    encoded_missing_value=np.nan))
    # scale before imputing so that missing-value indicators stay 0/1; grades whose missing
    # value means something (no contrast) keep their rank so that 0 is the lowest grade
    if linear and enc in (Encoding.NUMERIC, Encoding.ORDINAL) and not col.missing_means:
        steps.append(StandardScaler())
    steps.append(_impute(col, add_indicator=optional))
    if linear and enc is Encoding.SPLINE:
        steps.append(SplineTransformer(n_knots=spline_knots, degree=3, knots="quantile",
                                       extrapolation="constant"))
    return make_pipeline(*steps)


def _encoding(col: Column, flavour: Flavour, spline_knots: int) -> Any:
    """A predictor's encoding, left out when the training rows do not inform it."""
    pipeline = _variable_pipeline(col, flavour, spline_knots)
    return pipeline if col.name == HORIZON else EncodeIfObserved(pipeline)


@validate_arguments({"flavour": [Options("linear", "tree")], "columns": [Strings()],
                     "spline_knots": [Interval(Integral, 2, None, closed="left")]})
def build_preprocessor(flavour: Flavour = "linear", columns: Sequence[str] = schema.FEATURES,
                       spline_knots: int = 5) -> ColumnTransformer:
    """Build the feature ColumnTransformer from the data dictionary.

    Parameters
    ----------
    flavour : {"linear", "tree"}
        "linear" scales numbers, expands non-linear predictors (age, volume, duration) into
        cubic splines and the horizon into monotone ramps; "tree" keeps numbers as they are.
    columns : sequence of str
        Variables to encode (checked by :func:`check_no_leakage`).
    spline_knots : int
        Knots of the cubic splines (quantile-placed), at least 2.

    Returns
    -------
    ColumnTransformer
        With pandas output and feature names ``<variable>__<feature>``.
    """
    check_no_leakage(columns)
    transformers = [(name, _encoding(schema.BY_NAME[name], flavour, spline_knots), [name])
                    for name in columns]
    ct = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    return ct.set_output(transform="pandas")


def feature_variable(feature: str) -> str:
    """The clinical variable an output feature comes from (``'level__level_L4-L5'`` -> level)."""
    return feature.split("__", 1)[0]


def horizon_features(feature_names: Iterable[str]) -> list[str]:
    """Output features derived from the horizon (constrained to a non-negative effect)."""
    return [f for f in feature_names if feature_variable(f) == HORIZON]


@validate_arguments({"n_rows": [Interval(Integral, 1, None, closed="left")]})
def dictionary_example(n_rows: int = 2) -> pd.DataFrame:
    """Model input built from the data dictionary alone (typical values, no patient's data).

    Used as MLflow's input example and to infer the model signature, so that no training
    row is ever stored with a model.
    """
    values: dict[str, list[object]] = {}
    for name in schema.FEATURES:
        col = schema.BY_NAME[name]
        if col.categories:
            cats = list(col.categories)
            values[name] = [cats[i % len(cats)] for i in range(n_rows)]
        elif col.kind is Kind.BOOLEAN:
            values[name] = [float(i % 2) for i in range(n_rows)]
        else:
            lo = col.minimum if col.minimum is not None else 0.0
            hi = col.maximum if col.maximum is not None else lo + 100.0
            mid = float(round((lo + hi) / 2)) if name != HORIZON else float(DEFAULT_HORIZON_DAYS)
            values[name] = [mid] * n_rows
    return model_input(pd.DataFrame(values))



# ------------------------------------------------------------------ unobserved predictors
#: fewer distinct observed values than this, and a predictor tells the model nothing
MIN_DISTINCT_VALUES = 2


def distinct_observed(values: Any) -> int:
    """Number of distinct non-missing values in a 1-D sequence (``None`` and NaN are missing)."""
    s = pd.Series(np.asarray(values, dtype=object).ravel())
    return int(s[s.notna()].nunique())


def unused_predictors(X: pd.DataFrame) -> dict[str, str]:
    """Predictors of ``X`` that the rows do not inform, with the reason, in column order.

    A predictor with no observed value, or with one value only, cannot be related to the
    outcome; :class:`EncodeIfObserved` leaves it out of the model, so a value given for it
    later changes nothing. The horizon is not a predictor and is never listed.

    Parameters
    ----------
    X : DataFrame of shape (n_rows, n_columns)
        Model input (:func:`model_input`) of the training rows; not modified.

    Returns
    -------
    dict of str to str
        ``{"bmi": "no observed value in 330 rows", "smoker": "one value only (12 of 330
        rows observed)"}``; values are never quoted (aggregates only).
    """
    out: dict[str, str] = {}
    for name in X.columns:
        if name == HORIZON or name not in schema.BY_NAME:
            continue
        observed = int(X[name].notna().sum())
        distinct = distinct_observed(X[name])
        if distinct >= MIN_DISTINCT_VALUES:
            continue
        out[name] = (f"no observed value in {len(X):,} rows" if observed == 0 else
                     f"one value only ({observed:,} of {len(X):,} rows observed)")
    return out


def describe_unused(unused: dict[str, str]) -> str:
    """One sentence naming the unused predictors and why, for notes and warnings."""
    if not unused:
        return ""
    parts = "; ".join(f"{name}: {why}" for name, why in unused.items())
    n = len(unused)
    them = "them" if n != 1 else "it"
    return (f"{n} predictor{'s' * (n != 1)} will be left out of any model trained on these "
            f"rows, which do not inform {them} ({parts}); a value given for {them} when "
            f"scoring is ignored and listed in out_of_range")


def _as_given(X: Any, checked: np.ndarray) -> Any:
    """A frame as it came (its column names name the features), anything else as checked."""
    return X if hasattr(X, "columns") else checked


class EncodeIfObserved(ValidatedParams, TransformerMixin, BaseEstimator):
    """Encode a predictor only when the training rows observe at least two distinct values.

    A predictor with no observed value (a hospital that never records it) or a single value
    carries no information on the outcome. Fitting its encoding anyway divides by a zero
    count (a scaler on an all-missing column) and leaves a constant feature whose coefficient
    splits with the intercept, so a value given at scoring time would shift predictions by an
    amount the data never estimated. Such a predictor is left out instead: no output
    features, whatever the values at ``transform``.

    Parameters
    ----------
    encoding : transformer or None
        The predictor's encoding (a :class:`~sklearn.pipeline.Pipeline`); None passes the
        column through.
    min_distinct : int
        Distinct non-missing values needed in at least one input column, >= 1.

    Attributes
    ----------
    used_ : bool
        Whether the predictor is encoded (False: left out).
    encoding_ : transformer or None
        The fitted clone of ``encoding`` when used, else None.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on named columns
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "encoding": [None, Satisfies(lambda e: hasattr(e, "fit") and hasattr(e, "transform"),
                                     "a transformer with fit and transform")],
        "min_distinct": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, encoding: Any = None, min_distinct: int = MIN_DISTINCT_VALUES) -> None:
        self.encoding = encoding
        self.min_distinct = min_distinct

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags

    def _checked(self, X, reset: bool) -> np.ndarray:
        return validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)

    def fit(self, X, y=None):
        """Count distinct observed values; fit the encoding when there are enough."""
        self._validate_params()
        checked = self._checked(X, reset=True)
        distinct = max(distinct_observed(checked[:, j]) for j in range(checked.shape[1]))
        self.used_ = distinct >= self.min_distinct
        self.encoding_ = None
        if self.used_:
            from sklearn.base import clone
            from sklearn.preprocessing import FunctionTransformer

            base = self.encoding if self.encoding is not None else FunctionTransformer(
                feature_names_out="one-to-one")
            self.encoding_ = clone(base).fit(_as_given(X, checked), y)
        return self

    def transform(self, X):
        """The encoded predictor, or shape (n_rows, 0) when it is left out."""
        check_is_fitted(self)
        if hasattr(X, "columns") and len(X):
            # a frame goes to the encoding as given, which validates its cells: check its
            # names and width only. check_array's copy of the frame (to be thrown away)
            # was a quarter of a ColumnTransformer's transform of 10 rows (cProfile).
            validate_data(self, X, reset=False, skip_check_array=True)
            rows, given = len(X), X
        else:
            checked = self._checked(X, reset=False)
            rows, given = checked.shape[0], _as_given(X, checked)
        if not self.used_:
            return np.zeros((rows, 0))
        return self.encoding_.transform(given)

    def get_feature_names_out(self, input_features=None):
        """The encoding's feature names; none when the predictor is left out."""
        check_is_fitted(self)
        if not self.used_:
            return np.asarray([], dtype=object)
        return self.encoding_.get_feature_names_out(input_features)
