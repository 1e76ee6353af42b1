"""The typed sections of params.yaml: one frozen pydantic model per concern.

Every allowed value is declared here, on the field; :mod:`resorb.config.params` validates a
whole file against :class:`resorb.config.Params` once, at the edge, and the sections are
passed down as they are. numpy is imported inside the two methods that need it, so that this
module stays cheap to import.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    import numpy as np

#: horizon asked about when a row gives no ``followup_days`` (about 6 months, the commonest
#: repeat-MRI interval of the cohorts); params.yaml ``scoring.horizon_days`` restates it
DEFAULT_HORIZON_DAYS = 180
DEFAULT_TRACKING_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"


class Frozen(BaseModel):
    """Base for config sections: immutable and strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelRule(Frozen):
    """How ``resorbed`` is derived from baseline and follow-up volumes (or the grade).

    ``min_reduction_pct`` expresses the usual definitions: a few percent for "any regression"
    (above volumetric noise), 50 for ">= 50%", 100 for "complete" (follow-up volume 0).
    """

    name: str = "any_regression"
    min_reduction_pct: float = Field(default=10.0, ge=0, le=100)
    grades_resorbed: tuple[str, ...] = ("disappeared", "marked_decrease", "slight_decrease")
    source: str = ""


class Thresholds(Frozen):
    """Decision-curve threshold grid: P(resorption) from ``start`` to ``stop`` by ``step``."""

    start: float = Field(default=0.05, gt=0, lt=1)
    stop: float = Field(default=0.95, gt=0, lt=1)
    step: float = Field(default=0.05, gt=0)

    def grid(self) -> np.ndarray:
        """The thresholds as an array, shape (n_thresholds,)."""
        import numpy as np

        return np.round(np.arange(self.start, self.stop + self.step / 2, self.step), 6)


class ChampionRule(Frozen):
    """How the champion is chosen: a weighted score that weighs calibration, with two guards.

    The rule itself is stated in :func:`resorb.champion.choose_champion`.
    """

    weights: dict[str, float] = Field(
        default_factory=lambda: {"auroc": 1.0, "abs_slope_error": -0.5, "ici": -2.0,
                                 "worst_subgroup_excess": -1.0}
    )
    slope_range: tuple[float, float] = (0.8, 1.2)
    #: AUROC gain from which a clearly better discriminating candidate beats one ranked above
    #: it whatever their slope point estimates (guard ii of the rule)
    auroc_margin: float = Field(default=0.05, gt=0, lt=0.5)
    #: below the Riley minimum, a tree ensemble competes only if it discriminates clearly
    #: better than every logistic candidate whose slope interval contains 1
    parsimony: bool = True
    #: worst subgroup of herniation type x rim and migration grade (resorb.metrics.subgroups):
    #: a candidate whose observed - expected in some subgroup of at least
    #: ``subgroup_min_rows`` rows lies, with its whole 95% interval, beyond +-tolerance
    #: ranks after those that do not; None: subgroups are not part of the rule
    subgroup_tolerance: float | None = Field(default=0.05, gt=0, lt=1)
    subgroup_min_rows: int = Field(default=100, ge=1)


class SmallSampleParams(Frozen):
    """The ``training.small_sample`` section: what changes below the Riley minimum.

    Read by :func:`resorb.adaptation.adapt_candidate`; every constant is commented with its
    source or measurement in params.yaml.
    """

    adapt: bool = True
    predictors: tuple[str, ...] = ("age", "symptom_duration_days", "treatment",
                                   "herniation_type", "migration_grade", "rim_enhancement",
                                   "t2_signal", "herniation_volume_mm3", "modic_type")
    spline_knots: int = Field(default=3, ge=2)
    penalty_grid: tuple[float, ...] = Field(
        default=(0.001, 0.00215, 0.00464, 0.01, 0.0215, 0.0464, 0.1, 0.215, 0.464, 1.0, 2.15,
                 4.64, 10.0), min_length=1)
    inner_folds: int = Field(default=5, ge=2)
    events_per_leaf: int = Field(default=30, ge=1)
    min_leaf_events: int = Field(default=5, ge=1)
    boosting_iterations_per_event: float = Field(default=1.0, gt=0)
    forest_min_leaf_events: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _positive_grid(self) -> SmallSampleParams:
        if any(c <= 0 for c in self.penalty_grid):
            raise ValueError(f"penalty_grid holds inverse penalty strengths C, all > 0; got "
                             f"{list(self.penalty_grid)}")
        return self


