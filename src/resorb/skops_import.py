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

Walking even those packages cost 0.3 s of CPU per start on the same machine (it imports
sklearn.cluster, .neighbors, .decomposition, .metrics and their scipy modules, which a
model never needs): a third of a 10-row ``resorb score``. So skops is now imported with an
empty estimator list, and the same allow-list is handed to it by name at each load and
save (:func:`default_trusted`): :data:`DEFAULT_ESTIMATORS`, the names
:func:`estimators_of` gives under the pinned scikit-learn :data:`SKLEARN_VERSION`
(tests/test_startup.py checks they are equal). Under any other scikit-learn version the
names are computed by the walk, as before: the trust is the same in both cases, only its
cost differs.

The rest of skops' import was its allow-list of numpy and scipy ufuncs: for each of about
420 objects without ``__module__``, ``skops.io._utils.whichmodule`` calls ``getattr`` on
every loaded module (about 1,800 once pandas and scikit-learn are in) to find the first
one holding it: 0.3 s of CPU. While ``skops.io`` is imported, :class:`_ModuleIndex` answers
the same question from one index of the loaded modules' namespaces (``getattr`` is still
called on the few modules that define a module-level ``__getattr__`` or are not plain
modules), then skops' own function is put back. The answers are the same, module for
module (tests/test_startup.py compares the allow-lists built both ways).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import pkgutil
import sys
import warnings
from collections.abc import Sequence
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

#: the scikit-learn version :data:`DEFAULT_ESTIMATORS` was listed under (requirements.lock)
SKLEARN_VERSION = "1.9.1"

#: ``module.Class`` of every estimator :func:`estimators_of` finds under
#: :data:`SKLEARN_VERSION`: skops' default allow-list in a resorb process, by name
DEFAULT_ESTIMATORS: tuple[str, ...] = (
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._target.TransformedTargetRegressor",
    "sklearn.dummy.DummyClassifier",
    "sklearn.dummy.DummyRegressor",
    "sklearn.ensemble._bagging.BaggingClassifier",
    "sklearn.ensemble._bagging.BaggingRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.RandomTreesEmbedding",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.ensemble._stacking.StackingClassifier",
    "sklearn.ensemble._stacking.StackingRegressor",
    "sklearn.ensemble._voting.VotingClassifier",
    "sklearn.ensemble._voting.VotingRegressor",
    "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
    "sklearn.ensemble._weight_boosting.AdaBoostRegressor",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._knn.KNNImputer",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._bayes.ARDRegression",
    "sklearn.linear_model._bayes.BayesianRidge",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.linear_model._coordinate_descent.ElasticNetCV",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.LassoCV",
    "sklearn.linear_model._coordinate_descent.MultiTaskElasticNet",
    "sklearn.linear_model._coordinate_descent.MultiTaskElasticNetCV",
    "sklearn.linear_model._coordinate_descent.MultiTaskLasso",
    "sklearn.linear_model._coordinate_descent.MultiTaskLassoCV",
    "sklearn.linear_model._glm.glm.GammaRegressor",
    "sklearn.linear_model._glm.glm.PoissonRegressor",
    "sklearn.linear_model._glm.glm.TweedieRegressor",
    "sklearn.linear_model._huber.HuberRegressor",
    "sklearn.linear_model._least_angle.Lars",
    "sklearn.linear_model._least_angle.LarsCV",
    "sklearn.linear_model._least_angle.LassoLars",
    "sklearn.linear_model._least_angle.LassoLarsCV",
    "sklearn.linear_model._least_angle.LassoLarsIC",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._logistic.LogisticRegressionCV",
    "sklearn.linear_model._omp.OrthogonalMatchingPursuit",
    "sklearn.linear_model._omp.OrthogonalMatchingPursuitCV",
    "sklearn.linear_model._passive_aggressive.PassiveAggressiveClassifier",
    "sklearn.linear_model._passive_aggressive.PassiveAggressiveRegressor",
    "sklearn.linear_model._perceptron.Perceptron",
    "sklearn.linear_model._quantile.QuantileRegressor",
    "sklearn.linear_model._ransac.RANSACRegressor",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._ridge.RidgeCV",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.linear_model._ridge.RidgeClassifierCV",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDOneClassSVM",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.linear_model._theil_sen.TheilSenRegressor",
    "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
    "sklearn.model_selection._classification_threshold.TunedThresholdClassifierCV",
    "sklearn.model_selection._search.GridSearchCV",
    "sklearn.model_selection._search.RandomizedSearchCV",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.Binarizer",
    "sklearn.preprocessing._data.KernelCenterer",
    "sklearn.preprocessing._data.MaxAbsScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.Normalizer",
    "sklearn.preprocessing._data.PowerTransformer",
    "sklearn.preprocessing._data.QuantileTransformer",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.preprocessing._label.MultiLabelBinarizer",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.preprocessing._polynomial.SplineTransformer",
    "sklearn.preprocessing._target_encoder.TargetEncoder",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
)


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


