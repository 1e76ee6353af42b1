"""params.yaml -> one frozen, validated, typed configuration object.

- :class:`Params` with :meth:`Params.resolve` (packaged defaults, then a project file, then
  the command line; called once, in :mod:`resorb.cli`) and :meth:`Params.default` (the
  packaged defaults alone);
- the typed sections (:mod:`resorb.config.sections`): ``params.label``,
  ``params.training``, ``params.candidates[name]``, ``params.scoring``,
  ``params.tracking``, ``params.cohort``;
- :func:`config_error`, the one formatter of invalid parameters.

Only pydantic and PyYAML are imported here (no numpy, scikit-learn or MLflow).
"""

from resorb.config.params import (
    COMMAND_LINE,
    DEFAULT_PARAMS,
    PARAMS_ENV,
    PROJECT_FILE,
    Params,
    config_error,
    expand_keys,
    merge,
    project_file,
    read_yaml,
)
from resorb.config.sections import (
    DEFAULT_HORIZON_DAYS,
    CandidateSpec,
    ChampionRule,
    CohortSection,
    Frozen,
    LabelRule,
    Preset,
    PresetSpec,
    RiskBands,
    ScoringParams,
    SmallSampleParams,
    Thresholds,
    TrackingParams,
    TrainingParams,
    artifact_root,
    named_store,
    store_present,
    tracking_uri,
)

__all__ = [
    "COMMAND_LINE",
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_PARAMS",
    "PARAMS_ENV",
    "PROJECT_FILE",
    "CandidateSpec",
    "ChampionRule",
    "CohortSection",
    "Frozen",
    "LabelRule",
    "Params",
    "Preset",
    "PresetSpec",
    "RiskBands",
    "ScoringParams",
    "SmallSampleParams",
    "Thresholds",
    "TrackingParams",
    "TrainingParams",
    "artifact_root",
    "config_error",
    "expand_keys",
    "merge",
    "named_store",
    "project_file",
    "read_yaml",
    "store_present",
    "tracking_uri",
]
