"""params.yaml -> one frozen, validated configuration object.

The file is read once (:func:`load_params`); every section is a typed, immutable pydantic model
that is passed down explicitly. CLI options override file values by building a new object with
``model_copy(update=...)``, never by mutating one.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from resorb.errors import ConfigError

PARAMS_ENV = "RESORB_PARAMS"
DEFAULT_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


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


class Params(Frozen):
    """The whole of params.yaml."""

    label: LabelRule = LabelRule()
    cohort: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    scoring: dict[str, Any] = Field(default_factory=dict)
    tracking: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cohort", "training", "scoring", "tracking", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v


SectionT = TypeVar("SectionT", bound=BaseModel)


def parse_section(model: type[SectionT], data: Any, section: str) -> SectionT:
    """Validate one params.yaml section into its frozen model.

    Raises
    ------
    ConfigError
        Naming the offending key, e.g. ``params.yaml 'training.folds': Input should be ...``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (section, *first["loc"]))
        raise ConfigError(f"params.yaml '{where}': {first['msg']}") from None


def params_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Where params.yaml is read from: ``path``, else ``$RESORB_PARAMS``, else the project's."""
    if path is not None:
        return Path(path)
    env = os.environ.get(PARAMS_ENV)
    return Path(env) if env else DEFAULT_PARAMS


def read_params_file(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read params.yaml as plain data (for sections that parse themselves)."""
    p = params_path(path)
    try:
        with open(p, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise ConfigError(
            f"params file {p} not found; set {PARAMS_ENV} or run from the project"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {p} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"params file {p} must hold a mapping of sections")
    return data


def load_params(path: str | os.PathLike[str] | None = None) -> Params:
    """Load and validate params.yaml.

    Parameters
    ----------
    path : path-like, optional
        File to read; defaults to ``$RESORB_PARAMS`` or the project's params.yaml.

    Raises
    ------
    ConfigError
        When the file is missing, not YAML, or a value breaks its constraint.
    """
    return _load_cached(str(params_path(path).resolve()))


@lru_cache(maxsize=8)
def _load_cached(resolved: str) -> Params:
    data = read_params_file(resolved)
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"params file {resolved}: '{where}' {first['msg']}") from None


DEFAULT_TRACKING_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"


def tracking_uri(configured: str | None = None) -> str:
    """``$MLFLOW_TRACKING_URI``, else params.yaml ``tracking.uri``, else SQLite in the cwd."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    if configured:
        return configured
    return f"sqlite:///{Path.cwd() / DEFAULT_TRACKING_DB}"


def artifact_root(uri: str) -> str | None:
    """Where artifacts go beside a SQLite store (``mlartifacts/`` next to the file)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / DEFAULT_ARTIFACTS).as_uri()
    return None

