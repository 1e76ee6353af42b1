"""The model card: what a resorb model is, what it was trained on, and the hash of its file.

Every exported or logged model carries one :class:`ModelCard` as ``artifacts/resorb.json``
beside ``artifacts/model.skops``. :meth:`ModelCard.to_json` writes it and
:meth:`ModelCard.from_json` reads it back (``from_json(card.to_json()) == card``); a file with
a missing or an unknown key, or with a value of the wrong type, is refused with one message
that names the keys, never read half-way. The card holds aggregates only: the data source is
a preset, a seed and a size (or "real data"), the training ranges are rounded percentiles,
and no identifier or patient row is ever written (Mitchell M et al. Model cards for model
reporting. FAT* 2019. doi:10.1145/3287560.3287596).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from resorb.config import LabelRule
from resorb.errors import ModelCardError
from resorb.trust import FolderIntegrity

#: a numeric input's range ``(low, high)``, a category input's categories, or None (all missing)
TrainingRange = tuple[float, float] | tuple[str, ...] | None


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class DataSource:
    """What a model was trained on, in words that may be logged (no identifiers).

    Attributes
    ----------
    kind : {"synthetic", "real"}
    preset : str
        Synthetic preset (``"literature"``); ``""`` for real data.
    seed : int, optional
        Seed of the synthetic cohort.
    n_requested : int, optional
        Rows drawn for the synthetic cohort (before rows without an outcome leave).
    """

    kind: Literal["synthetic", "real"]
    preset: str = ""
    seed: int | None = None
    n_requested: int | None = None

    @property
    def synthetic(self) -> bool:
        """Whether the data are a synthetic cohort."""
        return self.kind == "synthetic"

    def describe(self) -> str:
        """e.g. ``'synthetic:literature (n=20000, seed 2026)'`` or ``'real data'``."""
        if self.synthetic:
            return f"synthetic:{self.preset} (n={self.n_requested}, seed {self.seed})"
        return "real data"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricEstimate(_Frozen):
    """A validated metric: point estimate and 95% bootstrap interval, ``None`` when undefined."""

    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def of(cls, estimate: float, ci_low: float = math.nan,
           ci_high: float = math.nan) -> MetricEstimate:
        """From the numbers of a metric table, NaN and infinities as ``None``."""
        def finite(x: float) -> float | None:
            return float(x) if math.isfinite(float(x)) else None

        return cls(estimate=finite(estimate), ci_low=finite(ci_low), ci_high=finite(ci_high))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelCard(_Frozen):
    """What ``resorb.json`` holds: one fitted candidate, its data, rule, metrics and hash.

    Attributes
    ----------
    candidate : str
        Candidate name in params.yaml (``"hist_gradient_boosting"``).
    kind : str
        Model family of the candidate (:mod:`resorb.models`).
    calibration : str
        Recalibration fitted inside cross-validation (``"none"``, ``"sigmoid"``, ...).
    data_source : DataSource
        What the model was trained on.
    seed : int
        Seed of the model fit.
    label_rule : LabelRule
        How ``resorbed`` was derived.
    decision_threshold : float
        P(resorption) in (0, 1) from which watchful waiting may be offered.
    resorb_version : str
        Version of resorb that trained the model.
    metrics : dict of str to MetricEstimate
        Validated performance (``auroc``, ``calibration_slope``, ...) with 95% intervals.
    training_ranges : dict of str to TrainingRange
        Per input column: ``(low, high)`` (the 1st and 99th percentiles, rounded outwards),
        the categories seen, or None.
    features : tuple of str
        Model input columns, in the order the estimator was fitted on.
    skops_sha256 : str
        Hex SHA-256 of ``model.skops``; ``""`` in a card not yet written, whose writer
        (:func:`resorb.tracking.log_model`) adds it with :meth:`with_skops_hash`.
    update : UpdateRecord, optional
        For a model made by ``resorb update``: its parent, the method, the closed test and
        the update data's fingerprint; None for a trained model.
    unused_predictors : tuple of str
        Predictors left out of the model because the training rows held no observed value
        or one value only (:func:`resorb.features.unused_predictors`); their training range
        is None, and scoring lists any value given for them in ``out_of_range``.
    adaptations : tuple of str
        Small-sample adaptations made below the Riley minimum (:mod:`resorb.adaptation`),
        one sentence each; empty when the candidate was trained as params.yaml declares it.
    heuristic_shrinkage : float, optional
        van Houwelingen and le Cessie's heuristic shrinkage factor of a logistic candidate's
        design (Stat Med 1990;9:1303-1325): the calibration slope its unpenalised fit would
        be expected to have in new patients; None for other kinds.
    derived : dict of str to str
        Columns the training data's mapping file computed instead of reading them
        (:mod:`resorb.intake.derive`), with the method in words, e.g.
        ``{"herniation_volume_mm3": "ellipsoid from 3 diameters (pi/6 x AP x ...)"}``: a
        model trained on ellipsoid volumes says so, since they are not 3D volumetries. Empty
        when every column was measured as the dictionary defines it.
    predictor_set : str
        The predictors the model was trained on (``training.predictors``, ``--predictors``):
        a set of :data:`resorb.schema.PREDICTOR_SETS` (``full``, ``routine``), or
        ``custom`` for a list; :attr:`features` names them. A card written before predictor
        sets existed reads as ``full``.
    integrity : FolderIntegrity, optional
        SHA-256 of the model folder's ``MLmodel`` loader settings, environment files and
        code files (none), recorded when the folder was written (:mod:`resorb.trust`) and
        checked at every load; None in a card written before resorb recorded them.
    """

    candidate: str
    kind: str
    calibration: str
    data_source: DataSource
    seed: int
    label_rule: LabelRule
    decision_threshold: float = Field(gt=0, lt=1)
    resorb_version: str
    metrics: dict[str, MetricEstimate]
    training_ranges: dict[str, TrainingRange]
    features: tuple[str, ...]
    skops_sha256: str
    update: UpdateRecord | None = None
    unused_predictors: tuple[str, ...] = ()
    adaptations: tuple[str, ...] = ()
    heuristic_shrinkage: float | None = None
    derived: dict[str, str] = Field(default_factory=dict)
    predictor_set: str = "full"
    integrity: FolderIntegrity | None = None

    @property
    def trained_on(self) -> str:
        """The data source in words (:meth:`DataSource.describe`)."""
        return self.data_source.describe()

    def to_json(self) -> str:
        """The card as the JSON text of ``resorb.json`` (every key, indented)."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "resorb.json") -> ModelCard:
        """Read a card written by :meth:`to_json`.

        Parameters
        ----------
        text : str or bytes
            The JSON text.
        source : str
            Where it came from, for the message of an error.

        Returns
        -------
        ModelCard

        Raises
        ------
        ModelCardError
            Not JSON, a key missing or unknown, a value of the wrong type, or no hash.
        """
        try:
            card = cls.model_validate_json(text)
        except ValidationError as exc:
            raise _card_error(exc, source) from None
        if len(card.skops_sha256) != 64:
            raise ModelCardError(f"{source}: 'skops_sha256' is not a SHA-256 of model.skops",
                                 path=source)
        return card

    def with_skops_hash(self, skops: str | os.PathLike[str]) -> ModelCard:
        """The same card with the SHA-256 of the model file ``skops``."""
        return self.model_copy(update={"skops_sha256": file_sha256(skops)})

    def check_skops(self, skops: str | os.PathLike[str]) -> None:
        """Refuse a model file that is not the one the card was written for.

        Raises
        ------
        ModelCardError
            The SHA-256 of ``skops`` differs from :attr:`skops_sha256`.
        """
        self.check_skops_bytes(Path(skops).read_bytes(), path=str(skops))

    def check_skops_bytes(self, data: bytes, path: str = "model.skops") -> None:
        """Refuse the content of a model file that is not the one the card was written for.

        Raises
        ------
        ModelCardError
            The SHA-256 of ``data`` differs from :attr:`skops_sha256`.
        """
        skops = path
        found = hashlib.sha256(data).hexdigest()
        if found != self.skops_sha256:
            raise ModelCardError(
                f"{skops} does not match its resorb.json (sha256 {found[:12]}... "
                f"instead of {self.skops_sha256[:12]}...): the model file was changed after "
                f"export; export the model again", path=str(skops))


