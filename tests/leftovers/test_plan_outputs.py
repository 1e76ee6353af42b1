"""``resorb plan`` writes every output through resorb.files: whole, or nothing and no debris."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from resorb.cli import plan as plan_cli
from resorb.cohort import load_cohort_params
from resorb.config import Params
from resorb.files import atomic_folder, atomic_path, partial_files
from resorb.planning import PlanSettings, plan_sample_size

TINY = {"sizes": (100, 200), "validation_sizes": (100, 200), "replicates": 2, "seed": 3,
        "validation_rows": 1000, "reference_rows": 1000, "workers": 1}
NAMES = ["development.csv", "learning_curve.png", "summary.csv", "validation.csv"]


@pytest.fixture(scope="module")
def tiny():
    params = Params.default()
    return plan_sample_size(params, load_cohort_params("literature", params), "logistic",
                            PlanSettings(**TINY))


def _fail_on_third_write(monkeypatch):
    """The third file write raises, as a full disk would, after two files were written."""
    real, calls = plan_cli._write_atomically, []

    def flaky(path, content):
        calls.append(path.name)
        if len(calls) == 3:
            with atomic_path(path) as tmp:
                tmp.write_bytes(content[:10])  # a partial file exists when the failure hits
                raise OSError(28, "No space left on device")
        real(path, content)

    monkeypatch.setattr(plan_cli, "_write_atomically", flaky)
    return calls


@pytest.mark.slow
def test_a_failed_write_leaves_no_new_folder_and_no_partial(tmp_path, tiny, monkeypatch):
    calls = _fail_on_third_write(monkeypatch)
    out = tmp_path / "plan"
    with pytest.raises(OSError, match="No space left"):
        plan_cli.write_outputs(tiny, tmp_path / "c.png", out)
    assert len(calls) == 3
    assert not out.exists()
    assert list(tmp_path.rglob("*partial*")) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_failed_write_into_a_folder_keeps_every_file_whole(tmp_path, tiny, monkeypatch):
    out = tmp_path / "plan"
    out.mkdir()
    for name in NAMES:
        (out / name).write_bytes(b"old")
    calls = _fail_on_third_write(monkeypatch)
    with pytest.raises(OSError):
        plan_cli.write_outputs(tiny, None, out)
    # two files replaced whole, the third left as it was, none half-written
    assert [(out / n).read_bytes() == b"old" for n in calls] == [False, False, True]
    assert (out / calls[0]).read_bytes() == tiny.development.to_csv(index=False).encode()
    assert list(tmp_path.rglob("*partial*")) == []


@pytest.mark.slow
def test_complete_outputs_when_nothing_fails(tmp_path, tiny):
    out = tmp_path / "plan"
    written = plan_cli.write_outputs(tiny, tmp_path / "c.png", out)
    assert sorted(p.name for p in out.iterdir()) == NAMES
    assert len(written) == 5 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert list(tmp_path.rglob("*partial*")) == []


_HOLDER = """
import sys, time
from resorb.files import atomic_folder
with atomic_folder(sys.argv[1]) as staging:
    (staging / "development.csv").write_text("half")
    print(staging, flush=True)
    time.sleep(600)
"""


def _holder(target):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(target)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line, "the holder did not start"
    return proc


@pytest.mark.slow
def test_a_killed_runs_staging_folder_is_removed_by_the_next_write(tmp_path, tiny):
    out = tmp_path / "plan"
    proc = _holder(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    stale = partial_files(out)
    assert len(stale) == 1 and stale[0].is_dir()
    plan_cli.write_outputs(tiny, None, out)
    assert partial_files(out) == [] and not stale[0].exists()
    assert sorted(p.name for p in out.iterdir()) == NAMES


@pytest.mark.slow
def test_a_live_writers_staging_folder_is_left_alone(tmp_path):
    out = tmp_path / "plan"
    proc = _holder(out)
    try:
        with atomic_folder(tmp_path / "other"):
            pass
        with atomic_folder(out) as mine:  # the same target: the live one stays
            assert len(partial_files(out)) == 2 and mine.exists()
        time.sleep(0.1)
        assert len(partial_files(out)) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
