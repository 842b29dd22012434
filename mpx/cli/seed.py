"""``mpx seed``: the mock universe's markets and first frame of ticks."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.adapters.sources.mock import MockSource
from mpx.cli.common import settings
from mpx.domain.models import POLYMARKET
from mpx.jobs.contract import Job, run_job
from mpx.jobs.ingest import lock_name
from mpx.jobs.seed import run_seed


def seed(
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the simulated universe (default MPX_MOCK_SEED).")]
    = None,
    reset: Annotated[bool, typer.Option("--reset", help="First empty all market data, signals and job state.")]
    = False,
) -> None:
    """Write the mock universe's markets and the first frame of ticks; later `mpx ingest` passes
    with DATA_SOURCE=mock continue from there. Takes Polymarket's ingest lock (exit 75 while its ingest runs)."""
    s = settings()
    source = MockSource(seed=seed if seed is not None else s.mpx_mock_seed)
    res = run_job(s, Job.seed, lambda ctx: run_seed(ctx, source, reset=reset), lock=lock_name(POLYMARKET))
    typer.echo(f"seeded {res.markets} markets, {res.rows} ticks at {res.ts:%Y-%m-%d %H:%M:%S}"
               f"{' (after reset)' if reset else ''}")
