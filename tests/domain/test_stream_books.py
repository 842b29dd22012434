"""The stream's book state (mpx.domain.stream): snapshots, deltas, and when a book needs a new snapshot."""

from __future__ import annotations

from decimal import Decimal as D

from mpx.domain.models import Level
from mpx.domain.stream import BookState, Delta, Verdict


def _book() -> BookState:
    st = BookState("t")
    assert st.apply_snapshot([Level(D("0.40"), D(10)), Level(D("0.39"), D(5))],
                             [Level(D("0.42"), D(7)), Level(D("0.45"), D(1))], ts_ms=1000)
    return st


def test_delta_sets_and_removes_levels_and_checks_the_carried_top() -> None:
    st = _book()
    assert st.apply_delta(Delta("t", "BUY", D("0.41"), D(3), 1001, D("0.41"), D("0.42"))) is Verdict.applied
    assert st.apply_delta(Delta("t", "SELL", D("0.42"), D(0), 1002, D("0.41"), D("0.45"))) is Verdict.applied
    book = st.to_book()
    assert [lv.price for lv in book.bids] == [D("0.41"), D("0.40"), D("0.39")]
    assert [(lv.price, lv.size) for lv in book.asks] == [(D("0.45"), D(1))]


def test_delta_not_newer_than_the_snapshot_is_skipped() -> None:
    st = _book()
    assert st.apply_delta(Delta("t", "BUY", D("0.40"), D(99), 1000)) is Verdict.skipped
    assert st.to_book().bid_size == D(10)


def test_out_of_order_delta_needs_a_snapshot_and_is_replayed_if_newer() -> None:
    st = _book()
    assert st.apply_delta(Delta("t", "BUY", D("0.40"), D(20), 1005)) is Verdict.applied
    late = Delta("t", "BUY", D("0.39"), D(8), 1003)
    v = st.apply_delta(late)
    assert v is Verdict.out_of_order and v.needs_snapshot and st.awaiting
    assert st.apply_delta(Delta("t", "SELL", D("0.42"), D(9), 1006)) is Verdict.buffered
    # the new snapshot reflects the server up to 1004: the buffered 1006 is replayed, the late 1003 is in it
    st.apply_snapshot([Level(D("0.40"), D(10)), Level(D("0.39"), D(8))], [Level(D("0.42"), D(7))], ts_ms=1004)
    assert not st.awaiting
    assert st.to_book().ask_size == D(9) and st.to_book().bids[1].size == D(8)


def test_crossed_and_disagreeing_tops_need_a_snapshot() -> None:
    st = _book()
    assert st.apply_delta(Delta("t", "BUY", D("0.43"), D(1), 1001)) is Verdict.crossed
    st = _book()
    assert st.apply_delta(Delta("t", "BUY", D("0.41"), D(1), 1001, D("0.40"), D("0.42"))) is Verdict.disagrees
    st = _book()  # an empty side is 0 (bids) / 1 (asks) on the wire
    st.apply_delta(Delta("t", "SELL", D("0.45"), D(0), 1001, D("0.40"), D("0.42")))
    assert st.apply_delta(Delta("t", "SELL", D("0.42"), D(0), 1002, D("0.40"), D(1))) is Verdict.applied


def test_delta_before_any_snapshot_asks_for_one_once() -> None:
    st = BookState("t")
    assert st.apply_delta(Delta("t", "BUY", D("0.4"), D(1), 5)) is Verdict.unknown
    assert st.apply_delta(Delta("t", "BUY", D("0.3"), D(1), 6)) is Verdict.buffered
    st.apply_snapshot([], [Level(D("0.5"), D(2))], ts_ms=5)
    assert [lv.price for lv in st.to_book().bids] == [D("0.3")]


def test_older_snapshot_of_a_trusted_book_is_ignored() -> None:
    st = _book()
    st.apply_delta(Delta("t", "BUY", D("0.40"), D(20), 1005))
    assert not st.apply_snapshot([], [], ts_ms=1002)
    assert st.to_book().bid_size == D(20)
