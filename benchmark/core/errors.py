"""Errors a user can act on: each carries the fix, and the CLI prints it without a traceback."""

from __future__ import annotations


class BenchError(Exception):
    """A problem the user can fix; `hint` says how."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class UnknownNameError(BenchError):
    """A model, dataset or metric name that is not registered."""


class RegistryError(BenchError):
    """Two targets claim one registered name, or a name loads something that is not of its registry's kind."""


class DatasetNotPreparedError(BenchError):
    """The protocol's prepared data is not on disk."""


class ClipError(Exception):
    """One clip cannot be generated or scored; the run records it and moves on."""

    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage
        self.message = message


class MetricNotApplicable(ClipError):
    """A metric has nothing to score on this clip (e.g. no phone labels for the bilabial check): "n/a", not a failure."""

    def __init__(self, message: str):
        super().__init__("metric", message)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during work that can say what it kept and how to go on: the CLI prints the
    message and exits 130 (a bare KeyboardInterrupt only gets a generic line)."""
