"""``resorb plan --jobs`` as ``train`` and ``compare`` name it; ``--workers`` still works."""

from __future__ import annotations

import pytest

from tests.leftovers.conftest import run

TINY = ("--sizes", "100", "--validation-sizes", "100", "--replicates", "2",
        "--validation-rows", "500", "--reference-rows", "500", "--seed", "3")


@pytest.mark.slow
def test_the_deprecated_alias_still_runs_with_a_one_line_note(tmp_path):
    # `--jobs 1` itself: tests/test_plan.py::test_cli_writes_the_tables_and_the_plot
    result = run("plan", *TINY, "--workers", "1", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "with 1 worker process\n" in result.stdout
    assert [line for line in result.stderr.splitlines() if "deprecated" in line] == [
        "note: --workers is deprecated, use --jobs (the same number of worker processes)"]
    assert (tmp_path / "out" / "summary.csv").is_file()


def test_both_names_at_once_is_a_usage_error(tmp_path):
    result = run("plan", *TINY, "--jobs", "1", "--workers", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "give --jobs (--workers is its old name), not both" in result.stderr
    assert not list(tmp_path.iterdir())


def test_help_shows_jobs_and_hides_workers(tmp_path):
    result = run("plan", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "--jobs" in result.stdout and "--workers" not in result.stdout
