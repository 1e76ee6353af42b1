"""The diameters behind a synthetic herniation: what a routine MRI report would give instead.

A routine report measures a herniation's anteroposterior (AP), transverse and craniocaudal
diameters and the canal's AP diameter, and dates the onset of symptoms; the generator draws
a 3D volume, a canal occupation and a duration. :func:`with_diameters` adds report-style
columns consistent with what was drawn, so that a mapping file's derivations
(:mod:`resorb.intake.derive`) can be tested against a known truth:

- ``canal_ap_mm``: the canal's AP diameter, Normal(16, 2) mm clipped to 10-24 mm
  (**assumption**: a typical adult lumbar canal; no source in ``EVIDENCE.md``).
- ``herniation_ap_mm`` = ``canal_occupation_pct`` / 100 x ``canal_ap_mm``: the herniation's
  depth, so that 100 x AP / canal AP is the drawn canal occupation (Fardon 2014's relative
  size; ``EVIDENCE.md`` section 10).
- ``herniation_transverse_mm`` and ``herniation_craniocaudal_mm``: their product is
  6 E / (pi AP), so that the ellipsoid pi/6 x AP x transverse x craniocaudal is E; their
  ratio is log-normal (log sd 0.3, median 1: neither axis favoured; **assumption**).
- The ellipsoid bias: E = V / f, where V is the volume drawn (``herniation_volume_mm3``, a 3D
  volumetry) and f the fraction of its ellipsoid that the irregular mass fills, log-normal
  with median 0.8 and log sd 0.15, clipped to 0.4-1.9 (a box fills 6/pi ~ 1.91 of its
  inscribed ellipsoid). The median is an **assumption** in the direction reported for
  irregular haematomas, for which ABC/3 rather than ABC/2 was proposed (Huttner et al., as
  cited in PeerJ 2016;4:e1921, doi 10.7717/peerj.1921); no comparison of the ellipsoid with
  volumetry on disc herniations was found. So the ellipsoid overestimates the volumetry by
  1/0.8 = 1.25 at the median, with about 15% scatter.
- Caliper error: each herniation diameter gets Normal(0, 0.5) mm and every diameter is
  rounded to 0.1 mm (at least 0.5 mm). 0.5 mm is an **assumption** inside the intra-rater
  limits of agreement of lumbar disc length measurements on MRI, from about +-1.0 to +-2.2
  mm ("A method for quantitative measurement of lumbar intervertebral disc structures",
  Chiropr Man Therap 21:26, doi 10.1186/2045-709X-21-26).
- ``symptom_onset_date`` = ``baseline_date`` - ``symptom_duration_days`` (exact).

A row without a drawn canal occupation gets no canal diameter and an AP diameter shaped with
the median occupation of the preset (25%); a row without a drawn volume gets no transverse
or craniocaudal diameter. Every draw comes from its own stream of ``seed``
(:data:`DIAMETER_STREAM`), so the cohort's other columns keep their bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Report-style columns :func:`with_diameters` appends, in this order.
DIAMETER_COLUMNS = ("herniation_ap_mm", "herniation_transverse_mm",
                    "herniation_craniocaudal_mm", "canal_ap_mm", "symptom_onset_date")
#: Spawn key of the diameters' random stream under the cohort seed (the generator's stages
#: use keys 0..8): diameters never shift another stage's draws.
DIAMETER_STREAM = 100


@dataclass(frozen=True)
class ShapeModel:
    """How a herniation's diameters relate to its volume (see the module docstring).

    Attributes
    ----------
    canal_ap_mean_mm, canal_ap_sd_mm : float
        Canal AP diameter, normal, clipped to ``canal_ap_range_mm``.
    canal_ap_range_mm : tuple of float
    fill_median, fill_log_sd : float
        Fraction of the diameters' ellipsoid the mass fills (log-normal); 1 and 0 make the
        ellipsoid exact.
    fill_range : tuple of float
    aspect_log_sd : float
        Log sd of transverse / craniocaudal.
    caliper_sd_mm : float
        Measurement error of each diameter, mm (0: none).
    resolution_mm : float
        Diameters are rounded to this (mm).
    minimum_mm : float
        Smallest diameter reported (mm).
    occupation_fallback_pct : float
        Canal occupation used to shape a row whose occupation is missing.
    """

    canal_ap_mean_mm: float = 16.0
    canal_ap_sd_mm: float = 2.0
    canal_ap_range_mm: tuple[float, float] = (10.0, 24.0)
    fill_median: float = 0.8
    fill_log_sd: float = 0.15
    fill_range: tuple[float, float] = (0.4, 1.9)
    aspect_log_sd: float = 0.3
    caliper_sd_mm: float = 0.5
    resolution_mm: float = 0.1
    minimum_mm: float = 0.5
    occupation_fallback_pct: float = 25.0


EXACT = ShapeModel(fill_median=1.0, fill_log_sd=0.0, caliper_sd_mm=0.0, resolution_mm=1e-6,
                   minimum_mm=1e-6)
"""A shape model whose ellipsoid reproduces the volume exactly (no bias, no caliper error)."""


def with_diameters(frame: pd.DataFrame, seed: int,
                   shape: ShapeModel | None = None) -> pd.DataFrame:
    """The cohort with report-style diameters and the symptom onset date appended.

    Parameters
    ----------
    frame : DataFrame of shape (n, k)
        A cohort (:func:`resorb.cohort.make_cohort`) with ``herniation_volume_mm3`` (mm3),
        ``canal_occupation_pct`` (%), ``baseline_date`` and ``symptom_duration_days``; not
        modified.
    seed : int
        The cohort's seed; the draws use its stream :data:`DIAMETER_STREAM`.
    shape : ShapeModel, optional
        Default :class:`ShapeModel` (ellipsoid bias and caliper error as documented).

    Returns
    -------
    DataFrame of shape (n, k + 5)
        ``frame``'s columns unchanged, then :data:`DIAMETER_COLUMNS` (float64 mm, the onset
        ``datetime64[ns]``).
    """
    s = shape or ShapeModel()
    n = len(frame)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DIAMETER_STREAM,)))
    z = rng.standard_normal((n, 6))  # one block: each column's draws fixed by row
    canal = np.clip(s.canal_ap_mean_mm + s.canal_ap_sd_mm * z[:, 0], *s.canal_ap_range_mm)
    occupation = frame["canal_occupation_pct"].to_numpy(dtype=float, na_value=np.nan)
    known = np.isfinite(occupation)
    ap = np.where(known, occupation, s.occupation_fallback_pct) / 100 * canal
    volume = frame["herniation_volume_mm3"].to_numpy(dtype=float, na_value=np.nan)
    fill = np.clip(s.fill_median * np.exp(s.fill_log_sd * z[:, 1]), *s.fill_range)
    ellipsoid = volume / fill
    area = 6 * ellipsoid / (np.pi * np.maximum(ap, s.minimum_mm))  # transverse x craniocaudal
    ratio = np.exp(s.aspect_log_sd * z[:, 2])
    transverse, craniocaudal = np.sqrt(area * ratio), np.sqrt(area / ratio)

    def reported(true: np.ndarray, noise: np.ndarray) -> np.ndarray:
        seen = np.maximum(true + s.caliper_sd_mm * noise, s.minimum_mm)
        return np.round(np.round(seen / s.resolution_mm) * s.resolution_mm, 6)

    onset = pd.to_datetime(frame["baseline_date"]) - pd.to_timedelta(
        frame["symptom_duration_days"].to_numpy(dtype=float, na_value=np.nan), unit="D")
    added = {
        "herniation_ap_mm": reported(ap, z[:, 3]),
        "herniation_transverse_mm": reported(transverse, z[:, 4]),
        "herniation_craniocaudal_mm": reported(craniocaudal, z[:, 5]),
        "canal_ap_mm": np.where(known, reported(canal, np.zeros(n)), np.nan),
    }
    out = {name: pd.Series(v, index=frame.index, dtype="float64") for name, v in added.items()}
    out["symptom_onset_date"] = pd.Series(onset.to_numpy(dtype="datetime64[ns]"),
                                          index=frame.index)
    return pd.concat([frame, pd.DataFrame(out, index=frame.index)], axis=1)
