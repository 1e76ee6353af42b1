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
    transformers = [(name, _variable_pipeline(schema.BY_NAME[name], flavour, spline_knots),
                     [name]) for name in columns]
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

