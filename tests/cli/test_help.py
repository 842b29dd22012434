"""Docs that cannot go stale: every command has help text and appears in the README."""

from __future__ import annotations

from pathlib import Path

import typer.main

from mpx.cli import app

from helpers import run_mpx

REPO = Path(__file__).resolve().parents[2]


def _commands() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    out = []

    def walk(cmd: object, path: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}".strip())
        else:
            out.append((path, cmd))

    walk(root, "")
    return out


def test_there_are_commands() -> None:
    names = {n for n, _ in _commands()}
    assert {"ingest", "evaluate", "seed", "signals", "db up", "db status", "markets show"} <= names


def test_every_command_has_help_text() -> None:
    for name, cmd in _commands():
        assert (getattr(cmd, "help", None) or "").strip(), f"`mpx {name}` has no help text"


def test_every_command_appears_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for name, _ in _commands():
        assert f"mpx {name}" in readme, f"`mpx {name}` is not documented in README.md"


def test_help_runs_and_lists_exit_codes() -> None:
    res = run_mpx("--help")
    assert res.code == 0
    assert "75" in res.stdout and "78" in res.stdout
    sub = run_mpx("ingest", "--help")
    assert sub.code == 0 and "changed" in sub.stdout
