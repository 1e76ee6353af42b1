"""Ellipsoid volumes from a report's diameters against 3D volumetry: what a model loses.

For each seed s (default 1-5), a ``literature`` cohort of ``--n`` patients (seed s) is drawn
with report-style diameters (:func:`resorb.cohort.make_cohort` ``diameters=True``; shape
model of :mod:`resorb.cohort.diameters`: ellipsoid / volumetry 1.25 at the median, 0.5 mm
caliper error). A mapping file's derivations (:mod:`resorb.intake.derive`, through
:func:`resorb.intake.apply_mapping` and :func:`resorb.intake.conform`, as ``validate`` and
``train`` read a file) turn the diameters into ``herniation_volume_mm3`` and
``canal_occupation_pct``. The label is always the cohort's own (volumetry at both times):
only the predictors change. Each candidate is fitted by :func:`resorb.models.build_model`
(no validation, no champion) in three ways and scored on the labelled rows of one fresh
20,000-patient cohort (seed 777, with diameters):

- ``volumetry``: trained and scored on the generator's volumes and occupations;
- ``derived``: trained and scored on the mapping-derived ones (a clinic with reports only);
- ``volumetry->derived``: trained on volumetry, scored on derived inputs (a model used on
  data measured another way, which the card's ``derived`` field is there to prevent).

Scores: AUROC (observed labels), calibration slope and intercept, and the mean absolute
distance of p from the generator's ``true_resorption_probability``; the oracle's AUROC (the
true probability itself) is the ceiling.

``--fill-median`` and ``--fill-log-sd`` change the shape model's ellipsoid bias (e.g. 0.667
and 0.35: Huttner's ABC/3 for irregular masses, with more scatter).

Usage::

    .venv/bin/python benchmarks/bench_derived.py --seeds 1,2,3,4,5
    .venv/bin/python benchmarks/bench_derived.py --seeds 1,2,3,4,5 --fill-median 0.667 \
        --fill-log-sd 0.35
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from _common import machine, markdown, provenance, seed_list

from resorb import metrics
from resorb.cohort import make_cohort, true_effects
from resorb.cohort.diameters import DIAMETER_COLUMNS, ShapeModel, with_diameters
from resorb.config import Params
from resorb.intake import apply_mapping, conform, fold_into_report, parse_mapping
from resorb.label import derive_resorbed
from resorb.models import build_model, predict_resorption
from resorb.training import prepare

DERIVED = ("herniation_volume_mm3", "canal_occupation_pct")
MAPPING = parse_mapping({"columns": {}, "drop_unmapped": True, "derive": {
    "herniation_volume_mm3": {
        "method": "ellipsoid_volume", "unit": "mm",
        "from": {"ap": "herniation_ap_mm", "transverse": "herniation_transverse_mm",
                 "craniocaudal": "herniation_craniocaudal_mm"}},
    "canal_occupation_pct": {
        "method": "canal_occupation", "unit": "mm",
        "from": {"herniation_ap": "herniation_ap_mm", "canal_ap": "canal_ap_mm"}}}})


def both_ways(n: int, seed: int, params: Params,
              shape: ShapeModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort as drawn, and the same rows with the two sizes derived from diameters."""
    wide = with_diameters(make_cohort(n, seed, "literature"), seed, shape)
    truth = wide.drop(columns=list(DIAMETER_COLUMNS))
    # as `train --mapping` reads a file; without the measured follow-up volume, which the
    # mapping refuses beside a derived baseline volume (the label is the cohort's, below)
    result = apply_mapping(wide.drop(columns=["volume_followup_mm3"]), MAPPING)
    derived, report = conform(result.frame, purpose="training")
    report = fold_into_report(report, result.derived)
    if not report.ok:
        raise SystemExit(f"the derived cohort breaks the dictionary:\n{report.render()}")
    # the label stays the cohort's (volumetry at both times): only the predictors change
    label = derive_resorbed(truth, params.label)
    swapped = truth.drop(columns=["volume_followup_mm3", "resorption_grade"]).assign(
        resorbed=label, **{c: derived[c].to_numpy() for c in DERIVED})
    return truth, swapped


