"""Params: where the parameters come from, how the layers merge, and what an error says.

:meth:`Params.resolve` stacks three layers, each overriding the one before it:

1. the packaged defaults, ``resorb/params.yaml`` inside the installed package (every
   parameter, each with its source; an installed wheel has them);
2. one project file: ``path`` (``resorb --params FILE``), else ``$RESORB_PARAMS``, else
   ``params.yaml`` in the working folder when there is one (in the source checkout that is
   a link to the packaged file, so the layer changes nothing);
3. the command line: ``--set KEY=VALUE`` and options such as ``--horizon-days``, given as
   dotted keys (``{"scoring.horizon_days": 90}``).

Merge rule (the same as for cohort presets): mappings merge key by key, anything else (a
list, a number, a string) replaces. A project file therefore holds only what it changes::

    label: {min_reduction_pct: 50}
    candidates:
      logistic: {params: {C: 0.5}}

The merged data is validated once; the object is frozen and its typed sections are passed
down. Errors name the layer (file) that set the key, the key, what was expected and what
was found.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from resorb.config.sections import (
    CandidateSpec,
    CohortSection,
    Frozen,
    LabelRule,
    ScoringParams,
    TrackingParams,
    TrainingParams,
)
from resorb.errors import ConfigError

PARAMS_ENV = "RESORB_PARAMS"
PROJECT_FILE = "params.yaml"
#: the packaged defaults (package data: the wheel ships it)
DEFAULT_PARAMS = Path(__file__).resolve().parent.parent / "params.yaml"
COMMAND_LINE = "command line"

Loc = tuple[str | int, ...]
Layer = tuple[str, dict[str, Any]]  # (where it came from, its data)


class Params(Frozen):
    """The whole configuration: packaged defaults, a project file, the command line.

    Build it with :meth:`resolve` (at the CLI edge) or :meth:`default` (the packaged
    defaults, for library calls and tests); derive variants with ``model_copy(update=...)``
    on typed sections.
    """

    label: LabelRule = LabelRule()
    training: TrainingParams = TrainingParams()
    candidates: dict[str, CandidateSpec] = Field(min_length=1)
    scoring: ScoringParams = ScoringParams()
    tracking: TrackingParams = TrackingParams()
    cohort: CohortSection
    _layers: tuple[Layer, ...] = PrivateAttr(default=())

    @classmethod
    def resolve(cls, path: str | os.PathLike[str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Params:
        """Packaged defaults, overridden by a project file, overridden by CLI values.

        Parameters
        ----------
        path : path-like, optional
            Project parameter file; default ``$RESORB_PARAMS``, else ``./params.yaml`` if it
            exists, else none (packaged defaults only).
        overrides : mapping, optional
            Values from the command line, by dotted key (``{"training.folds": 3}``) or as
            nested mappings; they win over both files.

        Returns
        -------
        Params

        Raises
        ------
        ConfigError
            A named file is missing or not a YAML mapping, a key is unknown, or a value
            breaks its constraint; the message names the file (or "command line"), the
            key, what was expected and what was found.
        """
        layers = [(str(DEFAULT_PARAMS), copy.deepcopy(_packaged_data()))]
        project = project_file(path)
        if project is not None and not _same_file(project, DEFAULT_PARAMS):
            layers.append((str(project), read_yaml(project)))
        if overrides:
            layers.append((COMMAND_LINE, expand_keys(overrides)))
        return _validate(cls, tuple(layers))

    @classmethod
    def default(cls) -> Params:
        """The packaged defaults alone (read once; no project file, no environment)."""
        return _default()

    def __eq__(self, other: object) -> bool:
        """Equal values are equal parameters, whichever files they came from."""
        if not isinstance(other, Params):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable mappings inside: not hashable

    def candidate(self, name: str) -> CandidateSpec:
        """The candidate ``name`` as trained under ``training.predictors``: its spec with
        ``params.predictors`` limited to the selected predictor set (unchanged for ``full``).

        Raises
        ------
        KeyError
            No such candidate.
        """
        return self.training.restrict(self.candidates[name])

    def with_predictors(self, predictors: str | Sequence[str]) -> Params:
        """The same parameters with ``training.predictors`` set to a set name or a list.

        Raises
        ------
        ConfigError
            An item is neither a predictor set nor a predictor.
        """
        text = predictors if isinstance(predictors, str) else ",".join(predictors)
        from resorb.schema import predictor_set_name, resolve_predictors

        try:
            chosen = resolve_predictors(text)
        except ValueError as exc:
            raise ConfigError(f"training.predictors: {exc}") from None
        name = predictor_set_name(chosen)
        training = self.training.model_copy(
            update={"predictors": name if name != "custom" else ",".join(chosen)})
        return self.model_copy(update={"training": training})

    def origin_of(self, loc: Loc) -> str:
        """The layer (file, or "command line") that set the key at ``loc`` last."""
        return _origin(self._layers, loc)

    def digest(self) -> str:
        """SHA-256 of the resolved parameters (canonical JSON), for provenance records."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()


