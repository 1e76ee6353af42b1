"""resorb: predict spontaneous resorption of lumbar disc herniation under conservative care."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("resorb")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
