"""Batch scoring of follow-up candidates: validate, predict, explain, decide, write.

- :mod:`resorb.scoring.model`: find and load the model (exported folder or registry URI);
- :mod:`resorb.scoring.frame`: :func:`score_frame`, a pure function from a frame of
  candidates to the scored frame (one row per input row, rejected rows with reasons);
- :mod:`resorb.scoring.batch`: :func:`score_file`, a file of any size streamed in chunks
  and written atomically;
- :mod:`resorb.scoring.spark`: ``--engine spark``, executors reading, scoring and writing
  through the same per-chunk function (:func:`resorb.scoring.batch.score_chunk`).
"""

from __future__ import annotations

from resorb.scoring.batch import ScoreSummary, score_file
from resorb.scoring.frame import (
    check_columns,
    out_of_range,
    output_columns,
    prepare_rows,
    score_frame,
)
from resorb.scoring.model import (
    DEFAULT_MODEL_URI,
    LoadedModel,
    default_model,
    load_folder,
    load_model,
)

__all__ = ["DEFAULT_MODEL_URI", "LoadedModel", "ScoreSummary", "check_columns", "default_model",
           "load_folder", "load_model", "out_of_range", "output_columns", "prepare_rows",
           "score_file", "score_frame"]
