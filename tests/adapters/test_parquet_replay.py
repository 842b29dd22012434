"""The archive's backtest stream: passes as arrays (token numbers, micro-unit tops, row codes), books
built from the levels only when asked for — exact, across row groups and day files, tokens outside
the universe numbered as they come."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mpx.adapters.archive import TICK_SCHEMA, day_file
from mpx.adapters.parquet_replay import ArchiveReader
from mpx.domain.columns import Tops
from mpx.domain.models import Book, Level

T0 = datetime(2026, 11, 1, 23, 59, 30, tzinfo=UTC)  # the passes cross midnight: two day files


def tick(ts: datetime, token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
         last: str | None = None) -> dict[str, object]:
    return {"ts": ts, "token_id": token, "market_id": "m-" + token.split("-")[0], "last_trade": None if last is None
            else D(last), "bid_px": [D(p) for p, _ in bids], "bid_sz": [D(s) for _, s in bids],
            "ask_px": [D(p) for p, _ in asks], "ask_sz": [D(s) for _, s in asks], "book_digest": 0}


def write(archive: Path, day: date, rows: list[dict[str, object]]) -> None:
    path = day_file(archive, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=TICK_SCHEMA), path, row_group_size=2, compression="zstd")


def test_passes_come_as_arrays_and_books_are_read_only_when_asked(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    steps = [T0 + timedelta(seconds=10 * k) for k in range(1, 6)]  # 23:59:40 … 00:00:20
    day1 = [
        tick(T0 + timedelta(seconds=5), "a-yes", [("0.40", "100")], [("0.42", "50"), ("0.45", "7.5")], last="0.41"),
        tick(T0 + timedelta(seconds=8), "a-no", [], [("0.6", "10")]),
        tick(T0 + timedelta(seconds=12), "zz-yes", [("0.10", "1")], [("0.2", "1")]),  # not in the universe
        tick(T0 + timedelta(seconds=15), "a-yes", [("0.41", "3")], [("0.43", "4")]),
        tick(T0 + timedelta(seconds=15), "a-yes", [("0.405", "3")], [("0.43", "4")]),  # twice in one pass
    ]
    day2 = [tick(datetime(2026, 11, 2, 0, 0, 5, tzinfo=UTC), "a-no", [("0.55", "2")], [("0.58", "2")])]
    write(archive, date(2026, 11, 1), day1)
    write(archive, date(2026, 11, 2), day2)
    tops = Tops(["a-yes", "a-no"], [0, 0], ["m-a"])
    reader = ArchiveReader(archive, [date(2026, 11, 1), date(2026, 11, 2)])
    try:
        passes = list(reader.stream(steps, T0, tops))
        assert [ts for ts, _ in passes] == steps
        first, second, third, fourth, fifth = (p for _, p in passes)
        assert first.idx.tolist() == [0, 1] and first.bid.tolist() == [400_000, 0]
        assert first.ask.tolist() == [420_000, 600_000]
        assert second.idx.tolist() == [2, 0, 0] and tops.tokens[2] == "zz-yes"  # numbered as it came
        assert second.bid.tolist() == [100_000, 410_000, 405_000]
        assert len(third.idx) == 0 and len(fifth.idx) == 0
        assert fourth.idx.tolist() == [1] and fourth.ask.tolist() == [580_000]
        assert reader.levels.groups_read == 0  # nothing read yet
        # the asks alone (what a set is priced with: the ask columns of the row group only) ...
        assert reader.levels.asks(int(first.code[0])) == (Level(D("0.42"), D(50)), Level(D("0.45"), D("7.5")))
        # ... and the books, exactly as stored, from the row group (and file) each tick is in
        book = reader.levels.book("a-yes", int(first.code[0]), steps[0])
        assert book == Book("a-yes", (Level(D("0.4"), D(100)),), (Level(D("0.42"), D(50)), Level(D("0.45"), D("7.5"))),
                            steps[0], D("0.41"))
        assert reader.levels.book("a-no", int(first.code[1]), None) == Book("a-no", (), (Level(D("0.6"), D(10)),))
        assert reader.levels.book("a-yes", int(second.code[2]), None).bids == (Level(D("0.405"), D(3)),)
        assert reader.levels.book("a-no", int(fourth.code[0]), None).bids == (Level(D("0.55"), D(2)),)
        assert reader.levels.groups_read >= 3
    finally:
        reader.close()
