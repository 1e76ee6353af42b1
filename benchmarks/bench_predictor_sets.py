"""What is lost without a finding: the champion on each predictor set, against the truth.

For each seed, a ``literature`` cohort of ``--n-train`` patients is drawn for training (seed
s) and an independent one of ``--n-test`` for testing (seed s + 1000). For every selection
of predictors (``full``, ``routine``, ``routine`` without contrast, and the strongest single
findings) each candidate of :func:`candidates` (the champions of the shipped reference
predictors, read from their cards ``models/reference`` and ``models/routine``: ``make
reference``; and the former champions ``hist_gradient_boosting`` and ``logistic``) is built
as training builds it on that selection (:meth:`resorb.config.Params.candidate`), fitted on
every labelled training row and scored on the labelled (non-operated) test rows: AUROC,
calibration slope and calibration-in-the-large (CITL) with stratified bootstrap 95%
intervals (:func:`resorb.metrics.bootstrap_metrics`). The oracle scores the same rows with
the generator's ``true_resorption_probability``: the best any model of the complete record
can do. The gap to it is what a clinic loses without the missing findings.

Writes ``docs/predictor_sets.md`` (the table, the machine, the command) and the table the
report reads, ``src/resorb/report/predictor_sets.csv`` (aggregates of synthetic data only).

Usage::

    .venv/bin/python benchmarks/bench_predictor_sets.py --seeds 2026,11,31
    .venv/bin/python benchmarks/bench_predictor_sets.py --seeds 1 --n-train 3000 --n-boot 50
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _common import ROOT, machine, markdown, provenance, seed_list

from resorb import metrics, schema
from resorb.card import ModelCard
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.models import build_model, predict_resorption
from resorb.training import prepare

ORACLE = "true_resorption_probability"
ROUTINE = schema.PREDICTOR_SETS["routine"].members
#: what is compared: label -> predictor selection (``--predictors``)
SELECTIONS: dict[str, str] = {
    "full": "full",
    "routine": "routine",
    "routine without contrast": ",".join(p for p in ROUTINE if p != "rim_enhancement"),
    "type + rim enhancement": "herniation_type,rim_enhancement",
    "type + migration": "herniation_type,migration_grade",
    "herniation type only": "herniation_type",
}
#: the folders of the shipped reference predictors, whose champions are measured
REFERENCES = ("reference", "routine")
#: measured besides them: the champions of the shipped predictors before the mixture cure one
FORMER = ("hist_gradient_boosting", "logistic")
CSV = ROOT / "src" / "resorb" / "report" / "predictor_sets.csv"
DOC = ROOT / "docs" / "predictor_sets.md"
SHOWN = {"auroc": "AUROC", "calibration_slope": "slope", "calibration_intercept": "CITL"}


def reference_cards() -> dict[str, ModelCard]:
    """The card of each shipped reference predictor (``models/<name>/artifacts``)."""
    return {name: ModelCard.from_json(
                (ROOT / "models" / name / "artifacts" / "resorb.json").read_bytes())
            for name in REFERENCES}


def candidates(cards: dict[str, ModelCard]) -> tuple[str, ...]:
    """The shipped champions, then the former ones; each once, in that order."""
    return tuple(dict.fromkeys([*(card.candidate for card in cards.values()), *FORMER]))


def champions_in_words(cards: dict[str, ModelCard]) -> str:
    """'`mixture_cure` for `models/reference`, `mixture_cure` for `models/routine`'."""
    return ", ".join(f"`{card.candidate}` for `models/{name}`" for name, card in cards.items())


def routine_in_words(card: ModelCard) -> str:
    """'Its champion is `x`, cross-validated AUROC 0.770 (0.763 to 0.776), ...'."""
    auroc, slope = card.metrics["auroc"], card.metrics["calibration_slope"]
    return (f"Its champion is `{card.candidate}`, cross-validated AUROC "
            f"{auroc.estimate:.3f} ({auroc.ci_low:.3f} to {auroc.ci_high:.3f}), "
            f"calibration slope {slope.estimate:.2f} ({slope.ci_low:.2f} to "
            f"{slope.ci_high:.2f})")


def measure(seed: int, n_train: int, n_test: int, n_boot: int,
            params: Params, names: tuple[str, ...]) -> pd.DataFrame:
    """One row per (selection, candidate of ``names``) and one for the oracle, on one seed
    pair."""
    train_data, _, _ = prepare(make_cohort(n_train, seed=seed), params)
    test_data, _, _ = prepare(make_cohort(n_test, seed=seed + 1000), params)
    y = test_data.y
    rows = []

    def record(label: str, candidate: str, p: np.ndarray, seconds: float) -> None:
        table = metrics.bootstrap_metrics(y, p, n_boot=n_boot, seed=seed).set_index("metric")
        row = {"seed": seed, "selection": label, "candidate": candidate,
               "n_train": len(train_data.y), "n_test": len(y), "seconds": seconds}
        for metric in SHOWN:
            row[metric] = table.loc[metric, "estimate"]
            row[f"{metric}_low"] = table.loc[metric, "ci_low"]
            row[f"{metric}_high"] = table.loc[metric, "ci_high"]
        rows.append(row)

    truth = test_data.frame[ORACLE].to_numpy(dtype=float)
    record("oracle (true probability)", "-", truth, 0.0)
    for label, selection in SELECTIONS.items():
        chosen = params.with_predictors(selection)
        # the model input of each selection, as training builds it (resorb.training.prepare)
        _, X_train, _ = prepare(train_data.frame, chosen)
        _, X_test, _ = prepare(test_data.frame, chosen)
        for name in names:
            start = time.perf_counter()
            model = build_model(chosen.candidate(name), seed=seed).fit(X_train, train_data.y)
            p = predict_resorption(model, X_test)
            record(label, name, p, time.perf_counter() - start)
            print(f"  seed {seed}: {label:28s} {name:24s} AUROC {rows[-1]['auroc']:.3f} "
                  f"slope {rows[-1]['calibration_slope']:.2f}", flush=True)
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of each estimate and of its interval limits; the AUROC lost."""
    keys = ["selection", "candidate"]
    order = {k: i for i, k in enumerate(["oracle (true probability)", *SELECTIONS])}
    cols = [c for c in results.columns if c.split("_low")[0].split("_high")[0] in SHOWN]
    mean = results.groupby(keys, sort=False)[cols].mean().reset_index()
    spread = results.groupby(keys, sort=False)["auroc"].agg(["min", "max"]).reset_index()
    mean = mean.merge(spread, on=keys)
    oracle = results.loc[results["candidate"] == "-"].set_index("seed")["auroc"]
    lost = results.assign(lost=results["auroc"] - results["seed"].map(oracle))
    mean = mean.merge(lost.groupby(keys, sort=False)["lost"].mean().reset_index(), on=keys)
    mean["order"] = mean["selection"].map(order)
    return mean.sort_values(["order", "candidate"]).drop(columns="order")


