"""``mpx synonyms refresh | list | validate | candidates | confirm | reject``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from mpx.adapters.db import synonyms as db_synonyms
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate
from mpx.domain.synonyms import CandidateKind, Decision, group_sources, load_config, proven_counts, relation_kinds
from mpx.errors import ConfigError
from mpx.jobs.contract import Job, run_job
from mpx.jobs.synonyms import candidate_listing, decide, load_synonyms_config, run_refresh

app = typer.Typer(help="Synonym groups (equivalent questions) and relations between markets (ladders, declared "
                       "implications), from MPX_SYNONYMS_FILE, the market questions and people's verdicts. Only a "
                       "proven group or relation can be arbitrage: listed by market ids in the file, confirmed by a "
                       "person (`mpx synonyms confirm`), or a ladder whose resolution rules match; keyword groups, "
                       "similar text and unproven ladders are candidates (`mpx synonyms candidates`).",
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
    """Rebuild the groups, relations and candidates from the synonyms file, the stored markets and
    people's verdicts now, replacing what is stored (`mpx evaluate` does this on every pass when the
    markets, the file or a verdict changed). Prints the counts (how many proven), and a note for each
    thing in the file or a verdict that could not be used. A scheduled pass (jobs/mpx-synonyms.timer)
    under the job contract: the `synonyms` lock, a job_run row, metrics."""
    s = settings()
    config = load_synonyms_config(s)  # exit 78 before touching the database
    res = run_job(s, Job.synonyms, lambda ctx: run_refresh(ctx, config))
    built = res.built
    assert built is not None
    proven_groups, proven_relations = proven_counts(built.groups, built.relations)
    typer.echo(f"synonyms: {len(built.groups)} group(s){_counts(group_sources(built.groups))}, "
               f"{len(built.relations)} relation(s){_counts(relation_kinds(built.relations))} "
               f"over {res.markets} market(s); proven: {proven_groups} group(s), {proven_relations} relation(s); "
               f"{len(built.candidates)} candidate pair(s)")
    for note in built.notes:
        typer.echo(f"note: {note}", err=True)


def _counts(counts: Mapping[Any, int]) -> str:
    return f" ({', '.join(f'{k} {v}' for k, v in counts.items())})" if counts else ""


@app.command("list")
def list_(
    only: Annotated[Only, typer.Option("--only", help="Show groups, relations or both (csv: one section each, "
                                                      "separated by a blank line).")] = Only.all,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The stored groups (one row per member, with its question) and relations (narrower ⇒ wider:
    YES of the narrower market implies YES of the wider), each proven or not, with its basis (csv,
    json). JSON: {"groups": [...], "relations": [...]}."""
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
        render(groups, fmt, ["group", "source", "proven", "market_id", "question", "status"]
               + ([] if fmt is OutputFormat.table else ["basis"]), empty="(no synonym groups)")
    if only is Only.all:
        typer.echo("")
    if only in (Only.all, Only.relations):
        render(relations, fmt, ["kind", "proven", "narrower", "wider"] + (
            [] if fmt is OutputFormat.table else ["key", "narrower_id", "wider_id", "note", "basis"]),
            empty="(no relations)")


class State(StrEnum):
    all = "all"
    open = "open"
    confirmed = "confirmed"
    rejected = "rejected"
    lapsed = "lapsed"


class RelationChoice(StrEnum):
    equivalent = "equivalent"
    implies = "implies"


IdArg = Annotated[int, typer.Argument(help="The candidate's id (`mpx synonyms candidates`).", min=1)]
NoteOption = Annotated[str, typer.Option("--note", help="Why (kept with the verdict, shown in its basis).")]


@app.command("candidates")
def candidates(
    state: Annotated[State, typer.Option("--state", help="Only candidates in this verdict state.")] = State.all,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """What the matcher proposed but cannot prove, one pair a row, as of the last refresh: its id, both
    questions, end dates and resolution sources side by side, whether their rules read the same, the
    matcher's reason (proposed a ≡ b, or a ⇒ b: YES of a implies YES of b) and the verdict state —
    open, confirmed, rejected, or lapsed (a market's question, end date, resolution source or rules
    changed since the verdict: it counts for nothing and the pair is open again). Read both markets'
    rules, then `mpx synonyms confirm ID` or `mpx synonyms reject ID`."""
    with connect(settings()) as conn:
        rows = candidate_listing(conn)
    if state is not State.all:
        rows = [r for r in rows if r["state"] == state.value]
    if fmt is OutputFormat.table:
        for r in rows:
            r["question_a"], r["question_b"] = truncate(r["question_a"], 50), truncate(r["question_b"], 50)
            r["source_a"], r["source_b"] = truncate(r["source_a"], 24), truncate(r["source_b"], 24)
            r["reason"] = truncate(r["reason"], 70)
            r["end_a"] = r["end_a"].date().isoformat() if r["end_a"] else "-"
            r["end_b"] = r["end_b"].date().isoformat() if r["end_b"] else "-"
        render(rows, fmt, ["id", "state", "proposed", "question_a", "question_b", "end_a", "end_b", "source_a",
                           "source_b", "same_rules", "reason"], empty="(no candidates; `mpx synonyms refresh` "
                                                                      "proposes them)")
        return
    render(rows, fmt, ["id", "state", "proposed", "question_a", "question_b", "end_a", "end_b", "source_a", "source_b",
                       "same_rules", "reason", "still_proposed", "verdict", "by", "at", "note", "lapsed_because",
                       "market_a", "market_b", "first_seen", "last_seen"])


@app.command("confirm")
def confirm(
    candidate_id: IdArg,
    relation: Annotated[RelationChoice | None, typer.Option(
        "--relation", help="equivalent (a ≡ b: one proven group) or implies (YES of a implies YES of b: a proven "
                           "relation); default: what the candidate proposes.")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="With implies: b implies a.")] = False,
    note: NoteOption = "",
) -> None:
    """Confirm a candidate after reading both markets' resolution rules: the pair becomes a proven group
    (equivalent) or a proven relation (implies) at the next `mpx evaluate` or `mpx synonyms refresh`,
    until one of the markets changes its question, end date, resolution source or rules (the verdict
    then lapses). Recorded with who (user@host) and when. Exit 1 for an unknown id."""
    _decide(candidate_id, "confirmed", relation.value if relation else None, reverse, note)


@app.command("reject")
def reject(candidate_id: IdArg, note: NoteOption = "") -> None:
    """Reject a candidate: the pair is never proposed again as a group or a relation (until one of the
    markets changes its question, end date, resolution source or rules). Recorded with who and when.
    Exit 1 for an unknown id."""
    _decide(candidate_id, "rejected", None, False, note)


def _decide(candidate_id: int, decision: Decision, relation: CandidateKind | None, reverse: bool, note: str) -> None:
    with connect(settings()) as conn:
        done = decide(conn, candidate_id, decision, relation=relation, reverse=reverse, note=note)
        conn.commit()
    v, markets = done.verdict, done.markets

    def q(mid: str | None) -> str:
        m = markets.get(mid or "")
        return f"{m.question!r}" if m else f"{mid} (no such market)"

    if v.decision == "rejected":
        what = f"rejected: {q(v.market_a)} and {q(v.market_b)} are not proposed again"
    elif v.relation == "equivalent":
        what = f"confirmed equivalent: {q(v.market_a)} ≡ {q(v.market_b)}"
    else:
        what = f"confirmed: {q(v.narrower)} implies {q(v.wider)}"
    typer.echo(f"candidate {candidate_id} {what} (by {v.actor}); takes effect at the next `mpx evaluate` or "
               "`mpx synonyms refresh`")
