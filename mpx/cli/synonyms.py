"""``mpx synonyms refresh | list | validate``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import synonyms as db_synonyms
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate
from mpx.domain.synonyms import group_sources, load_config, relation_kinds
from mpx.errors import ConfigError
from mpx.jobs.synonyms import load_synonyms_config, rebuild

app = typer.Typer(help="Synonym groups (equivalent questions) and relations between markets (ladders, "
                       "declared implications), from MPX_SYNONYMS_FILE and the market questions.",
                  no_args_is_help=True)


class Only(StrEnum):
    all = "all"
    groups = "groups"
    relations = "relations"


@app.command("validate")
def validate(path: Annotated[Path | None, typer.Argument(help="The file (default MPX_SYNONYMS_FILE).")] = None) -> None:
    """Validate a synonyms file; print every problem as file:line: key.path: message and exit 78 if any."""
    target = path or settings().mpx_synonyms_file
    if not target.exists():
        raise ConfigError(f"{target}: no such file", hint="the default is ./synonyms.yml (MPX_SYNONYMS_FILE)")
    config = load_config(target)
    m = config.matcher
    typer.echo(f"{target}: valid ({len(config.groups)} group(s), {len(config.relations)} declared relation(s); "
               f"similarity matcher {'on' if m.similar else 'off'}, ladders {'on' if m.ladders else 'off'})")


@app.command("refresh")
def refresh() -> None:
    """Rebuild the groups and relations from the synonyms file and the stored markets now, replacing
    what is stored (`mpx evaluate` does this on every pass when the markets or the file changed).
    Prints the counts, and a note for each thing in the file that could not be used."""
    s = settings()
    config = load_synonyms_config(s)  # exit 78 before touching the database
    with connect(s) as conn:
        markets, events = db_markets.load_reference(conn)
        built = rebuild(conn, s, markets, events, config)
        conn.commit()
    typer.echo(f"synonyms: {len(built.groups)} group(s){_counts(group_sources(built.groups))}, "
               f"{len(built.relations)} relation(s){_counts(relation_kinds(built.relations))} "
               f"over {len(markets)} market(s)")
    for note in built.notes:
        typer.echo(f"note: {note}", err=True)


def _counts(counts: Mapping[str, int]) -> str:
    return f" ({', '.join(f'{k} {v}' for k, v in counts.items())})" if counts else ""


@app.command("list")
def list_(
    only: Annotated[Only, typer.Option("--only", help="Show groups, relations or both (csv: one section each, "
                                                      "separated by a blank line).")] = Only.all,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The stored groups (one row per member, with its question) and relations (narrower ⇒ wider:
    YES of the narrower market implies YES of the wider). JSON: {"groups": [...], "relations": [...]}."""
    with connect(settings()) as conn:
        groups, relations = db_synonyms.listing(conn)
    if fmt is OutputFormat.json:
        out = {k: v for k, v in (("groups", groups), ("relations", relations)) if only in (Only.all, k)}
        typer.echo(json.dumps(out, indent=2, default=str, ensure_ascii=False))
        return
    if fmt is OutputFormat.table:
        for r in groups:
            r["question"] = truncate(r["question"], 70)
        for r in relations:
            r["narrower"], r["wider"] = truncate(r["narrower"], 55), truncate(r["wider"], 55)
    if only in (Only.all, Only.groups):
        render(groups, fmt, ["group", "source", "market_id", "question", "status"], empty="(no synonym groups)")
    if only is Only.all:
        typer.echo("")
    if only in (Only.all, Only.relations):
        render(relations, fmt, ["kind", "narrower", "wider"] + ([] if fmt is OutputFormat.table else
                                                                ["key", "narrower_id", "wider_id", "note"]),
               empty="(no relations)")
