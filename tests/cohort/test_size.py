"""A cohort too large for memory is refused up front, with the memory it would need."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from resorb.cli import app
from resorb.cohort.size import PEAK_FACTOR, available_memory, check_fits, peak_bytes_per_row
from resorb.errors import InputError


@pytest.mark.parametrize(("n", "per_row", "available", "refused"), [
    (1_000, 900.0, 10**9, False),
    (1_111_111, 900.0, 10**9, False),  # 0.99999999 GB
    (1_111_112, 900.0, 10**9, True),
    (10**12, 900.0, 64 * 10**9, True),
])
def test_check_fits(n, per_row, available, refused):
    if not refused:
        check_fits(n, per_row, available)
        return
    with pytest.raises(InputError) as info:
        check_fits(n, per_row, available)
    text = str(info.value)
    assert f"--n {n:,}" in text and "--engine spark" in text and "smaller --n" in text
    assert f"at most about {int(available // per_row):,}" in text


def test_the_message_gives_the_memory_in_words():
    with pytest.raises(InputError, match=r"about 900\.0 TB of memory .* but 16\.0 GB is"):
        check_fits(10**12, 900.0, 16 * 10**9)


def test_available_memory_is_positive_here():
    assert available_memory() > 0


def test_peak_bytes_per_row_scales_a_measured_sample():
    import pandas as pd

    per_row = peak_bytes_per_row(lambda n: pd.DataFrame({"x": [1.0] * n, "y": [2] * n}))
    assert per_row == pytest.approx(16 * PEAK_FACTOR, rel=0.01)


def test_cohort_generate_refuses_a_trillion_rows_before_drawing(tmp_path):
    out = tmp_path / "c.csv"
    result = CliRunner().invoke(app, ["cohort", "generate", "--out", str(out),
                                      "--n", str(10**12)])
    assert result.exit_code == 2, result.output
    assert "--n 1,000,000,000,000" in result.output and "of memory" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []
