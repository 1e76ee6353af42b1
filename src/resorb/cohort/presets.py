"""Presets: the ``literature`` parameters, and the other presets as overrides merged onto them.

params.yaml ``cohort.presets.<name>`` (:class:`resorb.config.PresetSpec`) holds
``description``, ``targets`` and either ``parameters`` (literature: every parameter, each
group naming its source) or ``overrides`` (merged with :func:`resorb.config.merge`: nested
mappings merge key by key; lists and scalars replace). The label rule's
``min_reduction_pct`` is copied in, so the generator's volumes agree with the label. Nothing
here reads a file: the parameters come in a :class:`resorb.config.Params`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from resorb.cohort.params import BASE_PRESET, PRESETS, CohortParams
from resorb.config import Params, config_error, merge
from resorb.errors import ConfigError


def preset_data(preset: str, params: Params | None = None) -> dict[str, Any]:
    """The merged, not yet validated parameter mapping of ``preset`` (used by the docs).

    Parameters
    ----------
    preset : str
        One of :data:`PRESETS`.
    params : Params, optional
        The resolved parameters (default: the packaged ones, :meth:`Params.default`).

    Raises
    ------
    ConfigError
        Unknown preset.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown cohort preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    params = Params.default() if params is None else params
    presets = params.cohort.presets
    base = presets[BASE_PRESET].parameters or {}
    block = presets[preset]
    merged = base if preset == BASE_PRESET else merge(base, block.overrides or {})
    return {**merged, "preset": preset, "description": block.description,
            "targets": list(block.targets),
            "min_reduction_pct": params.label.min_reduction_pct}


def load_cohort_params(preset: str = BASE_PRESET, params: Params | None = None) -> CohortParams:
    """One preset's cohort parameters, validated.

    Parameters
    ----------
    preset : str
        One of :data:`PRESETS`; non-literature presets are overrides of ``literature``.
    params : Params, optional
        The resolved parameters (``Params.resolve()`` at the CLI); default the packaged
        ones (:meth:`Params.default`).

    Returns
    -------
    CohortParams
        Frozen, validated parameters, with the label rule's ``min_reduction_pct``.

    Raises
    ------
    ConfigError
        Unknown preset, or a value that breaks its constraint; the message names the file
        and the key to edit (``cohort.presets.<preset>.overrides...`` when the preset sets
        it, else ``cohort.presets.literature.parameters...``).
    """
    params = Params.default() if params is None else params
    data = preset_data(preset, params)
    try:
        return CohortParams.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, lambda loc: _locate(params, preset, loc), CohortParams) \
            from None


def _locate(params: Params, preset: str, loc: tuple[str | int, ...]
            ) -> tuple[str, tuple[str | int, ...]]:
    """(file, key in the file) of a location in the merged parameters of ``preset``."""
    if loc and loc[0] in ("preset", "description", "targets", "min_reduction_pct"):
        where: tuple[str | int, ...] = ("cohort", "presets", preset, *loc)
        if loc[0] == "min_reduction_pct":
            where = ("label", *loc)
        return params.origin_of(where), where
    overrides = params.cohort.presets[preset].overrides or {}
    node: Any = overrides
    for part in loc:
        node = node.get(part) if isinstance(node, dict) else None
    block = (preset, "overrides") if preset != BASE_PRESET and node is not None else \
        (BASE_PRESET, "parameters")
    where = ("cohort", "presets", *block, *loc)
    return params.origin_of(where), where


def with_followup(params: CohortParams, days: int) -> CohortParams:
    """The same parameters with every follow-up MRI at ``days`` (a fixed horizon)."""
    followup = params.followup.model_copy(update={"fixed_days": int(days)})
    return params.model_copy(update={"followup": followup})
