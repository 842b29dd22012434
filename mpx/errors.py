"""Domain exceptions. Core code raises these; the CLI maps each to one line, a hint and an exit code."""

from __future__ import annotations

from mpx.exit import ExitCode


class MpxError(Exception):
    """Base class: a failure we can explain in one line."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(MpxError):
    """Invalid configuration. ``problems`` lists every problem found, not just the first."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, problems: list[str] | None = None, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "\n" + "\n".join(f"  {p}" for p in self.problems)


class UsageError(MpxError):
    """A command-line argument that parsed but makes no sense (e.g. ``--since banana``)."""

    exit_code = ExitCode.USAGE


class TempFailError(MpxError):
    """Retry later: nothing is wrong with the configuration or the code."""

    exit_code = ExitCode.TEMPFAIL


class BusyError(TempFailError):
    """Another run of the same job holds its advisory lock."""


class UnavailableError(TempFailError):
    """The database or the data source cannot be reached right now."""


class NotFoundError(MpxError):
    """A named object (market, signal, …) does not exist."""


class SetupError(MpxError):
    """The machine lacks something (PostgreSQL binaries, permissions); the hint says how to fix it."""


class DataError(MpxError):
    """A source sent data that cannot be stored as it stands (e.g. an id another venue owns)."""