def default_trusted() -> list[str]:
    """skops' default scikit-learn allow-list in a resorb process, as type names.

    Returns
    -------
    list of str
        :data:`DEFAULT_ESTIMATORS` under scikit-learn :data:`SKLEARN_VERSION` (no import);
        under another version, the names of :func:`estimators_of`, computed (0.3 s).
    """
    import sklearn

    if sklearn.__version__ == SKLEARN_VERSION:
        return list(DEFAULT_ESTIMATORS)
    return sorted({f"{c.__module__}.{c.__name__}" for _, c in estimators_of()
                   if c.__module__.startswith("sklearn.")})


class _ModuleIndex:
    """``whichmodule(obj, name)`` as skops answers it, from an index of ``sys.modules``.

    skops returns ``obj.__module__`` if set, else the name of the first module in
    ``sys.modules`` (in order) with ``getattr(module, name, None) is obj`` (``"__main__"``
    if none; errors raised by a module's ``getattr`` skip it). For a plain module without a
    module-level ``__getattr__`` that ``getattr`` is a lookup in its ``__dict__``, so those
    are indexed once by ``(name, id(value))``; the other modules are asked one by one, as
    skops does. The index is rebuilt whenever ``sys.modules`` has changed.
    """

    def __init__(self) -> None:
        self._seen: list[str] = []
        self._modules: list[tuple[str, Any]] = []
        self._first: dict[tuple[str, int], int] = {}
        self._special: list[tuple[int, str, ModuleType]] = []

    def _build(self, modules: Sequence[tuple[str, Any]]) -> None:
        self._seen = [name for name, _ in modules]
        self._modules = list(modules)
        self._first, self._special = {}, []
        for position, (name, module) in enumerate(modules):
            if name in ("__main__", "__mp_main__") or module is None:
                continue
            namespace = getattr(module, "__dict__", None)
            if (type(module) is not ModuleType or not isinstance(namespace, dict)
                    or "__getattr__" in namespace):
                self._special.append((position, name, module))
                continue
            for key, value in list(namespace.items()):
                self._first.setdefault((key, id(value)), position)

    def __call__(self, obj: Any, name: str) -> str:
        module_name = getattr(obj, "__module__", None)
        if module_name is not None:
            return module_name
        if list(sys.modules) != self._seen:
            self._build(list(sys.modules.copy().items()))
        modules = self._modules
        best = self._first.get((name, id(obj)), len(modules))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for position, _, module in self._special:
                if position >= best:
                    break
                try:
                    found = getattr(module, name, None)
                except (AttributeError, ImportError):
                    continue
                if found is obj:
                    best = position
                    break
        if best < len(modules) and modules[best][1] is not None:
            return modules[best][0]
        return "__main__"


class _PatchWhichmodule(importlib.abc.MetaPathFinder):
    """Finds ``skops.io._utils`` as usual and swaps in :class:`_ModuleIndex` once run."""

    def __init__(self) -> None:
        self.original: Any = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "skops.io._utils":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader, finder = spec.loader, self

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                loader.exec_module(module)  # type: ignore[attr-defined]
                finder.original = module.whichmodule
                module.whichmodule = _ModuleIndex()  # type: ignore[attr-defined]

        spec.loader = Loader()
        return spec


def skops_io() -> ModuleType:
    """``skops.io``, imported without collecting scikit-learn's estimators.

    Callers pass :func:`default_trusted` with their own trusted types: skops' scikit-learn
    defaults are empty in a process where this function imported it (and complete when
    the caller had imported ``skops.io`` before: then the names add nothing). While it is
    imported, skops' ``whichmodule`` is answered by :class:`_ModuleIndex` (same answers).

    Returns
    -------
    module
        ``skops.io`` (already imported: returned unchanged).
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    import sklearn.utils

    full = sklearn.utils.all_estimators

    def no_estimators(type_filter: Any = None) -> list[tuple[str, type]]:
        if type_filter is not None:  # not what skops asks for: the real answer
            return full(type_filter=type_filter)
        return []  # given by name at each load and save: default_trusted()

    sklearn.utils.all_estimators = no_estimators
    patch = _PatchWhichmodule()
    sys.meta_path.insert(0, patch)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(patch)
        sklearn.utils.all_estimators = full
        utils = sys.modules.get("skops.io._utils")
        if utils is not None and patch.original is not None:
            utils.whichmodule = patch.original  # type: ignore[attr-defined]
    return skops.io