class TrainingParams(Frozen):
    """The ``training`` section: validation, bootstrap, decision curve and champion rule."""

    #: numpy's legacy RandomState, which scikit-learn's splitters use, takes 0 to 2**32 - 1
    seed: int = Field(default=2026, ge=0, le=2**32 - 1)
    folds: int = Field(default=5, ge=2)
    repeats: int = Field(default=1, ge=1)
    n_boot: int = Field(default=200, ge=10)
    optimism_below_rows: int = 3000
    optimism_n_boot: int = Field(default=50, ge=5)
    decision_thresholds: Thresholds = Thresholds()
    decision_threshold: float = Field(default=0.5, gt=0, lt=1)
    anticipated_c: float = Field(default=0.75, gt=0.5, lt=1)
    champion: ChampionRule = ChampionRule()
    small_sample: SmallSampleParams = SmallSampleParams()
    #: the predictors models are trained on: a set of :data:`resorb.schema.PREDICTOR_SETS`
    #: (``full``, ``routine``), predictor names, or both, comma-separated (``--predictors``)
    predictors: str = "full"

    @field_validator("predictors")
    @classmethod
    def _known_predictors(cls, value: str) -> str:
        from resorb.schema import resolve_predictors

        resolve_predictors(value)  # a ValueError names the unknown item and the choices
        return value.strip()

    @property
    def predictor_columns(self) -> tuple[str, ...]:
        """The predictors of :attr:`predictors`, in dictionary order (no horizon)."""
        from resorb.schema import resolve_predictors

        return resolve_predictors(self.predictors)

    @property
    def predictor_set(self) -> str:
        """The set's name (``full``, ``routine``) or ``custom`` for a list of predictors."""
        from resorb.schema import predictor_set_name

        return predictor_set_name(self.predictor_columns)

    def restrict(self, spec: CandidateSpec) -> CandidateSpec:
        """``spec`` limited to :attr:`predictors`: its own ``predictors`` (all when it names
        none) intersected with the selection; unchanged for the ``full`` set."""
        from resorb.schema import PREDICTORS

        chosen = self.predictor_columns
        own = spec.params.get("predictors")
        if chosen == PREDICTORS and own is None:
            return spec
        keep = [p for p in chosen if own is None or p in own]
        return spec.model_copy(update={"params": {**spec.params, "predictors": keep}})


class CandidateSpec(Frozen):
    """One candidate model of the ``candidates`` section (built by :mod:`resorb.models`).

    ``params`` are the estimator's own hyperparameters; :func:`resorb.models.build_model`
    turns one it does not accept into a :class:`resorb.errors.ConfigError`.
    """

    kind: Literal["logistic", "hist_gradient_boosting", "random_forest", "mixture_cure"]
    calibration: Literal["none", "sigmoid", "isotonic"] = "none"
    calibration_folds: int = Field(default=3, ge=2)
    #: what the calibrator is fitted on: held-out predictions of ``calibration_folds``
    #: refits ("folds"), or a random forest's out-of-bag predictions ("out_of_bag": one fit;
    #: :class:`resorb.models.OutOfBagCalibratedClassifier`)
    calibration_data: Literal["folds", "out_of_bag"] = "folds"
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class RiskBands(Frozen):
    """Bands of P(resorption): ``labels[i]`` for ``cuts[i-1] <= p < cuts[i]``."""

    cuts: tuple[float, ...] = (0.3, 0.6)
    labels: tuple[str, ...] = ("low", "intermediate", "high")

    @model_validator(mode="after")
    def _consistent(self) -> RiskBands:
        if len(self.labels) != len(self.cuts) + 1:
            raise ValueError(f"needs one label more than cut-points; got {len(self.cuts)} "
                             f"cuts and {len(self.labels)} labels")
        if any(not 0 < c < 1 for c in self.cuts) or list(self.cuts) != sorted(set(self.cuts)):
            raise ValueError(f"cuts must increase strictly within (0, 1); got {list(self.cuts)}")
        return self

    def band_index(self, p: np.ndarray) -> np.ndarray:
        """Position in ``labels`` of each probability's band, shape of ``p``."""
        import numpy as np

        return np.searchsorted(self.cuts, p, side="right").astype(np.int64)


class ScoringParams(Frozen):
    """The ``scoring`` section: defaults of ``resorb score`` and the risk bands."""

    horizon_days: int = Field(default=DEFAULT_HORIZON_DAYS, ge=1, le=3650)
    explain: int = Field(default=3, ge=0)
    chunk_rows: int = Field(default=200_000, ge=1)
    risk_bands: RiskBands = RiskBands()
    max_background: int = Field(default=200, ge=1)


class TrackingParams(Frozen):
    """The ``tracking`` section: where MLflow keeps runs and the model registry.

    ``uri`` None means ``$MLFLOW_TRACKING_URI``, else SQLite ``mlflow.db`` in the working
    folder (:func:`tracking_uri`).
    """

    uri: str | None = None


