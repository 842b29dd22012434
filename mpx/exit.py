"""Exit statuses: a published contract (README "Exit codes"), pinned in tests/cli/test_exit_codes.py.

Schedulers rely on them: systemd units declare ``SuccessExitStatus=75`` so that a pass skipped
because another one holds the lock, or because an upstream is briefly unavailable, is not a failure.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """The pass did its work."""
    FAILED = 1
    """The pass failed (a bug, or an error that retrying will not fix)."""
    USAGE = 2
    """Bad command-line arguments."""
    TEMPFAIL = 75
    """Skipped: another run holds the job's lock, or the database/source is unavailable. Retry later."""
    CONFIG = 78
    """Bad configuration: settings, rule files or synonyms. Fix the configuration; retrying won't help."""