def _card_error(exc: ValidationError, source: str) -> ModelCardError:
    """One message naming every missing, unknown and invalid key of a card."""
    missing, unknown, invalid = [], [], []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        if error["type"] == "missing":
            missing.append(where)
        elif error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            unknown.append(where)
        elif error["type"] == "json_invalid":
            return ModelCardError(f"{source} is not valid JSON: {error['msg']}", path=source)
        else:
            invalid.append(f"'{where}' ({error['msg']})")
    parts = [f"{label} {', '.join(keys)}" for label, keys in
             (("missing", [repr(k) for k in missing]), ("unknown", [repr(k) for k in unknown]),
              ("invalid", invalid)) if keys]
    return ModelCardError(
        f"{source} is not a resorb model card: {'; '.join(parts)}; was it written by another "
        f"resorb version? Retrain or export the model again", path=source,
        missing=tuple(missing), unknown=tuple(unknown))


class UpdateTest(_Frozen):
    """One likelihood-ratio test of the closed testing procedure (Vergouwe 2017).

    Attributes
    ----------
    method : str
        The less extensive method tested: ``keep``, ``intercept`` or ``recalibrate``.
    against : str
        Its comparator, the revision (``revise``).
    chi2 : float
        Likelihood-ratio statistic.
    df : int
        Degrees of freedom.
    p : float
        P-value (chi-squared).
    rejected : bool
        ``p < alpha``: the method was found inadequate.
    """

    method: str
    against: str
    chi2: float
    df: int
    p: float
    rejected: bool


