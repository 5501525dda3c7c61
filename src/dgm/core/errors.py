"""Errors a user can cause. The CLI prints their message on one line and exits with code 2.

Each message says what was expected and what came, e.g.
``unknown model 'vea'; expected one of: gan, pixelcnn, vae``.
"""


class DgmError(Exception):
    """Base class of every error a user can cause (bad name, value, file or run folder)."""


class UnknownNameError(DgmError):
    """A model, data set or option name that is not in its table."""


class ConfigError(DgmError):
    """A configuration key or value that the model's Config dataclass does not accept."""


class DataError(DgmError):
    """Data that is missing, of the wrong kind for a model, or malformed."""


class CheckpointError(DgmError):
    """A checkpoint or run folder that is missing, incomplete or corrupt."""


class RunFolderError(DgmError):
    """An output folder that already holds something we must not overwrite."""


class NonFiniteLossError(DgmError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""