def main(argv: list[str] | None = None) -> int:
    """Fit each candidate both ways on each seed; print per-seed rows and the medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=seed_list, default=[1, 2, 3, 4, 5])
    ap.add_argument("--n", type=int, default=2000, help="training cohort size")
    ap.add_argument("--candidates", default="logistic,hist_gradient_boosting")
    ap.add_argument("--fill-median", type=float, default=ShapeModel.fill_median,
                    help="median fraction of its ellipsoid the mass fills (shape model)")
    ap.add_argument("--fill-log-sd", type=float, default=ShapeModel.fill_log_sd)
    args = ap.parse_args(argv)
    params = Params.default()
    shape = ShapeModel(fill_median=args.fill_median, fill_log_sd=args.fill_log_sd)
    print(f"# bench_derived: {machine()}; {provenance()}\n")
    print(f"shape model: {shape}\n")
    test_true, test_derived = both_ways(20000, 777, params, shape)
    t_data, t_X, _ = prepare(test_true, params)
    d_data, d_X, _ = prepare(test_derived, params)
    assert np.array_equal(t_data.y, d_data.y)
    truth = t_data.frame["true_resorption_probability"].to_numpy(float)
    ratio = (test_derived["herniation_volume_mm3"] / test_true["herniation_volume_mm3"])
    gap = test_derived["canal_occupation_pct"] - test_true["canal_occupation_pct"]
    print(f"test cohort: {len(t_X):,} labelled rows; ellipsoid / volumetry median "
          f"{ratio.median():.3f} (IQR {ratio.quantile(0.25):.3f}-{ratio.quantile(0.75):.3f}); "
          f"canal occupation derived - drawn: median {gap.median():+.2f} pp, "
          f"90% of |gaps| <= {gap.abs().quantile(0.9):.2f} pp; "
          f"oracle AUROC {metrics.auroc(t_data.y, truth):.4f}\n")
    rows = []
    for seed in args.seeds:
        train_true, train_derived = both_ways(args.n, seed, params, shape)
        a_data, a_X, _ = prepare(train_true, params)
        b_data, b_X, _ = prepare(train_derived, params)
        for name in args.candidates.split(","):
            spec = params.candidates[name]
            on_volumetry = build_model(spec, seed=seed).fit(a_X, a_data.y)
            on_derived = build_model(spec, seed=seed).fit(b_X, b_data.y)
            for variant, model, X in (("volumetry", on_volumetry, t_X),
                                      ("derived", on_derived, d_X),
                                      ("volumetry->derived", on_volumetry, d_X)):
                p = predict_resorption(model, X)
                rows.append({"seed": seed, "candidate": name, "variant": variant,
                             "auroc": metrics.auroc(t_data.y, p),
                             "slope": metrics.calibration_slope(t_data.y, p),
                             "intercept": metrics.calibration_intercept(t_data.y, p),
                             "mae_truth": float(np.mean(np.abs(p - truth)))})
    table = pd.DataFrame(rows)
    print("## per seed\n")
    print(markdown(table, decimals=4))
    summary = (table.groupby(["candidate", "variant"], sort=False)
               .agg(auroc=("auroc", "median"), auroc_min=("auroc", "min"),
                    auroc_max=("auroc", "max"), slope=("slope", "median"),
                    intercept=("intercept", "median"), mae_truth=("mae_truth", "median"))
               .reset_index())
    base = summary[summary["variant"] == "volumetry"].set_index("candidate")["auroc"]
    summary["auroc_vs_volumetry"] = summary["auroc"] - summary["candidate"].map(base)
    print(f"\n## medians over seeds {','.join(map(str, args.seeds))} (n={args.n})\n")
    print(markdown(summary, decimals=4))
    wide = table.pivot_table(index=["candidate", "seed"], columns="variant",
                             values=["auroc", "intercept", "mae_truth"])
    paired = []
    for variant in ("derived", "volumetry->derived"):
        for name, part in wide.groupby(level="candidate", sort=False):
            diff = {m: part[(m, variant)] - part[(m, "volumetry")]
                    for m in ("auroc", "intercept", "mae_truth")}
            paired.append({"candidate": name, "variant": f"{variant} - volumetry",
                           **{f"{m}_median": float(d.median()) for m, d in diff.items()},
                           "auroc_min": float(diff["auroc"].min()),
                           "auroc_max": float(diff["auroc"].max())})
    print("\n## paired differences from volumetry, same seed (medians, AUROC range)\n")
    print(markdown(pd.DataFrame(paired), decimals=4))
    effects = true_effects("literature")
    share = effects[list(DERIVED)] / effects.sum()
    print("\ngenerator's true importance (sd of the logit term, share of the sum): "
          + ", ".join(f"{c} {effects[c]:.3f} ({share[c]:.1%})" for c in DERIVED)
          + f"; largest {effects.index[0]} {effects.iloc[0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
