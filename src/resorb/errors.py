"""Domain exceptions, raised deep and turned into messages and exit codes only in the CLI."""

from __future__ import annotations


class ResorbError(Exception):
    """Base for every user-facing error: the CLI prints it in one line and exits 2."""

    exit_code = 2


class ConfigError(ResorbError):
    """params.yaml or a mapping file is missing, malformed or breaks a constraint."""


class InvalidParameterError(ResorbError, ValueError, TypeError):
    """An argument or estimator parameter breaks its declared constraint (resorb.arguments).

    Also a ValueError and a TypeError, like scikit-learn's error of the same name, so that
    callers catching either keep working.
    """


class InputError(ResorbError):
    """An input file cannot be read or has the wrong shape (empty, wrong extension...)."""


class DataValidationError(ResorbError):
    """A frame breaks the data dictionary; carries the full report of problems."""

    def __init__(self, report: object) -> None:
        self.report = report
        super().__init__(str(report))


class LeakageError(ResorbError):
    """A pipeline would use an identifier, red flag, outcome or synthetic truth as a feature."""


class TrainingError(ResorbError):
    """The data cannot support the requested training (one class, too few rows...)."""


class ModelNotFoundError(ResorbError):
    """A model URI or path names no model."""


class ModelCardError(ModelNotFoundError):
    """A model's ``resorb.json`` is missing, malformed, or does not match its model file.

    Carries the file (``path``) and the offending keys (``missing``, ``unknown``).
    """

    def __init__(self, message: str, path: str = "", missing: tuple[str, ...] = (),
                 unknown: tuple[str, ...] = ()) -> None:
        self.path = path
        self.missing = missing
        self.unknown = unknown
        super().__init__(message)


class TrackingAccessError(ResorbError):
    """The tracking server refused the request (HTTP 401/403): no or wrong credentials."""


class ModelIntegrityError(ModelCardError):
    """A model folder holds what resorb did not write: a changed ``MLmodel`` loader, a code
    file, an environment file or a model file that is not a skops file of trusted types.

    Carries the offending file (``path``).
    """
