"""The runbook's commands work as written: every `mpx …` line in its ```sh blocks runs against a
seeded database (with Telegram dry-run) and exits 0, 1 (health degraded) or 75 — never 2 (bad
arguments) or 78 (configuration)."""

from __future__ import annotations

import re
import shlex

from conftest import REPO, TestDb
from helpers import invoke_mpx as run_mpx

RUNBOOK = REPO / "docs" / "runbook.md"


def runbook_commands() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), flags=re.S)
    return [shlex.split(line)[1:] for block in blocks for line in block.splitlines() if line.startswith("mpx ")]


def test_every_runbook_command_runs(db: TestDb) -> None:
    commands = runbook_commands()
    assert len(commands) >= 12
    assert run_mpx("seed").code == 0 and run_mpx("run").code == 0
    for args in commands:
        res = run_mpx(*args)
        assert res.code in (0, 1, 75), (args, res.code, res.stderr)
        if args[0] != "health":
            assert res.code != 1 or "internal error" not in res.stderr, (args, res.stderr)
    # and the ones that should simply succeed here do
    for args in (["health"], ["runs", "--limit", "10"], ["alerts", "test", "--text", "mpx runbook check"]):
        assert run_mpx(*args).code == 0, args