def project_file(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The project layer's file: ``path``, else ``$RESORB_PARAMS``, else ``./params.yaml``.

    Raises
    ------
    ConfigError
        ``path`` or ``$RESORB_PARAMS`` names a file that does not exist.
    """
    named = path if path is not None else os.environ.get(PARAMS_ENV) or None
    if named is None:
        local = Path.cwd() / PROJECT_FILE
        return local if local.is_file() else None
    p = Path(named)
    if not p.is_file():
        how = "" if path is not None else f" (from ${PARAMS_ENV})"
        raise ConfigError(f"params file {p}{how} not found")
    return p


def read_yaml(path: Path) -> dict[str, Any]:
    """One parameter file as plain data (an empty file is an empty mapping).

    Raises
    ------
    ConfigError
        The file cannot be read, is not YAML, or does not hold a mapping of sections.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            # libyaml's parser when PyYAML has it: the packaged file in 7 ms, not 70 ms
            data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise ConfigError(f"params file {path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {path} is not valid YAML: "
                          f"{' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"params file {path} must hold a mapping of sections, "
                          f"found {type(data).__name__}")
    return data


def merge(base: Mapping[Any, Any], override: Mapping[Any, Any]) -> dict[Any, Any]:
    """Nested mappings merge key by key; anything else in ``override`` replaces.

    Returns a new mapping; neither argument is modified.
    """
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def expand_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``; nested mappings merge (later keys win)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        for part in reversed(str(key).split(".")[1:]):
            value = {part: value}
        out = merge(out, {str(key).split(".")[0]: value})
    return out


def config_error(exc: ValidationError, locate: Callable[[Loc], tuple[str, Loc]],
                 model: type[BaseModel]) -> ConfigError:
    """The one message for an invalid parameter: where, which key, expected, found.

    Parameters
    ----------
    exc : ValidationError
        From validating ``model``; its first error is described, the rest counted.
    locate : callable
        Maps an error's location in ``model`` to (source, key path in the file), e.g.
        ``("params.yaml", ("training", "folds"))``.
    model : pydantic model class
        What was validated: an unknown key's message lists the keys its parent allows.

    Returns
    -------
    ConfigError
        e.g. ``params.yaml: 'training.folds' input should be greater than or equal to 2;
        found 1``.
    """
    errors = exc.errors()
    first = errors[0]
    where = tuple(first["loc"])
    is_key = bool(where) and where[-1] == "[key]"  # a mapping's key, not its value, is wrong
    source, loc = locate(where[:-1] if is_key else where)
    key = ".".join(str(p) for p in loc) + ("' (the key)" if is_key else "'")
    key = "'" + key
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        parent = _model_at(model, tuple(first["loc"])[:-1])
        allowed = f"; expected one of: {', '.join(parent.model_fields)}" if parent else ""
        return ConfigError(f"{source}: unknown key {key}{allowed}{more}")
    if first["type"] == "missing":
        return ConfigError(f"{source}: {key} is required but missing{more}")
    msg = first["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    found = first.get("input")
    shown = "" if isinstance(found, Mapping | list | tuple) or "got" in msg else \
        f"; found {found!r}"
    return ConfigError(f"{source}: {key} {msg}{shown}{more}")


# ------------------------------------------------------------------------------ internals


@lru_cache(maxsize=1)
def _packaged_data() -> dict[str, Any]:
    """The packaged defaults as plain data, read once (callers copy before merging)."""
    if not DEFAULT_PARAMS.is_file():
        raise ConfigError(f"the packaged parameters {DEFAULT_PARAMS} are missing; "
                          f"reinstall resorb")
    return read_yaml(DEFAULT_PARAMS)


@lru_cache(maxsize=1)
def _default() -> Params:
    return _validate(Params, ((str(DEFAULT_PARAMS), copy.deepcopy(_packaged_data())),))


def _validate(cls: type[Params], layers: tuple[Layer, ...]) -> Params:
    data: dict[str, Any] = {}
    for _, layer in layers:
        data = merge(data, layer)
    try:
        params = cls.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, lambda loc: (_origin(layers, loc), loc), cls) from None
    params._layers = layers
    return params


def _origin(layers: tuple[Layer, ...], loc: Loc) -> str:
    """The last layer whose data holds ``loc`` (or its deepest existing parent)."""
    best, depth = layers[0][0] if layers else "params.yaml", -1
    for source, data in layers:
        node: Any = data
        found = 0
        for part in loc:
            if not isinstance(node, Mapping) or part not in node:
                break
            node, found = node[part], found + 1
        if found >= depth and found > 0:
            best, depth = source, found
    return best


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The pydantic model found at ``loc`` inside ``model`` (through dicts and tuples)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (dict, Mapping):
            tp = get_args(tp)[1]
        elif get_origin(tp) in (tuple, list) and get_args(tp):
            tp = get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    import types

    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp
