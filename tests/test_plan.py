"""resorb.planning and ``resorb plan``: simulation-based sample size against the closed forms."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb import metrics
from resorb.cli import app
from resorb.cohort import load_cohort_params
from resorb.config import Params
from resorb.errors import ConfigError
from resorb.planning import PlanSettings, Target, learning_curve_figure, plan_sample_size

#: tiny settings: two sizes, three replicates, small validation and reference cohorts
TINY = {"sizes": (100, 400), "validation_sizes": (100, 400), "replicates": 3, "seed": 11,
        "validation_rows": 2000, "reference_rows": 2000}
TINY_CLI = ["--sizes", "100,400", "--validation-sizes", "100,400", "--replicates", "3",
            "--seed", "11", "--validation-rows", "2000", "--reference-rows", "2000"]
runner = CliRunner()


@pytest.fixture(scope="module")
def params():
    return Params.default()


@pytest.fixture(scope="module")
def literature(params):
    return load_cohort_params("literature", params)


@pytest.fixture(scope="module")
def tiny(params, literature):
    """The tiny plan, in this process (one worker)."""
    return plan_sample_size(params, literature, "logistic", PlanSettings(**TINY, workers=1))


def test_learning_curve_improves_with_n(tiny):
    dev = tiny.development.set_index("n")
    # on average over replicates: less error against the truth, a slope nearer 1
    assert dev.loc[400, "mape_mean"] < dev.loc[100, "mape_mean"]
    assert dev.loc[100, "calibration_slope_mean"] < dev.loc[400, "calibration_slope_mean"] < 1.2
    assert dev.loc[400, "auroc_mean"] <= tiny.info["truth_auroc"] + 0.02
    # precision of a validation study grows with its size, for every statistic
    val = tiny.validation.set_index("n")
    for stat in ("oe", "slope", "c"):
        assert val.loc[400, f"{stat}_riley_width"] < val.loc[100, f"{stat}_riley_width"]


def test_replicates_are_nested_samples_of_usable_rows(tiny):
    reps = tiny.replicates
    assert len(reps) == 2 * TINY["replicates"]
    wide = reps.pivot(index="replicate", columns="n", values="events")
    # replicate r's 100 rows are the first 100 of its 400: never more events
    assert (wide[100] <= wide[400]).all()
    assert wide[100].between(20, 90).all()  # prevalence about 0.55 among 100 usable rows


def test_summary_columns_follow_from_the_replicates(tiny):
    reps, dev = tiny.replicates, tiny.development
    target = Target()
    for row in dev.itertuples(index=False):
        values = reps.loc[reps["n"] == row.n, "calibration_slope"].to_numpy()
        assert row.calibration_slope_mean == pytest.approx(values.mean())
        assert row.calibration_slope_mc_se == pytest.approx(values.std(ddof=1) / math.sqrt(3))
        assert row.calibration_slope_q20 == pytest.approx(np.percentile(values, 20))
        assert row.target_met == (row.calibration_slope_q20 >= 0.9)
    assert target.column in dev.columns


def test_closed_form_columns_equal_the_metrics_functions(tiny):
    info = tiny.info
    riley = metrics.minimum_sample_size(info["n_parameters"], info["prevalence"],
                                        c_statistic=info["anticipated_c"], shrinkage=0.9)
    assert tiny.riley_development == riley | {"shrinkage": 0.9}
    assert tiny.summary.iloc[0]["riley_n"] == riley["n_shrinkage"]
    assert tiny.summary.iloc[1]["riley_n"] == riley["n_shrinkage"]
    for row in tiny.development.itertuples(index=False):
        assert row.riley_expected_shrinkage == pytest.approx(
            metrics.expected_shrinkage(int(row.n), info["n_parameters"], riley["r2_cs"]))
    val = tiny.riley_validation
    assert isinstance(val, metrics.ValidationSampleSize)
    assert val.c_statistic == pytest.approx(info["fixed_model_auroc"])
    for stat in ("oe", "slope", "c"):
        row = tiny.summary.set_index("criterion").loc[stat]
        assert row["riley_n"] == val.criterion(stat).n
    assert info["n_parameters"] > 20  # the logistic candidate's splines and dummies


@pytest.mark.slow
def test_worker_count_and_process_do_not_change_the_tables(params, literature, tiny):
    two = plan_sample_size(params, literature, "logistic", PlanSettings(**TINY, workers=2))
    for name in ("development", "validation", "summary", "replicates"):
        assert getattr(two, name).to_csv() == getattr(tiny, name).to_csv(), name


@pytest.mark.slow
def test_another_seed_gives_other_cohorts(params, literature, tiny):
    settings = PlanSettings(**{**TINY, "seed": 12, "sizes": (100,)}, workers=1)
    other = plan_sample_size(params, literature, "logistic", settings)
    assert other.replicates["mape"].nunique() == 3  # the replicates differ, too
    assert not np.allclose(other.replicates["mape"],
                           tiny.replicates.query("n == 100")["mape"])


def test_learning_curve_figure_has_four_panels(tiny):
    fig = learning_curve_figure(tiny)
    assert len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert "calibration slope" in titles and "AUROC" in titles


@pytest.mark.parametrize(("target", "quantile", "column", "met", "missed"), [
    (Target(), 0.2, "calibration_slope_q20", 0.95, 0.85),
    (Target("auroc", 0.7, 0.9), 0.1, "auroc_q10", 0.71, 0.69),
    (Target("mape", 0.1, 0.8), 0.8, "mape_q80", 0.09, 0.11),
])
def test_target_quantile_and_direction(target, quantile, column, met, missed):
    assert target.quantile == pytest.approx(quantile)
    assert target.column == column
    assert target.met(met) and not target.met(missed)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sizes": (100, 0)}, "sizes must be whole numbers of at least 20; got 0"),
    ({"sizes": (100, 100)}, "sizes must be distinct"),
    ({"sizes": ()}, "at least one size"),
    ({"replicates": 1}, "replicates must be a whole number >= 2"),
    ({"validation_rows": 10}, "validation_rows must be"),
    ({"workers": 0}, "workers must be"),
    ({"slope_ci_width": 0}, "slope_ci_width must be positive"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PlanSettings(**kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"metric": "brier"}, "target metric must be one of"),
    ({"assurance": 1.0}, "assurance must be in"),
])
def test_bad_target(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Target(**kwargs)


def test_unknown_candidate(params, literature):
    with pytest.raises(ConfigError, match="unknown candidate 'nope'"):
        plan_sample_size(params, literature, "nope", PlanSettings(**TINY, workers=1))


# ------------------------------------------------------------------------------ the CLI
@pytest.mark.slow
def test_cli_writes_the_tables_and_the_plot(tmp_path, tiny):
    resorb = Path(sys.executable).with_name("resorb")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out, plot = tmp_path / "plan", tmp_path / "curve.png"
    proc = subprocess.run([str(resorb), "plan", *TINY_CLI, "--jobs", "1", "--out", str(out),
                           "--plot", str(plot)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "development.csv", "learning_curve.png", "summary.csv", "validation.csv"]
    # the same seed and settings give the same bytes in another process
    for name in ("development", "validation", "summary"):
        assert (out / f"{name}.csv").read_bytes() == \
            getattr(tiny, name).to_csv(index=False).encode(), name
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Riley 2020" in proc.stdout and "Riley 2021" in proc.stdout
    assert not list(tmp_path.glob(".*partial"))
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["criterion"]) == ["calibration_slope_q20", "calibration_slope_mean",
                                          "oe", "slope", "c"]


@pytest.mark.parametrize(("args", "message"), [
    (["--sizes", "100,abc"], "sizes must be whole numbers of at least 20"),
    (["--sizes", "0,100"], "got '0'"),
    (["--validation-sizes", "100,100"], "sizes must be distinct"),
    (["--replicates", "1"], "greater than or equal to 2"),
    (["--candidate", "nope"], "'nope' is not a candidate of params.yaml"),
    (["--preset", "nope"], "nope"),
    (["--target-metric", "auroc"], "give the value auroc must reach"),
    (["--plot", "curve.jpg"], "the learning curve is a PNG image"),
    (["--plot", "missing/curve.png"], "does not exist"),
    (["--out", "missing/plan"], "does not exist"),
    (["--out", "taken.txt"], "is a file"),
    (["--out", "/proc/plan"], "cannot write in /proc"),
    (["--plot", "/proc/curve.png"], "cannot write in /proc"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_cwd, args, message):
    Path("taken.txt").write_text("x")
    before = sorted(p.name for p in tmp_cwd.iterdir())
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_cwd.iterdir()) == before

