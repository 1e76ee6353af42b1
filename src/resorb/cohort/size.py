"""Whether a cohort of ``n`` rows fits in memory, checked before any row is drawn.

``cohort generate`` builds the whole cohort in memory, then writes it. Asked for 10^12 rows
it used to fail deep in numpy (``ArrayMemoryError``) after a long wait; :func:`check_fits`
refuses up front, saying how much memory the size would need.

The need is estimated from a small cohort drawn with the same parameters: its bytes per row
(``DataFrame.memory_usage(deep=True)``) times :data:`PEAK_FACTOR`. Measured with
``tracemalloc`` on the literature preset (36 columns): the frame holds ~301 bytes per row and
generation peaks at ~450 bytes per row (x1.5, n = 20,000 and 100,000); writing adds a copy of
the frame (Arrow table), hence x3 with a margin.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from resorb.errors import InputError

#: peak memory of generating and writing a cohort, as a multiple of the finished frame's size
PEAK_FACTOR = 3.0
#: sizes below this are not checked (a few hundred MB at most)
CHECK_FROM = 200_000
_SAMPLE = 2_000


def available_memory() -> int | None:
    """Bytes of memory this process may still use: the smaller of the machine's available
    memory (``MemAvailable``) and the control group's limit; None when neither is known."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            limits.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    if not limits and hasattr(os, "sysconf"):
        with contextlib.suppress(ValueError, OSError):
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    return min(limits) if limits else None


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:,.0f} {unit}" if unit == "B" else f"{n_bytes:,.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError  # pragma: no cover


def check_fits(n: int, bytes_per_row: float, available: int | None = None, *,
               option: str = "--n",
               instead: str = "--engine spark, which generates it in partitions") -> None:
    """Refuse a cohort whose estimated peak memory exceeds what is available.

    Parameters
    ----------
    n : int
        Rows asked for (``--n``).
    bytes_per_row : float
        Peak bytes per row (a finished frame's bytes per row times :data:`PEAK_FACTOR`).
    available : int, optional
        Bytes available (default :func:`available_memory`; unknown: no check).
    option : str
        The option that asked for ``n`` rows, for the message (``--synthetic`` for training).
    instead : str
        The alternative to a smaller size the message offers.

    Raises
    ------
    InputError
        The estimate exceeds the available memory; the message gives both, the largest
        ``--n`` that fits, and the alternatives (a smaller ``--n``, or ``--engine spark``,
        which generates the cohort partition by partition).
    """
    available = available_memory() if available is None else available
    need = n * bytes_per_row
    if available is None or need <= available:
        return
    fits = int(available // bytes_per_row)
    raise InputError(
        f"{option} {n:,}: a cohort of {n:,} rows would need about {_size(need)} of memory "
        f"(~{bytes_per_row:,.0f} bytes per row while generating and writing), but "
        f"{_size(available)} is available; use a smaller {option} (at most about {fits:,} "
        f"here) or {instead}")


def peak_bytes_per_row(make_sample) -> float:
    """Peak bytes per row, from a small cohort ``make_sample(n)`` (a DataFrame) measured."""
    sample = make_sample(_SAMPLE)
    return float(sample.memory_usage(deep=True).sum()) / max(len(sample), 1) * PEAK_FACTOR
