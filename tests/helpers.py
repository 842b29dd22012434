"""Helpers for tests that run the real `mpx` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_mpx(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
    """Run the real `mpx` console script in a subprocess with the test's environment."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "mpx", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def spawn_mpx(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "mpx", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env)


def invoke_mpx(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run the real command line in this process (typer's CliRunner isolation around ``mpx.cli.main``,
    so the error boundary and its exit codes are the real ones): faster than a subprocess."""
    import logging

    from typer.testing import CliRunner

    from mpx.cli import main

    with CliRunner().isolation(env=env) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            for handler in list(logging.getLogger().handlers):  # bound to the isolated stderr
                logging.getLogger().removeHandler(handler)
        sys.stdout.flush()
        sys.stderr.flush()
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())
