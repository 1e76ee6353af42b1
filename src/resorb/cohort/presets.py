"""Presets: the ``literature`` parameters, and the other presets as overrides merged onto them.

params.yaml ``cohort.presets.<name>`` holds ``description``, ``targets`` and either
``parameters`` (literature: every parameter, each group naming its source) or ``overrides``
(nested mappings merge key by key; lists and scalars replace). The label rule's
``min_reduction_pct`` is copied in, so the generator's volumes agree with the label.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError

from resorb.cohort.params import BASE_PRESET, PRESETS, CohortParams
from resorb.config import LabelRule, read_params_file
from resorb.errors import ConfigError


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Nested mappings merge key by key; anything else in ``override`` replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def preset_data(preset: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The merged, not yet validated parameter mapping of ``preset`` (used by the docs)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown cohort preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    data = read_params_file(path)
    section = data.get("cohort") or {}
    presets = section.get("presets") or {}
    if BASE_PRESET not in presets or preset not in presets:
        raise ConfigError(f"params.yaml cohort.presets must define {BASE_PRESET!r} and {preset!r}")
    base = presets[BASE_PRESET].get("parameters") or {}
    block = presets[preset]
    merged = base if preset == BASE_PRESET else _merge(base, block.get("overrides") or {})
    try:
        label = LabelRule.model_validate(data.get("label") or {})
    except ValidationError as exc:
        raise ConfigError(f"params.yaml label section: {exc.errors()[0]['msg']}") from None
    return {**merged, "preset": preset, "description": block.get("description", ""),
            "targets": block.get("targets") or [], "min_reduction_pct": label.min_reduction_pct}


def load_cohort_params(preset: str = BASE_PRESET,
                       path: str | os.PathLike[str] | None = None) -> CohortParams:
    """Load one preset's cohort parameters from params.yaml.

    Parameters
    ----------
    preset : str
        One of :data:`PRESETS`; non-literature presets are overrides of ``literature``.
    path : path-like, optional
        params.yaml to read (default: ``$RESORB_PARAMS`` or the project's file).

    Returns
    -------
    CohortParams
        Frozen, validated parameters, with the label rule's ``min_reduction_pct``.

    Raises
    ------
    ConfigError
        Unknown preset, missing section, or a value that breaks its constraint; the message
        names the parameter path.
    """
    data = preset_data(preset, path)
    try:
        return CohortParams.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"cohort preset {preset!r}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """First validation error as "'path' message (got value)", without echoing whole sections."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    got = "" if isinstance(value, dict | list) or "got" in msg else f" (got {value!r})"
    return f"'{where}' {msg}{got}"


def with_followup(params: CohortParams, days: int) -> CohortParams:
    """The same parameters with every follow-up MRI at ``days`` (a fixed horizon)."""
    followup = params.followup.model_copy(update={"fixed_days": int(days)})
    return params.model_copy(update={"followup": followup})
