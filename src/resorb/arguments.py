"""Argument constraints declared as data, checked by one generic validator.

Modelled on scikit-learn's ``_parameter_constraints`` and ``validate_params``, with the same
messages: ``The 'C' parameter of MonotoneLogisticRegression must be a float in the range
(0, inf). Got -1 instead.`` scikit-learn 1.9 keeps that machinery in the private module
``sklearn.utils._param_validation``, which may change in any release without notice, so
resorb carries this small copy of the idea instead of importing it. Estimators list their
constraints in ``_parameter_constraints`` (checked by :meth:`ValidatedParams._validate_params`
at fit time, never in ``__init__``); public functions declare theirs with
:func:`validate_arguments`. A constraint list is satisfied when any one of its entries is:
a type, ``None``, :class:`Interval`, :class:`Options`, :class:`HasMethods`,
:class:`Strings` or :class:`Satisfies`.

This module imports neither scikit-learn nor pandas, so that it costs nothing at start-up.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from numbers import Integral, Real
from typing import Any, ClassVar, Literal, TypeVar

from resorb.errors import InvalidParameterError

F = TypeVar("F", bound=Callable[..., Any])


class Interval:
    """Numbers of one kind (``Integral`` or ``Real``) between two bounds; ``None`` is infinite.

    Booleans are refused even though Python counts them as integers.
    """

    def __init__(self, kind: type, left: float | None, right: float | None, *,
                 closed: Literal["left", "right", "both", "neither"] = "both") -> None:
        if kind not in (Integral, Real):
            raise TypeError(f"an Interval holds Integral or Real numbers, not {kind!r}")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if self.kind is Real and math.isnan(value):
            return False
        low_ok = self.left is None or (
            value >= self.left if self.closed in ("left", "both") else value > self.left)
        high_ok = self.right is None or (
            value <= self.right if self.closed in ("right", "both") else value < self.right)
        return bool(low_ok and high_ok)

    def __str__(self) -> str:
        kind = "an int" if self.kind is Integral else "a float"
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        left = "-inf" if self.left is None else str(self.left)
        right = "inf" if self.right is None else str(self.right)
        return f"{kind} in the range {lb}{left}, {right}{rb}"


class Options:
    """One of a fixed set of values."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def is_satisfied_by(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def __str__(self) -> str:
        kind = "a str" if all(isinstance(v, str) for v in self.values) else "a value"
        return f"{kind} among {{{', '.join(repr(v) for v in self.values)}}}"


class HasMethods:
    """Any object with all the given methods (duck typing, e.g. ``predict_proba``)."""

    def __init__(self, *methods: str) -> None:
        self.methods = methods

    def is_satisfied_by(self, value: Any) -> bool:
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def __str__(self) -> str:
        return "an object implementing " + " and ".join(repr(m) for m in self.methods)


class Strings:
    """A sized collection of str such as a list, tuple or index.

    A bare str is refused (it would be read as characters), and so is an iterator, which the
    check would consume.
    """

    def is_satisfied_by(self, value: Any) -> bool:
        return (isinstance(value, Collection) and not isinstance(value, str | bytes)
                and all(isinstance(v, str) for v in value))

    def __str__(self) -> str:
        return "a collection of str"


class Satisfies:
    """Values for which ``predicate`` is true; ``description`` completes "must be ..."."""

    def __init__(self, predicate: Callable[[Any], bool], description: str) -> None:
        self.predicate, self.description = predicate, description

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return self.description


#: frames, arrays and lists of rows: what scikit-learn estimators accept as ``X``
ARRAY_LIKE = Satisfies(lambda v: hasattr(v, "shape") or isinstance(v, list | tuple),
                       "an array-like")


def _satisfies(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return constraint.is_satisfied_by(value)


def _describe(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__qualname__!r}"
    return str(constraint)


def _shown(value: Any) -> str:
    # long or multi-line reprs (frames, arrays) could carry patients' values into a message
    text = repr(value)
    if len(text) > 80 or "\n" in text:
        return f"an instance of {type(value).__qualname__!r}"
    return text


def check_arguments(constraints: Mapping[str, Iterable[Any]], values: Mapping[str, Any],
                    caller: str) -> None:
    """Check each named value against its constraints; names without constraints pass.

    Parameters
    ----------
    constraints : mapping of str to list of constraints
        For each argument, the constraints of which at least one must hold.
    values : mapping of str to object
        Argument values by name.
    caller : str
        The function or class named in the message.

    Raises
    ------
    InvalidParameterError
        For the first argument that satisfies none of its constraints, with a message of
        scikit-learn's form ``The 'x' parameter of f must be ... Got ... instead.``
    """
    for name, value in values.items():
        allowed = list(constraints.get(name, ()))
        if not allowed or any(_satisfies(c, value) for c in allowed):
            continue
        texts = [_describe(c) for c in allowed]
        expected = texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"
        raise InvalidParameterError(f"The {name!r} parameter of {caller} must be {expected}. "
                                    f"Got {_shown(value)} instead.")


def validate_arguments(constraints: Mapping[str, Iterable[Any]]) -> Callable[[F], F]:
    """Decorate a public function so its arguments are checked against ``constraints``.

    Parameters
    ----------
    constraints : mapping of str to list of constraints
        Keys must be parameters of the decorated function (checked once, at decoration).

    Returns
    -------
    decorator keeping the function's name, signature and docstring
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"constraints name no parameter of {func.__qualname__}: "
                            f"{sorted(unknown)}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_arguments(constraints, bound.arguments, func.__qualname__)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


class ValidatedParams:
    """Mixin for estimators: ``_validate_params()`` checks ``_parameter_constraints``.

    It overrides scikit-learn's ``BaseEstimator._validate_params`` (which expects the
    private constraint classes of scikit-learn) with :func:`check_arguments`; call it at the
    start of ``fit``. Put it first among the bases; it holds no state, so saved models do not
    depend on it.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def _validate_params(self) -> None:
        check_arguments(self._parameter_constraints,
                        self.get_params(deep=False),  # type: ignore[attr-defined]
                        type(self).__name__)