def table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary in words: ``0.769 (0.760-0.777)`` per metric."""
    def ci(row: pd.Series, metric: str, digits: int) -> str:
        return (f"{row[metric]:.{digits}f} ({row[f'{metric}_low']:.{digits}f} to "
                f"{row[f'{metric}_high']:.{digits}f})")

    return pd.DataFrame({
        "predictors": summary["selection"], "model": summary["candidate"],
        "AUROC (95% CI)": [ci(r, "auroc", 3) for _, r in summary.iterrows()],
        "AUROC lost vs oracle": [f"{v:+.3f}" for v in summary["lost"]],
        "slope (95% CI)": [ci(r, "calibration_slope", 2) for _, r in summary.iterrows()],
        "CITL (95% CI)": [ci(r, "calibration_intercept", 2) for _, r in summary.iterrows()],
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=seed_list, default=[2026, 11, 31],
                    help="training seeds (test cohort: seed + 1000)")
    ap.add_argument("--n-train", type=int, default=20000, help="patients in each training cohort")
    ap.add_argument("--n-test", type=int, default=20000, help="patients in each test cohort")
    ap.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples")
    ap.add_argument("--no-write", action="store_true", help="print only; write no file")
    args = ap.parse_args()
    params = Params.resolve()
    cards = reference_cards()
    names = candidates(cards)
    # stamped before the run writes its files, so that it names the code that measured
    stamp = provenance()
    print(f"candidates: {', '.join(names)}; {stamp}", flush=True)
    started = time.perf_counter()
    results = pd.concat([measure(s, args.n_train, args.n_test, args.n_boot, params, names)
                         for s in args.seeds], ignore_index=True)
    summary = summarise(results)
    shown = table(summary)
    print(markdown(shown))
    if args.no_write:
        return
    CSV.write_text(summary.round(4).to_csv(index=False), encoding="utf-8")
    command = ("python benchmarks/bench_predictor_sets.py --seeds "
               + ",".join(map(str, args.seeds)) + f" --n-train {args.n_train} --n-test "
               f"{args.n_test} --n-boot {args.n_boot}")
    per_seed = results.pivot_table(index=["selection", "candidate"], columns="seed",
                                   values="auroc", sort=False).reset_index()
    per_seed.columns = [str(c) if not isinstance(c, int) else f"AUROC seed {c}"
                        for c in per_seed.columns]
    DOC.write_text(DOC_TEMPLATE.format(
        table=markdown(shown), per_seed=markdown(per_seed, decimals=3), command=command,
        machine=machine(), provenance=stamp, champions=champions_in_words(cards),
        routine=routine_in_words(cards["routine"]),
        minutes=(time.perf_counter() - started) / 60,
        membership=markdown(schema.predictor_sets_frame())), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)} and {CSV.relative_to(ROOT)}")


DOC_TEMPLATE = """# Predictor sets: what a clinic's data can support

