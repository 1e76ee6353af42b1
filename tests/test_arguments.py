"""Argument constraints as data: what each constraint accepts, and the messages it gives."""

from __future__ import annotations

import inspect
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resorb.arguments import (
    ARRAY_LIKE,
    HasMethods,
    Interval,
    Options,
    Satisfies,
    Strings,
    check_arguments,
    validate_arguments,
)
from resorb.errors import InvalidParameterError, ResorbError


class _Model:
    def fit(self):
        return self

    def predict_proba(self):
        return None


CASES = [  # constraint, accepted values, refused values, description
    (Interval(Integral, 1, 10), [1, 10, np.int64(5)], [0, 11, 5.0, True, "5"],
     "an int in the range [1, 10]"),
    (Interval(Real, 0, None, closed="neither"), [1e-9, 3, 2.5], [0, -1, float("nan"), False],
     "a float in the range (0, inf)"),
    (Interval(Real, None, 1, closed="right"), [-1e9, 1.0], [1.5, float("inf")],
     "a float in the range (-inf, 1]"),
    (Options("linear", "tree"), ["linear", "tree"], ["forest", None, ["linear"]],
     "a str among {'linear', 'tree'}"),
    (HasMethods("fit", "predict_proba"), [_Model()], [object(), "fit"],
     "an object implementing 'fit' and 'predict_proba'"),
    (Strings(), [("a",), ["a", "b"], pd.Index(["a"]), np.array(["a"])],
     ["a", iter(["a"]), [1], None], "a collection of str"),
    (ARRAY_LIKE, [np.zeros((2, 2)), pd.DataFrame({"a": [1]}), [[1, 2]]], ["rows", 3],
     "an array-like"),
    (Satisfies(lambda v: v > 0, "a positive number"), [1], [-1, "x"], "a positive number"),
]



@pytest.mark.parametrize(("constraint", "good", "bad", "text"), CASES,
                         ids=[type(c[0]).__name__ for c in CASES])
def test_each_constraint_accepts_refuses_and_describes(constraint, good, bad, text):
    assert all(constraint.is_satisfied_by(v) for v in good)
    assert not any(constraint.is_satisfied_by(v) for v in bad)
    assert str(constraint) == text


def test_message_lists_every_alternative_in_scikit_learns_words():
    constraints = {"n": [Interval(Integral, 1, None, closed="left"), None, Path]}
    check_arguments(constraints, {"n": None, "other": "anything"}, "f")
    with pytest.raises(InvalidParameterError, match=(
            r"^The 'n' parameter of f must be an int in the range \[1, inf\), None or an "
            r"instance of 'Path'\. Got 0 instead\.$")):
        check_arguments(constraints, {"n": 0}, "f")


def test_large_values_are_named_by_their_type_not_shown():
    frame = pd.DataFrame({"patient_id": ["P-SECRET"] * 50})
    with pytest.raises(InvalidParameterError) as caught:
        check_arguments({"X": [np.ndarray]}, {"X": frame}, "f")
    assert "P-SECRET" not in str(caught.value)
    assert "Got an instance of 'DataFrame' instead." in str(caught.value)


def test_the_error_is_a_domain_error_and_what_callers_caught_before():
    assert issubclass(InvalidParameterError, ResorbError)
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


def test_decorator_checks_defaults_and_keeps_the_signature():
    @validate_arguments({"k": [Interval(Integral, 1, None, closed="left")]})
    def top(items: list, k: int = 3) -> list:
        """The first k items."""
        return items[:k]

    assert top([1, 2, 3, 4]) == [1, 2, 3]
    assert top.__doc__ == "The first k items."
    assert list(inspect.signature(top).parameters) == ["items", "k"]
    with pytest.raises(InvalidParameterError, match=r"The 'k' parameter of .*top must be"):
        top([1], k=0)


def test_decorator_refuses_constraints_on_parameters_the_function_lacks():
    with pytest.raises(TypeError, match=r"constraints name no parameter of .*f: \['kk'\]"):
        @validate_arguments({"kk": [int]})
        def f(k):
            return k
