"""resorb.cohort.fitting and ``resorb cohort fit``: the generator fitted to published targets."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from resorb.cli import app
from resorb.cohort import fidelity, load_cohort_params, make_cohort, with_followup
from resorb.cohort.fitting import FREE, expected_statistic, fit_preset
from resorb.cohort.generator import simulate
from resorb.errors import ConfigError

runner = CliRunner()
FAST = {"n": 2000, "seed": 1}  # komori1998 fits in about a second on this cohort


@pytest.mark.parametrize("preset", ["literature", "komori1998"])
def test_fitting_expectations_match_the_draws(preset):
    """The model-implied values the fitting solves agree with simulated cohorts."""
    params = load_cohort_params(preset)
    cohorts = {}
    for target in params.targets:
        if target.measure not in ("rate", "volume_ratio_change") or target.column == "surgery":
            continue
        h = target.horizon_days
        at = params if h is None else with_followup(params, h)
        if h not in cohorts:
            cohorts[h] = simulate(20_000, 9, at), make_cohort(20_000, 9, params=at)
        sim, frame = cohorts[h]
        expected = expected_statistic(target, sim, frame, at)
        drawn = fidelity.evaluate(target, frame, at)[0]
        assert expected == pytest.approx(drawn, abs=target.tolerance / 2), target.statistic


def test_fit_preset_solves_the_free_parameters_reproducibly():
    values = fit_preset("komori1998", **FAST)
    assert list(values) == list(FREE["komori1998"]["expected"])
    assert values == fit_preset("komori1998", **FAST)  # same seed, same values
    assert 0 < values["volume_change.complete_share.sequestration"] < 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"preset": "nope"}, "unknown cohort preset 'nope'; choose one of: literature, komori1998"),
    ({"preset": "komori1998", "n": 10}, "at least 1,000 to fit a preset .* got 10"),
    ({"preset": "komori1998", "n": 2000, "seed": -1}, "seed must be a non-negative integer"),
])
def test_fit_preset_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fit_preset(**kwargs)


def test_cli_prints_the_fitted_values():
    result = runner.invoke(app, ["cohort", "fit", "--preset", "komori1998",
                                 "--n", str(FAST["n"]), "--seed", str(FAST["seed"])])
    assert result.exit_code == 0, result.output
    expected = [f"{k}: {v:.4g}" for k, v in fit_preset("komori1998", **FAST).items()]
    assert result.output.splitlines() == expected


@pytest.mark.parametrize(("args", "message"), [
    (["--preset", "nope"], "Invalid value for '--preset'"),
    (["--preset", "komori1998", "--n", "10"], "error: the cohort size n must be an integer of "
                                              "at least 1,000"),
    (["--preset", "komori1998", "--n", "2000", "--seed", "-1"],
     "error: the seed must be a non-negative integer"),
    (["--n", "many"], "Invalid value for '--n'"),
])
def test_cli_bad_input_is_a_message_and_exit_2(args, message):
    result = runner.invoke(app, ["cohort", "fit", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_help_names_the_options():
    result = runner.invoke(app, ["cohort", "fit", "--help"])
    assert result.exit_code == 0
    for option in ("--preset", "--n", "--seed", "params.yaml"):
        assert option in result.output
