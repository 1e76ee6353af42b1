"""``resorb report`` on two processes: the same page, the model's errors, nothing left over.

Real subprocesses of the command in the session's tracking store (``tests/store.py``): the
command forks the worker that loads and explains the model (``resorb.report.worker``) while
it reads the store; the page must be the one the single-process path writes.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from resorb.cohort import make_cohort
from tests.report.command import report_command

#: time stamps to the minute (when the report was generated, when the run started)
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
_command = report_command


@pytest.mark.slow
def test_the_forked_report_is_the_single_process_report(relog, tmp_path):
    from resorb.config import Params
    from resorb.report import make_report

    out = tmp_path / "forked.html"
    probe = ("import json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
             "& {'sklearn', 'matplotlib', 'skops', 'mlflow'})))")
    ran = _command(relog.folder, ["--out", str(out)], probe)
    assert ran.returncode == 0, ran.stderr
    # the command's own process read the store; the model was loaded and drawn elsewhere
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == ["mlflow"]
    alone = make_report(Params.resolve(), out=tmp_path / "alone.html", log=False)
    forked_text, alone_text = out.read_text(encoding="utf-8"), alone.path.read_text("utf-8")
    assert "Generated " in forked_text and _STAMP.search(forked_text)
    assert _STAMP.sub("STAMP", forked_text) == _STAMP.sub("STAMP", alone_text)


@pytest.mark.slow
def test_an_error_in_the_worker_is_the_commands_one_line_error(relog, tmp_path):
    bad = make_cohort(n=60, seed=3)
    bad.loc[bad.index[4], "age"] = 300  # outside the data dictionary's 18-100 years
    path = tmp_path / "clinic.csv"
    bad.to_csv(path, index=False)
    out = tmp_path / "report.html"
    ran = _command(relog.folder, ["--out", str(out), "--data", str(path)])
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.startswith("error: ") and "age" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not out.exists()
    assert not [p for p in Path(tempfile.gettempdir()).glob("resorb-report-*")
                if p.stat().st_mtime >= path.stat().st_mtime]  # the model download is removed


def test_worker_errors_reach_the_command_with_their_class_and_text():
    import pickle
    import threading

    from resorb.errors import InputError, ModelCardError, ResorbError
    from resorb.report.worker import _portable

    card = ModelCardError("resorb.json: key 'seed' missing", path="x/resorb.json",
                          missing=("seed",))
    back = pickle.loads(pickle.dumps(_portable(card)))
    assert type(back) is ModelCardError and str(back) == str(card)
    assert back.path == "x/resorb.json" and back.missing == ("seed",)
    held = InputError("clinic.csv: cannot read")
    held.lock = threading.Lock()  # cannot be pickled
    sent = _portable(held)
    assert type(sent) is ResorbError and str(sent) == "clinic.csv: cannot read"
    assert sent.exit_code == 2
    bug = ValueError("boom")
    bug.lock = threading.Lock()
    assert isinstance(_portable(bug), RuntimeError) and "ValueError: boom" in str(_portable(bug))
