"""Import ``skops.io`` without importing the whole of scikit-learn.

skops builds its default allow-list when ``skops.io`` is first imported, by calling
:func:`sklearn.utils.all_estimators`, which imports every public module of scikit-learn
(about 300 of them, and pytest through ``sklearn.utils._testing``) to collect every
estimator class. That walk was the largest single cost of loading a model: 0.8 s of CPU
of the 3.3 s that ``import resorb.scoring, skops.io`` took on the project's shared 2-core
machine, more than the model's own scikit-learn modules (benchmarks/bench_startup.py,
docs/scoring.md "Start-up").

:func:`skops_io` imports ``skops.io`` while ``all_estimators`` is answered from the
scikit-learn packages resorb's candidates are built from (:data:`ESTIMATOR_PACKAGES`), with
the same rules as scikit-learn's own function (public modules, public non-abstract
``BaseEstimator`` subclasses). skops' default allow-list is therefore a subset of what it
would be otherwise: a file is never trusted more, and an estimator from another
scikit-learn package has to be named in :data:`resorb.serialization.TRUSTED_TYPES` after
review, like any other type. The function is used for saving as well as loading, so that
what one resorb process writes another one reads. If ``skops.io`` was already imported (by
the caller, before resorb), it is returned as it is, with skops' full defaults.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from types import ModuleType
from typing import Any

#: scikit-learn packages whose estimators skops trusts by default in a resorb process: the
#: ones the candidates of params.yaml and the feature pipeline are built from.
ESTIMATOR_PACKAGES: tuple[str, ...] = (
    "sklearn.calibration",
    "sklearn.compose",
    "sklearn.dummy",
    "sklearn.ensemble",
    "sklearn.impute",
    "sklearn.isotonic",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.tree",
)
_IGNORED = {"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"}


def estimators_of(packages: tuple[str, ...] = ESTIMATOR_PACKAGES) -> list[tuple[str, type]]:
    """``(name, class)`` of the estimators in ``packages``, as ``all_estimators`` lists them.

    Parameters
    ----------
    packages : tuple of str
        Importable scikit-learn packages or modules (``"sklearn.ensemble"``).

    Returns
    -------
    list of (str, type)
        Sorted by name; every public, non-abstract subclass of ``BaseEstimator`` found in
        the packages and their public submodules (the rules of
        :func:`sklearn.utils.all_estimators`, restricted to these packages).
    """
    from sklearn.base import BaseEstimator

    found: set[tuple[str, type]] = set()
    for name in packages:
        modules = [importlib.import_module(name)]
        path = getattr(modules[0], "__path__", None)
        if path is not None:
            for info in pkgutil.walk_packages(path, prefix=f"{name}."):
                parts = info.name.split(".")
                if "._" in info.name or _IGNORED.intersection(parts):
                    continue
                modules.append(importlib.import_module(info.name))
        for module in modules:
            found.update((n, c) for n, c in inspect.getmembers(module, inspect.isclass)
                         if not n.startswith("_"))
    return sorted(((n, c) for n, c in found
                   if issubclass(c, BaseEstimator) and n != "BaseEstimator"
                   and not getattr(c, "__abstractmethods__", None)),
                  key=lambda nc: nc[0])


def skops_io() -> ModuleType:
    """``skops.io``, imported with the estimators of :data:`ESTIMATOR_PACKAGES` as defaults.

    Returns
    -------
    module
        ``skops.io`` (already imported: returned unchanged).
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    import sklearn.utils

    full = sklearn.utils.all_estimators

    def resorb_estimators(type_filter: Any = None) -> list[tuple[str, type]]:
        if type_filter is not None:  # not what skops asks for: the real answer
            return full(type_filter=type_filter)
        return estimators_of()

    sklearn.utils.all_estimators = resorb_estimators
    try:
        import skops.io
    finally:
        sklearn.utils.all_estimators = full
    return skops.io