class Preset(StrEnum):
    """The synthetic-cohort presets params.yaml defines (``cohort.presets``)."""

    LITERATURE = "literature"
    KOMORI1998 = "komori1998"
    SCHMIDT2025 = "schmidt2025"
    OTHER_HOSPITAL = "other_hospital"


class PresetSpec(Frozen):
    """One preset of ``cohort.presets``: all parameters (literature) or overrides of them.

    The generator's parameters are validated by :class:`resorb.cohort.CohortParams` when the
    preset is loaded (:func:`resorb.cohort.load_cohort_params`): they are the cohort's own
    model, and an override is a partial one, merged onto ``literature`` first.
    """

    description: str = ""
    parameters: dict[str, Any] | None = None
    overrides: dict[str, Any] | None = None
    targets: tuple[dict[str, Any], ...] = ()


class CohortSection(Frozen):
    """The ``cohort`` section: every preset, by name."""

    presets: dict[Preset, PresetSpec]

    @model_validator(mode="after")
    def _complete(self) -> CohortSection:
        absent = [p.value for p in Preset if p not in self.presets]
        if absent:
            raise ValueError(f"presets {absent} are not defined")
        for name, spec in self.presets.items():
            base = name is Preset.LITERATURE
            if base and (spec.parameters is None or spec.overrides is not None):
                raise ValueError(f"preset '{name}' holds every parameter under 'parameters' "
                                 f"(and no 'overrides')")
            if not base and spec.parameters is not None:
                raise ValueError(f"preset '{name}' changes '{Preset.LITERATURE}' under "
                                 f"'overrides', not 'parameters'")
        return self


def tracking_uri(configured: str | None = None) -> str:
    """``$MLFLOW_TRACKING_URI``, else params.yaml ``tracking.uri``, else SQLite in the cwd.

    A given URI is checked first (:func:`check_tracking_uri`); a relative SQLite path is
    made absolute, so that its ``mlartifacts/`` folder can be named.

    Raises
    ------
    ConfigError
        The URI names a store MLflow cannot open (see :func:`check_tracking_uri`).
    """
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return check_tracking_uri(env, "MLFLOW_TRACKING_URI")
    if configured:
        return check_tracking_uri(configured, "params.yaml tracking.uri")
    return f"sqlite:///{Path.cwd() / DEFAULT_TRACKING_DB}"


#: database URI schemes of MLflow's SQLAlchemy store, each reached through a Python driver
_DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")
#: every other scheme MLflow 3 accepts as a tracking URI (folder stores are refused by it)
_OTHER_SCHEMES = ("http", "https", "uc")
#: Databricks workspaces: ``databricks`` (MLflow's spelling for the default profile) or
#: ``databricks://PROFILE``; their credentials are checked here, without any connection
_DATABRICKS_SCHEMES = ("databricks", "databricks-uc")


def check_tracking_uri(uri: str, source: str) -> str:
    """The tracking URI as MLflow will be given it, or a one-line error naming the fix.

    MLflow 3 refuses a folder store (``./mlruns``, ``file:...``) and an unknown scheme only
    once it is used, with a traceback; a SQLite file in a missing folder and a database
    whose driver is not installed fail the same way. They are refused here, before any
    work, with what to write instead.

    Parameters
    ----------
    uri : str
        ``$MLFLOW_TRACKING_URI`` or params.yaml ``tracking.uri``.
    source : str
        Where it came from, for the message.

    Returns
    -------
    str
        ``uri``, with a relative SQLite path made absolute against the working folder.

    Raises
    ------
    ConfigError
        A folder store, an unknown scheme, a word that is neither a URI nor a folder, a
        Databricks workspace without credentials (:func:`databricks_credentials_missing`),
        a SQLite file in a missing folder, or a database URI whose SQLAlchemy driver cannot
        be imported.
    """
    from resorb.config.database import masked_uri
    from resorb.errors import ConfigError

    here = f"sqlite:///{Path.cwd() / DEFAULT_TRACKING_DB}"
    shown = masked_uri(uri)  # never print a password in the URI
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in _OTHER_SCHEMES:
        return uri
    if scheme in _DATABRICKS_SCHEMES or uri in _DATABRICKS_SCHEMES:
        if (missing := databricks_credentials_missing(uri)) is not None:
            raise ConfigError(f"{source} {shown!r} is a Databricks workspace with no "
                              f"credentials configured ({missing}); configure them "
                              f"(databricks auth login), or use a tracking server "
                              f"(http://host:port) or a SQLite file ({here}), or unset it to "
                              f"use mlflow.db in the working folder")
        return uri
    if scheme == "sqlite":
        if not uri.startswith("sqlite:///") or uri == "sqlite:///":
            raise ConfigError(f"{source} {shown!r}: a SQLite store is written sqlite:/// and "
                              f"the file's path, e.g. {here}")
        db = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
        if not db.is_absolute():
            db = Path.cwd() / db
            uri = f"sqlite:///{db}"
        if not db.parent.is_dir():
            raise ConfigError(f"{source} {shown!r}: folder {db.parent} does not exist; create "
                              f"it, or name a SQLite file in an existing folder")
        return uri
    if scheme.split("+", 1)[0] in _DATABASE_SCHEMES:
        from sqlalchemy.engine import make_url

        try:
            make_url(uri).get_dialect().import_dbapi()
        except ImportError as exc:
            raise ConfigError(
                f"{source}: the database driver of {scheme}:// is not installed ({exc}); "
                f"name an installed one (postgresql+psycopg2://...), or point it at the team's "
                f"MLflow server (http://host:port, docs/team-server.md)") from None
        except Exception as exc:  # sqlalchemy's ArgumentError, NoSuchModuleError
            raise ConfigError(f"{source}: {shown!r} is not a database URI "
                              f"SQLAlchemy reads ({exc})") from None
        return uri
    if scheme == "" and not _looks_like_path(uri):
        raise ConfigError(f"{source} {shown!r} is not a tracking URI, nor an existing folder: "
                          f"expected sqlite:///file.db (e.g. {here}), http(s)://host:port "
                          f"or postgresql://user@host/db; or unset it to use mlflow.db in "
                          f"the working folder")
    what = ("a folder: MLflow 3 no longer writes runs to folder stores ('./mlruns')"
            if scheme in ("", "file") else f"of unknown scheme '{scheme}://'")
    raise ConfigError(f"{source} {shown!r} is {what}; use a tracking server (http://host:port) "
                      f"or a SQLite file ({here}), or unset it to use mlflow.db in the working "
                      f"folder")


