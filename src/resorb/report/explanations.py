"""SHAP explanations for the report: global importance and beeswarm, as PNG bytes.

A model trained on a synthetic cohort is explained on new patients of its preset; a model
trained on real data only on a file the user gives (the report never reads patient data on
its own). Patients with a red flag are left out: they are never offered waiting, so they are
not the model's population. Only the figures and the five most influential variables leave
this module, never a row.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resorb import schema
from resorb.card import DataSource
from resorb.errors import DataValidationError

if TYPE_CHECKING:
    from resorb.intake.mapping_file import Mapping

#: rows explained at most
SHAP_ROWS = 1000


@dataclass(frozen=True)
class Explanations:
    """SHAP figures as PNG bytes, or a note saying why there are none.

    Attributes
    ----------
    importance_png, beeswarm_png : bytes, optional
        Mean absolute contribution per variable; one point per patient and variable.
    top : tuple of (str, float)
        The five most influential variables and their mean absolute contribution.
    rows : str
        What was explained, e.g. ``"1,000 new synthetic patients of preset 'literature'"``.
    method : str
        The SHAP algorithm (:attr:`resorb.explain.Explanation.method`).
    note : str
        Why nothing was explained (then every figure is None).
    waterfall_png : bytes, optional
        Reserved for one example patient's waterfall (``resorb.explain.waterfall_figure``);
        the report shows it under the beeswarm when set.
    waterfall_caption : str
        What the waterfall shows (which example patient, in aggregate words only).
    """

    importance_png: bytes | None = None
    beeswarm_png: bytes | None = None
    top: tuple[tuple[str, float], ...] = ()
    rows: str = ""
    method: str = ""
    note: str = ""
    waterfall_png: bytes | None = None
    waterfall_caption: str = ""


def explain_for_report(estimator: Any, features: Sequence[str], source: DataSource,
                       data: str | os.PathLike[str] | None = None, rows: int = SHAP_ROWS,
                       seed: int = 0, parallel: bool = False,
                       mapping: str | os.PathLike[str] | Mapping | None = None
                       ) -> Explanations:
    """SHAP global importance and beeswarm plots for the report.

    Lundberg SM, Lee S-I. A unified approach to interpreting model predictions. NeurIPS 2017.

    Parameters
    ----------
    estimator : fitted candidate
        The model (:func:`resorb.explain.explain` accepts every candidate).
    features : sequence of str
        The model's input columns.
    source : DataSource
        What the model was trained on (a synthetic model is explained on its preset).
    data : path-like, optional
        A table to explain, in the data dictionary or read through ``mapping``; checked as
        ``resorb validate FILE --model`` checks it (the model's own predictors; others are
        ignored). Without it a synthetic model is explained on ``rows`` new patients of its
        training preset, and a real-data model not at all.
    rows : int
        Rows explained at most (a seeded sample of ``data``).
    seed : int
        Seed of the synthetic cohort and of the sample.
    parallel : bool
        Draw the beeswarm in a forked process while this one draws the other two figures
        (:func:`resorb.report.worker.draw_aside`; the report's worker, which runs no other
        thread, asks for it). The figures are the same either way.
    mapping : path-like or Mapping, optional
        Mapping file (:mod:`resorb.intake.mapping_file`) from ``data``'s columns, codes,
        units and dialect to the data dictionary's, as ``score`` and ``evaluate`` read it.

    Returns
    -------
    Explanations
        With a note instead of plots when nothing was explained.

    Raises
    ------
    DataValidationError
        ``data`` (as mapped) breaks the data dictionary for this model's predictors.
    InputError
        ``data`` cannot be read, or the mapping's filter keeps no row of it.
    ConfigError
        ``mapping`` is invalid or reads columns ``data`` lacks.
    """
    from resorb import explain as ex
    from resorb.features import model_input
    from resorb.figures import png_bytes

    if data is not None:
        frame, what = _given_rows(Path(data), features, mapping)
    elif source.synthetic:
        from resorb.cohort import make_cohort

        frame = make_cohort(n=rows, seed=seed, preset=source.preset)
        what = f"new synthetic patients of preset '{source.preset}' (seed {seed})"
    else:
        return Explanations(note="SHAP explanations are skipped: the model was trained on "
                                 "real data and the report reads no patient data unless given "
                                 "some. Rerun with --data FILE (a table in the data "
                                 "dictionary) to add them.")
    eligible = np.ones(len(frame), dtype=bool)
    for flag in schema.RED_FLAGS:  # never offered waiting: not the model's population
        if flag in frame:
            eligible &= ~frame[flag].fillna(False).astype(bool).to_numpy()
    frame = frame.loc[eligible]
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed).sort_index()
    if len(frame) == 0:
        return Explanations(note=f"SHAP explanations are skipped: {what} has no row without "
                                 f"a red flag.")
    expl = ex.explain(estimator, model_input(frame, columns=tuple(features)))
    importance = ex.global_importance(expl)
    p = expl.base_value + expl.values.to_numpy().sum(axis=1)
    row = int(np.argmin(np.abs(p - np.median(p))))  # a position, never an identifier
    caption = (f"One example patient, the explained patient whose predicted probability "
               f"({p[row]:.2f}) is nearest the median: how each finding moves the prediction "
               f"away from the average prediction ({expl.base_value:.2f}).")
    drawings = {"importance": lambda: png_bytes(ex.importance_figure(expl)),
                "beeswarm": lambda: png_bytes(ex.beeswarm_figure(expl, seed=seed)),
                "waterfall": lambda: png_bytes(ex.waterfall_figure(expl, row))}
    if parallel:  # the costliest figure beside the other two
        from resorb.report.worker import draw_aside

        png = draw_aside(drawings, aside=("beeswarm",))
    else:
        png = {name: draw() for name, draw in drawings.items()}
    return Explanations(importance_png=png["importance"], beeswarm_png=png["beeswarm"],
                        waterfall_png=png["waterfall"], waterfall_caption=caption,
                        top=tuple((str(k), float(v)) for k, v in importance.head(5).items()),
                        rows=f"{len(frame):,} {what}", method=expl.method)


def _given_rows(data: Path, features: Sequence[str],
                mapping: str | os.PathLike[str] | Mapping | None) -> tuple[Any, str]:
    """``--data`` (through ``--mapping``) checked for the model's predictors, and its words."""
    from resorb.scoring.frame import validate_for_model

    frame, report, _, result = validate_for_model(data, features, mapping, purpose="scoring")
    if not report.ok:
        raise DataValidationError(report)
    through = "" if result is None else f" read through the mapping {Path(result.origin).name}"
    return frame, f"rows of {data.name}{through}"
