"""`mpx backtest --plot`: the x-axis is the requested window, PnL is drawn as steps per variant, hits
as markers, and the title names the rule, the window and the verdict (README "Backtests and KPIs")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.dates import num2date

from mpx.cli.backtest import _plot, plot_figure
from mpx.domain.backtest import Summary
from mpx.jobs.backtest import BacktestResult, Hit

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
INSTANT = START + timedelta(minutes=20, seconds=10)


def _result() -> BacktestResult:
    """Three hits of one variant at one instant (one pass), two of them traded at a profit, one at a loss."""
    hits = [Hit(INSTANT, "", SimpleNamespace(), "opened", SimpleNamespace(pnl=Decimal(p)))  # type: ignore[arg-type]
            for p in ("5.00", "3.00", "-1.00")]
    summary = Summary("", 3, 3, Decimal(7), Decimal("0.6667"), Decimal("2.33333"), Decimal(-1), Decimal(1),
                      "DEPLOY", "")
    return BacktestResult(hits=hits, summaries=[summary])


def _xlim(ax: Any) -> tuple[datetime, datetime]:
    lo, hi = ax.get_xlim()
    return num2date(lo, tz=UTC), num2date(hi, tz=UTC)


def test_a_one_hour_window_whose_hits_share_one_instant_is_drawn_over_exactly_that_hour(tmp_path: Path) -> None:
    fig = plot_figure(_result(), "sum-lt-1", START, END)
    pnl, hits = fig.axes[:2]
    for ax in (pnl, hits):  # not 2025 to 2029: the window, to the microsecond
        lo, hi = _xlim(ax)
        assert abs(lo - START) < timedelta(milliseconds=1) and abs(hi - END) < timedelta(milliseconds=1)
    [line] = pnl.get_lines()[:1]
    assert line.get_drawstyle() == "steps-post"
    assert list(line.get_ydata()) == [0.0, 7.0, 7.0]  # 0 from the start, one step of +7 (one pass), to the end
    [markers] = hits.get_lines()
    assert markers.get_linestyle() == "None" and markers.get_marker() == "o"  # markers, not a vertical line
    assert any(t.get_text() == "×3" for t in hits.texts)
    title = fig.get_suptitle()
    assert "sum-lt-1" in title and "2026-11-25 10:00 → 2026-11-25 11:00 UTC" in title and "DEPLOY" in title
    png = tmp_path / "pnl.png"
    _plot(_result(), png, "sum-lt-1", START, END)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_title_gives_the_verdict_over_variants_and_no_start_begins_at_the_first_hit() -> None:
    res = _result()
    res.summaries.append(Summary("size=50", 0, 0, Decimal(0), None, None, None, Decimal(0), "NO-DEPLOY", "0 trades"))
    fig = plot_figure(res, "SUM_LT_1", None, END)
    assert "DEPLOY (1 of 2 variants)" in fig.get_suptitle()
    lo, hi = _xlim(fig.axes[0])
    assert abs(lo - INSTANT) < timedelta(milliseconds=1) and abs(hi - END) < timedelta(milliseconds=1)
    res.summaries[0] = Summary("", 3, 3, Decimal(-7), Decimal(0), Decimal(0), Decimal(-1), Decimal(7), "NO-DEPLOY", "")
    assert plot_figure(res, "SUM_LT_1", START, END).get_suptitle().endswith("· NO-DEPLOY")
