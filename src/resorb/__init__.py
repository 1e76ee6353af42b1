"""resorb: predict spontaneous resorption of lumbar disc herniation under conservative care."""

import os

# One BLAS/OpenMP thread unless the user says otherwise. Measured on the project's 2-core
# machines: HistGradientBoosting fitted 15x slower and the logistic model 8x slower with two
# spin-waiting OpenMP/BLAS threads competing with the main thread. Parallelism, where it
# pays, comes from running folds or chunks side by side. Must run before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``resorb.__version__``, read from the installed metadata on first use.

    Lazy because importing :mod:`importlib.metadata` (email, zipfile, csv parsing) was
    0.12-0.17 s of the 0.42-0.46 s that ``import resorb.cli`` took in ``python -X importtime``
    on the shared 2-core machine (docs/scoring.md "Start-up").
    """
    if name != "__version__":
        raise AttributeError(f"module 'resorb' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("resorb")
    except PackageNotFoundError:  # running from a source tree without installation
        value = "0.0.0+unknown"
    globals()["__version__"] = value
    return value