def _looks_like_path(text: str) -> bool:
    """Whether a scheme-less tracking URI names a folder (existing, or written as a path)."""
    return (Path(text).expanduser().exists() or "/" in text or os.sep in text
            or text.startswith((".", "~")))


def databricks_credentials_missing(uri: str) -> str | None:
    """What is missing to reach the Databricks workspace ``uri`` names, else None.

    MLflow accepts ``databricks`` and ``databricks://PROFILE`` and only on first use raises
    "Reading Databricks credential configuration failed" with a traceback. Its credentials
    (databricks-sdk unified auth) come from ``$DATABRICKS_HOST`` (with a token or another
    method), from the profile's section in ``~/.databrickscfg`` (``$DATABRICKS_CONFIG_FILE``),
    or from the Databricks runtime itself. Nothing is connected to.

    Parameters
    ----------
    uri : str
        ``databricks``, ``databricks-uc``, ``databricks://PROFILE`` or
        ``databricks://SCOPE:PREFIX``.

    Returns
    -------
    str or None
        Where credentials were looked for, for the message; None when some are configured
        (MLflow and the workspace then decide).
    """
    import re

    if os.environ.get("DATABRICKS_HOST") or os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return None
    netloc = uri.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1] if "://" in uri else ""
    named = netloc.split(":", 1)[0]
    profile = named or os.environ.get("DATABRICKS_CONFIG_PROFILE") or "DEFAULT"
    config = os.environ.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg"
    path = Path(config).expanduser()
    try:
        text = path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        text = ""
    if re.search(rf"^\s*\[\s*{re.escape(profile)}\s*\]", text, re.MULTILINE):
        return None
    return (f"profile '{profile}': neither DATABRICKS_HOST/DATABRICKS_TOKEN nor a "
            f"[{profile}] section in {config}")


def store_present(configured: str | None = None) -> bool:
    """Whether a tracking store is set up: a server URI, or a SQLite file that exists.

    :func:`resorb.scoring.model.registry_available` asks this; it lives here so that the
    commands that open the store (``resorb report``) need not import the scoring package
    (scikit-learn) to ask.

    Parameters
    ----------
    configured : str, optional
        params.yaml ``tracking.uri`` (``$MLFLOW_TRACKING_URI`` wins; without either, the
        store is ``mlflow.db`` in the working folder).
    """
    uri = tracking_uri(configured)
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).is_file()
    return True


def named_store(uri: str) -> bool:
    """Whether ``uri`` is a SQLite store other than ``mlflow.db`` in the working folder: one
    that ``$MLFLOW_TRACKING_URI`` or params.yaml ``tracking.uri`` named on purpose, so that
    its absence is a mistake to report (a typo in its path), not "no registry here"."""
    return (uri.startswith("sqlite:///")
            and Path(uri.removeprefix("sqlite:///")) != Path.cwd() / DEFAULT_TRACKING_DB)


def artifact_root(uri: str) -> str | None:
    """Where artifacts go beside a SQLite store (``mlartifacts/`` next to the file)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / DEFAULT_ARTIFACTS).as_uri()
    return None
