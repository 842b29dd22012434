"""``mpx config show``: the effective settings, secrets redacted."""

from __future__ import annotations

import typer

from mpx.cli.common import FormatOption, OutputFormat, render_mapping, settings

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show(fmt: FormatOption = OutputFormat.table) -> None:
    """Print the effective settings (environment, then .env, then defaults) with secrets redacted."""
    render_mapping(settings().redacted().items(), fmt)