class UpdateRecord(_Frozen):
    """How an updated model (``resorb update``) came from its parent, in aggregates only.

    Attributes
    ----------
    parent : str
        The parent in words: ``resorb version 3`` or ``folder reference``.
    parent_version : str
        Its registered version, ``""`` for an exported folder.
    parent_skops_sha256 : str
        SHA-256 of the parent's model file (from its card): identifies a folder parent.
    parent_candidate : str
        The parent's candidate.
    requested, method : str
        What was asked for (``auto`` or a method) and what was done (``intercept``,
        ``recalibrate``, ``revise``, ``refit``).
    alpha : float
        Level of the closed test.
    tests : tuple of UpdateTest
        The closed test's steps, in order (empty when not run).
    intercept, slope : float, optional
        Of the recalibration (None for a refit).
    revision_terms : tuple of str
        Terms re-estimated by a revision, with their coefficients (standardised terms) in
        ``revision_coefficients``.
    revision_coefficients : tuple of float
    revision_penalty : float, optional
        Ridge penalty chosen by AIC for the revision.
    data_sha256 : str
        Fingerprint of the update data (:func:`resorb.tracking.fingerprint`).
    rows, events : int
        Update rows and resorbed among them.
    prevalence : float
    parent_derived : dict of str to str
        The parent card's ``derived``: what the parent's own training data derived (the
        updated card's ``derived`` says what the update data were). Empty in cards written
        before it was recorded.
    """

    parent: str
    parent_version: str = ""
    parent_skops_sha256: str
    parent_candidate: str
    requested: str
    method: str
    alpha: float
    tests: tuple[UpdateTest, ...] = ()
    intercept: float | None = None
    slope: float | None = None
    revision_terms: tuple[str, ...] = ()
    revision_coefficients: tuple[float, ...] = ()
    revision_penalty: float | None = None
    data_sha256: str
    rows: int
    events: int
    prevalence: float
    parent_derived: dict[str, str] = Field(default_factory=dict)


ModelCard.model_rebuild()