A model needs, and scoring requires, only the predictors it was trained on. The data
dictionary (`src/resorb/schema.py`, `PREDICTOR_SETS` and `ROUTINE_MEMBERSHIP`) declares two
named sets; `resorb schema --sets` prints the table below.

- `full`: every predictor, as research cohorts with volumetry and questionnaires record them.
- `routine`: what a routine lumbar MRI report and a spine clinic's intake form record. No
  volumetry, no canal occupation, no T2 signal grading, no multifidus fat, no ODI, no back
  pain score.

`train`, `compare`, `evaluate`, `update` and `plan` take `--predictors SET` (or predictor
names, comma-separated, or both: `--predictors routine,herniation_volume_mm3`; params.yaml
`training.predictors`). The model card records the set (`predictor_set`; a card written before
sets existed reads as `full`) and its `features`. `resorb score` reads only the model's
predictors: any other predictor column is ignored (never validated, never used) and listed;
`resorb validate FILE --model FOLDER` checks a file against one model's needs. Without a
registry, `resorb score` picks `models/reference`, else `models/routine` when the file holds
only the routine columns, and refuses a file fitting neither, listing what each would still
need (exit 2).

The routine reference predictor `models/routine` is built by `make reference` beside
`models/reference`: `resorb compare --synthetic 20000 --seed 2026 --predictors routine
--register`, `resorb models promote latest --alias routine`, `resorb models export --alias
routine --to models --name routine` (both are versions of the registered model `resorb`; the
alias tells them apart). {routine}.

## Membership, and why

{membership}

## What is lost without a finding

The champion candidate of the shipped reference predictors ({champions}), and the
former champions `hist_gradient_boosting` and `logistic`, each trained on each selection of
predictors and tested on an independent cohort of the `literature` preset, against the oracle: the
generator's `true_resorption_probability` of the complete record, the best any model can do.
Means over the seeds of the estimates and of their stratified bootstrap 95% intervals; "AUROC
lost" is the mean difference to the oracle on the same test rows. CITL is the
calibration-in-the-large (0 is perfect), slope the calibration slope (1 is perfect).

{table}

AUROC per seed:

{per_seed}

How to read it. On the generator's truth a clinic with routine findings loses next to
nothing against the full record: each model's `routine` row matches its `full` row within
the intervals (0.002 of AUROC apart for the mixture cure model), and the gap to the oracle
is not missing information: the mixture cure model, which has the generator's shape
(docs/training.md, "Mixture cure candidate"), comes within 0.002 (full) and 0.004 (routine)
of it, the logistic and boosted models, which cannot represent that shape, within 0.01. That
is an assumption of the generator, stated here so it is not mistaken for a finding: of the
predictors outside the routine set only `t2_signal` and `herniation_volume_mm3` carry an
effect in the `literature` preset (true effects 0.33 and 0.29 logit-SD, against 2.40 for rim
enhancement and 0.89 for herniation type: `resorb.cohort.true_effects`), and the published
evidence on volume is mixed (docs/cohort.md). Without contrast (no rim enhancement, the
strongest predictor) about 0.03 of AUROC is lost; herniation type with rim enhancement alone
keeps most of the discrimination; herniation type alone, or with migration, keeps about
0.04 to 0.05 less than the full record, and there the three models agree within 0.005. Calibration
stays close to ideal everywhere (slopes 0.97-1.02, CITL within 0.01 of 0): a model fitted on
fewer predictors is less sharp, not miscalibrated. These figures describe the synthetic cohort,
not a real hospital: validate on local data (`resorb evaluate`) before use.

Command: `{command}` ({minutes:.0f} min). Measured on a shared 2-core machine: {machine};
{provenance}. The table the report shows is `src/resorb/report/predictor_sets.csv`, written
by the same run.
"""


if __name__ == "__main__":
    main()
