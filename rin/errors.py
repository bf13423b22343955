"""Errors that the CLI prints as one line (no traceback): bad config, data or checkpoint."""


class RinError(Exception):
    """Base class of the errors a user can fix; the message is a single, actionable line."""


class ConfigError(RinError, ValueError):
    """A configuration value is invalid; the message is one line that names the field."""


class DataError(RinError):
    """A data set path is missing, empty or unreadable."""


class CheckpointError(RinError):
    """A checkpoint is missing, incomplete, corrupt, foreign or does not match the model."""


class TrainingError(RinError):
    """Training cannot go on (e.g. non-finite steps in a row); the last checkpoint is intact."""


class EvaluationError(RinError):
    """Evaluation inputs (extractor weights, reference statistics) are missing, foreign or do not match."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type name if the message is empty), for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
