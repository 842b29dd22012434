"""``mpx rules list | validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mpx.cli.common import FormatOption, OutputFormat, render, settings
from mpx.domain.rules.dsl import load_rules

app = typer.Typer(help="List and validate rule files.", no_args_is_help=True)


@app.command("validate")
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Rule files or directories (default MPX_RULES_DIR).")]
    = None,
) -> None:
    """Validate rule files; print every problem as file:line: key: message and exit 78 if any."""
    targets = paths or [settings().mpx_rules_dir]
    rules = load_rules(targets)
    typer.echo(f"{len(rules)} rule(s) valid in {', '.join(str(p) for p in targets)}")


@app.command("list")
def list_(fmt: FormatOption = OutputFormat.table) -> None:
    """List the rules in MPX_RULES_DIR with their type, levels and cooldown."""
    rules = load_rules([settings().mpx_rules_dir])
    render([{"id": r.id, "type": r.type, "enabled": r.enabled,
             "levels": " ".join(f"{k}≥{v}" for k, v in r.levels.items()),
             "cooldown": str(r.cooldown), "source": r.source} for r in rules], fmt)
