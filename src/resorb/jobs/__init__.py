"""The main jobs as named steps: load data -> train or compare -> log -> register.

Each job returns a small result the CLI prints; MLflow is imported only through
:mod:`resorb.tracking`, and only when a job runs.

The package: :mod:`~resorb.jobs.data` (read or generate the data, check it can train),
:mod:`~resorb.jobs.fit` (``train`` and ``compare``), :mod:`~resorb.jobs.explain`,
:mod:`~resorb.jobs.update`; every name is re-exported here.
"""

from __future__ import annotations

from resorb.jobs.data import (
    CheckedData,
    TrainingData,
    check_training_data,
    load_training_data,
    preflight,
)
from resorb.jobs.explain import ExplainResult, explain_job
from resorb.jobs.fit import (
    JobResult,
    _aggregates,
    _card,
    _evaluated,
    _ranges,
    compare_job,
    train_job,
)
from resorb.jobs.update import (
    UpdateOutcome,
    UpdateRecorded,
    _refit_errors,
    record_update,
    update_job,
)

__all__ = [
    "CheckedData", "ExplainResult", "JobResult", "TrainingData", "UpdateOutcome",
    "UpdateRecorded", "_aggregates", "_card", "_evaluated", "_ranges", "_refit_errors",
    "check_training_data", "compare_job", "explain_job", "load_training_data", "preflight",
    "record_update", "train_job", "update_job",
]
