"""``mpx backtest``: replay stored ticks through a rule; hits, CSV, PnL, sweeps, plot."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from mpx.cli.common import FormatOption, OutputFormat, check_output_path, parse_when, render, settings, truncate
from mpx.domain.backtest import DeployBar, SweepError, parse_sweep
from mpx.errors import MpxError, UsageError
from mpx.jobs.backtest import BacktestResult, Hit, run_backtest, select_rules
from mpx.jobs.contract import Job, run_job

CSV_COLUMNS = ["ts", "market_id", "message", "score", "rule_id", "variant", "level", "class", "edge_bps", "measure",
               "measure_value", "reason", "group_key", "shares", "entry_cost", "exit_value", "pnl", "exit",
               "resolved", "signature"]
"""The documented CSV columns: the original design's four first."""


def _dec(value: str, name: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise UsageError(f"{name} must be a number, not {value!r}") from None


def hit_row(h: Hit) -> dict[str, Any]:
    s = h.signal
    tr = h.trade
    return {"ts": s.ts, "market_id": s.market_id or s.group_key or "", "message": s.message, "score": s.edge_score,
            "rule_id": s.rule_id, "variant": h.variant, "level": s.level, "class": s.finding_class,
            "edge_bps": s.estimated_edge_bps, "measure": None if s.measure is None else s.measure.name,
            "measure_value": None if s.measure is None else s.measure.value,
            "reason": h.reason, "group_key": s.group_key,
            "shares": tr.shares if tr else s.executable_shares,
            "entry_cost": tr.entry if tr else None, "exit_value": tr.exit_value if tr else None,
            "pnl": tr.pnl if tr else None, "exit": tr.exit if tr else None,
            "resolved": tr.resolved if tr else None, "signature": s.signature}


def backtest(
    rule: Annotated[str, typer.Option("--rule", help="A rule id (sum-lt-1) or type (SUM_LT_1: every rule of it).")],
    start: Annotated[str | None, typer.Option("--start", help="Window start: ISO time (UTC) or a duration ago "
                                              "(7d). Default: the first stored tick.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Window end (inclusive), same forms. Default: now.")] = None,
    speed: Annotated[float, typer.Option("--speed", min=0, help="0: as fast as possible; N > 0: sleep Δt/N between "
                                         "passes and print hits as they happen.")] = 0,
    csv_out: Annotated[Path | None, typer.Option("--csv-out", help="Write the hits as CSV (columns: ts, market_id, "
                                                 "message, score, …).")] = None,
    pnl: Annotated[bool, typer.Option("--pnl", help="Simulate PnL. Arbitrage: (payout − cost − fees) × sets, "
                                      "locked in at entry. Indicator: --indicator-shares of its entry token bought "
                                      "at the signal, held to resolution or sold at the window's last best bid. "
                                      "Per-variant verdict.")] = False,
    indicator_shares: Annotated[str, typer.Option("--indicator-shares", help="Shares an indicator hit's position "
                                                  "buys (--pnl).")] = "100",
    sweep: Annotated[list[str] | None, typer.Option("--sweep", help="KEY=V1,V2,… over a params key or levels.P1 "
                                                    "(repeatable: every combination).")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw cumulative PnL (steps) and hits (markers) per "
                                              "variant over the window to this PNG; the title gives the rule, "
                                              "window and verdict (implies --pnl).")] = None,
    min_trades: Annotated[int, typer.Option("--min-trades", min=0, help="DEPLOY bar: at least this many trades.")] = 1,
    min_hit_rate: Annotated[str, typer.Option("--min-hit-rate", help="DEPLOY bar: share of winning trades.")] = "0.5",
    max_drawdown: Annotated[str | None, typer.Option("--max-drawdown", help="DEPLOY bar: largest fall of "
                                                     "cumulative PnL, USDC.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Replay the stored ticks of a window through a rule — the same code `mpx evaluate` runs — and
    list its hits (what evaluate would have signalled). Reads stream in chunks; a window without
    ticks says so and exits 0. With --pnl, per variant: trades, total PnL, hit rate, average and
    worst trade, max drawdown and DEPLOY / NO-DEPLOY."""
    check_output_path(csv_out, "--csv-out")  # before the replay: an unwritable path is exit 2, not a lost run
    check_output_path(plot, "--plot")
    s = settings()
    try:
        sweeps = parse_sweep(sweep or [])
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    bar = DeployBar(min_trades, _dec(min_hit_rate, "--min-hit-rate"), Decimal(0),
                    None if max_drawdown is None else _dec(max_drawdown, "--max-drawdown"))
    shares = _dec(indicator_shares, "--indicator-shares")
    if shares <= 0:
        raise UsageError(f"--indicator-shares must be positive, not {indicator_shares}")
    rules = select_rules(s, rule)
    t_end = parse_when(end, "--end", datetime.now(UTC))
    t_start = parse_when(start, "--start", datetime(1970, 1, 1, tzinfo=UTC))
    assert t_end is not None and t_start is not None
    if t_start >= t_end:
        raise UsageError(f"--start ({t_start:%Y-%m-%d %H:%M:%S}) must be before --end ({t_end:%Y-%m-%d %H:%M:%S})")
    live = speed > 0 and fmt is OutputFormat.table
    progress = _Progress(live)

    def body(ctx: Any) -> BacktestResult:
        try:
            return run_backtest(ctx, rules, t_start, t_end, sweep=sweeps, speed=speed, pnl=pnl or plot is not None,
                                bar=bar, on_hit=progress.hit, on_progress=progress.advance, on_start=progress.start,
                                indicator_shares=shares)
        except SweepError as exc:
            raise UsageError(str(exc)) from None
        finally:
            progress.close()

    res = run_job(s, Job.backtest, body, lock=False)
    if res.note:
        typer.echo(res.note)
        return
    rows = [hit_row(h) for h in res.hits]
    if csv_out is not None:
        import pandas as pd

        with _writing(csv_out, "--csv-out"):
            pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(csv_out, index=False)
    if plot is not None:
        with _writing(plot, "--plot"):
            _plot(res, plot, rule, t_start if start is not None else None, t_end)
    _render(res, rows, fmt, priced=pnl or plot is not None, live=live, csv_out=csv_out)


class _Progress:
    """A progress bar on stderr when it is a terminal; with ``live``, each hit printed as it happens."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.bar: Any = None

    def start(self, total: int) -> None:
        if sys.stderr.isatty():
            self.bar = typer.progressbar(length=total, label="replaying", file=sys.stderr).__enter__()

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def hit(self, h: Hit) -> None:
        if self.live:
            sig = h.signal
            what = (f"{sig.estimated_edge_bps} bps net" if sig.measure is None
                    else f"{sig.measure.name} {sig.measure.value}")
            typer.echo(f"{sig.ts:%Y-%m-%d %H:%M:%S} {sig.level} {sig.finding_class} {sig.rule_id} {what} "
                       f"{truncate(sig.message, 80)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _render(res: BacktestResult, rows: list[dict[str, Any]], fmt: OutputFormat, *, priced: bool, live: bool,
            csv_out: Path | None) -> None:
    if fmt is OutputFormat.table:
        typer.echo(f"backtest: {res.ticks:,} ticks over {res.steps:,} passes, {len(res.hits)} hit(s) "
                   f"(read {res.read_s:.2f} s, rules {res.rules_s:.2f} s)")
        if not live:
            cols = ["ts", "rule_id", "variant", "level", "class", "edge_bps", "measure_value"]
            render([{**r, "message": truncate(r["message"], 70)} for r in rows], fmt,
                   [*cols, "pnl", "exit", "message"] if priced else [*cols, "message"], empty="(no hits)")
        if res.summaries:
            typer.echo("")
            render([x.as_row() for x in res.summaries], fmt)
        if csv_out is not None:
            typer.echo(f"wrote {len(rows)} hit(s) to {csv_out}")
    elif res.summaries:
        render([x.as_row() for x in res.summaries], fmt)
    else:
        render(rows, fmt, CSV_COLUMNS)


@contextmanager
def _writing(path: Path, option: str) -> Iterator[None]:
    """An output that fails after all (disk full, the directory removed meanwhile): one line naming it."""
    try:
        yield
    except OSError as exc:
        raise MpxError(f"{option} {path}: could not write: {exc.strerror or exc}") from exc


def plot_figure(res: BacktestResult, rule: str, start: datetime | None, end: datetime) -> Any:
    """The ``--plot`` figure (a matplotlib Figure, no pyplot state): cumulative PnL per variant as
    steps over the window, every hit as a marker on its variant's row, the x-axis exactly the window
    (``start`` None — no --start — begins at the first hit), the title naming the rule, the window and
    the verdict."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    hit_times = sorted(h.ts for h in res.hits)
    lo = start or (hit_times[0] if hit_times else end - timedelta(hours=1))
    fig = Figure(figsize=(10, 6), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    labels = [s.variant or "rule as written" for s in res.summaries]
    for row, (summary, label) in enumerate(zip(res.summaries, labels, strict=True)):
        by_instant: dict[datetime, Decimal] = {}  # trades of one pass land together: one step
        for h in res.hits:
            if h.variant == summary.variant and h.trade:
                by_instant[h.ts] = by_instant.get(h.ts, Decimal(0)) + h.trade.pnl
        cum, xs, ys = Decimal(0), [lo], [0.0]
        for ts, p in sorted(by_instant.items()):
            cum += p
            xs.append(ts)
            ys.append(float(cum))
        xs.append(end)
        ys.append(float(cum))
        line = ax1.plot(xs, ys, drawstyle="steps-post", label=f"{label}: {summary.verdict} ({cum:+} USDC)")[0]
        hits = [h.ts for h in res.hits if h.variant == summary.variant]
        ax2.plot(hits, [row] * len(hits), linestyle="none", marker="o", markersize=6, alpha=0.6,
                 color=line.get_color())
        for ts, n in sorted({t: hits.count(t) for t in hits}.items()):
            if n > 1:  # hits at one instant: one marker, and how many
                ax2.annotate(f"×{n}", (mdates.date2num(ts), row),  # type: ignore[no-untyped-call]
                             textcoords="offset points", xytext=(5, 5),
                             fontsize="small")
    ax1.axhline(0, color="grey", linewidth=0.5)
    ax1.set_ylabel("cumulative PnL (USDC)")
    if labels:
        ax1.legend(loc="best", fontsize="small")
    ax2.set_yticks(range(len(labels)), labels=labels, fontsize="small")
    ax2.set_ylim(-0.5, max(len(labels), 1) - 0.5)
    ax2.set_ylabel("hits")
    ax2.set_xlabel("time (UTC)")
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax2.xaxis.set_major_locator(locator)
    ax2.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    ax1.set_xlim(lo, end)  # shared: both axes show exactly the window, whatever the hits span
    verdicts = [s.verdict for s in res.summaries]
    deploy = sum(v == "DEPLOY" for v in verdicts)
    verdict = (verdicts[0] if len(verdicts) == 1 else
               f"DEPLOY ({deploy} of {len(verdicts)} variants)" if deploy else "NO-DEPLOY")
    fig.suptitle(f"{rule} · {lo:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC · {verdict}")
    return fig


def _plot(res: BacktestResult, path: Path, rule: str, start: datetime | None, end: datetime) -> None:
    plot_figure(res, rule, start, end).savefig(path, dpi=100, format="png")
