"""``mpx synonyms refresh | list | validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import synonyms as db_synonyms
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate
from mpx.domain.synonyms import load_config
from mpx.errors import ConfigError
from mpx.jobs.synonyms import refresh_synonyms

app = typer.Typer(help="Synonym groups (equivalent questions) and relations between markets (ladders, "
                       "declared implications), from MPX_SYNONYMS_FILE and the market questions.",
                  no_args_is_help=True)


@app.command("validate")
def validate(path: Annotated[Path | None, typer.Argument(help="The file (default MPX_SYNONYMS_FILE).")] = None) -> None:
    """Validate a synonyms file; print every problem as file:line: key: message and exit 78 if any."""
    target = path or settings().mpx_synonyms_file
    if not target.exists():
        raise ConfigError(f"{target}: no such file")
    config = load_config(target)
    m = config.matcher
    typer.echo(f"{target}: valid ({len(config.groups)} group(s), {len(config.relations)} declared relation(s); "
               f"matcher {'on' if m.similar else 'off'}, ladders {'on' if m.ladders else 'off'})")


@app.command("refresh")
def refresh() -> None:
    """Rebuild the groups and relations from the synonyms file and the stored markets now (`mpx
    evaluate` does this on every pass when the markets or the file changed)."""
    s = settings()
    load_config(s.mpx_synonyms_file)
    with connect(s) as conn:
        markets, events = db_markets.load_reference(conn)
        groups, relations = refresh_synonyms(conn, s, markets, events, force=True)
        conn.commit()
    by_source: dict[str, int] = {}
    for g in groups:
        by_source[g.source] = by_source.get(g.source, 0) + 1
    kinds: dict[str, int] = {}
    for r in relations:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    typer.echo(f"synonyms: {len(groups)} group(s) ({', '.join(f'{k} {v}' for k, v in sorted(by_source.items()))}), "
               f"{len(relations)} relation(s) ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) "
               f"over {len(markets)} market(s)")


@app.command("list")
def list_(fmt: FormatOption = OutputFormat.table) -> None:
    """The stored groups (one row per member) and relations (narrower ⇒ wider)."""
    with connect(settings()) as conn:
        groups, relations = db_synonyms.listing(conn)
    if fmt is OutputFormat.json:
        import json

        typer.echo(json.dumps({"groups": groups, "relations": relations}, indent=2, default=str))
        return
    if fmt is OutputFormat.table:
        for r in groups:
            r["question"] = truncate(r["question"], 70)
        for r in relations:
            r["narrower"], r["wider"] = truncate(r["narrower"], 55), truncate(r["wider"], 55)
    render(groups, fmt, ["group", "source", "market_id", "question"], empty="(no synonym groups)")
    typer.echo("")
    render(relations, fmt, ["kind", "narrower", "wider"], empty="(no relations)")
