"""Every recorded Kalshi response parses, with hand-checked values: the dollar/fp shape (2026), the
legacy cents shape (2025), both book shapes side by side, one-sided books, nested events, settled
events with results, combo markets skipped, fees per series rounded up to the cent."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from mpx.adapters.sources.kalshi.parse import fee_schedule, parse_events, parse_market, parse_orderbook, parse_time
from mpx.adapters.sources.polymarket.parse import ParseReport
from mpx.domain.models import Level
from mpx.domain.money import taker_fee

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "kalshi"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


NFL_FEE = fee_schedule(load("series_KXNFLGAME_2026-09-16.json")["series"])


def test_series_fee_is_seven_cents_times_the_multiplier_rounded_up_to_the_cent() -> None:
    assert NFL_FEE.rate == D("0.07") and NFL_FEE.round_up and NFL_FEE.quantum == D("0.01")
    assert NFL_FEE.fee_type == "quadratic_with_maker_fees"
    assert taker_fee(D(10), D("0.50"), NFL_FEE) == D("0.18")  # 0.07 × 10 × 0.25 = 0.175 → up
    assert taker_fee(D(100), D("0.45"), NFL_FEE) == D("1.74")  # 1.7325 → up
    assert taker_fee(D(100), D("0.50"), NFL_FEE) == D("1.75")  # exact: unchanged
    for s in load("series_list_sports_first3_2026-10-06.json")["series"]:
        assert fee_schedule(s).rate == D("0.07"), s["ticker"]  # quadratic, multiplier 1
    half = fee_schedule({"fee_type": "quadratic", "fee_multiplier": D("0.5")})
    assert half.rate == D("0.035") and taker_fee(D(10), D("0.50"), half) == D("0.09")  # 0.0875 → up
    flat = fee_schedule({"fee_type": "flat", "fee_multiplier": 1})
    assert flat.enabled and flat.rate is None  # a fee table the API does not publish: unknown, never P1
    assert fee_schedule({"fee_type": "quadratic", "fee_multiplier": 1},
                        {"fee_type_override": "quadratic", "fee_multiplier_override": 2}).rate == D("0.14")


def test_the_recorded_nfl_markets_parse_as_binary_markets_with_ticker_tokens() -> None:
    report = ParseReport()
    event = {"event_ticker": "KXNFLGAME-26SEP17DETBUF", "series_ticker": "KXNFLGAME", "category": "Sports",
             "settlement_sources": [{"name": "the Governing League", "url": "https://www.nfl.com/"}]}
    det, buf = (parse_market(m, event, NFL_FEE, report)
                for m in load("markets_KXNFLGAME-26SEP17DETBUF_2026-09-16.json")["markets"])
    assert det is not None and buf is not None
    assert det.id == "KXNFLGAME-26SEP17DETBUF-DET" and det.question == "Detroit wins" and det.venue == "kalshi"
    assert [o.token_id for o in det.outcomes] == ["KXNFLGAME-26SEP17DETBUF-DET:yes", "KXNFLGAME-26SEP17DETBUF-DET:no"]
    assert det.tradable and det.tick_size == D("0.01") and det.min_order_size == D(1)
    assert det.end_date == parse_time("2026-09-20T00:15:00Z") and det.event_id == "KXNFLGAME-26SEP17DETBUF"
    assert det.description.startswith("If Detroit wins the DET Lions vs BUF Bills")
    assert det.resolution_source == "the Governing League" and det.fee is NFL_FEE
    assert buf.question == "Buffalo wins" and report.dropped_markets == 0


def test_the_nested_event_reads_its_markets_from_inside_the_event() -> None:
    body = load("event_KXNFLGAME-26OCT08TBDAL_with_nested_markets_2026-10-06.json")
    assert body["markets"] == []  # the top-level list is empty: the markets are in event.markets
    report = ParseReport()
    events, markets = parse_events([body["event"]], {"KXNFLGAME": NFL_FEE}, report)
    assert [e.id for e in events] == ["KXNFLGAME-26OCT08TBDAL"] and events[0].listed_markets == 2
    assert sorted(m.id for m in markets) == ["KXNFLGAME-26OCT08TBDAL-DAL", "KXNFLGAME-26OCT08TBDAL-TB"]
    assert all(m.fee.rate == D("0.07") for m in markets) and events[0].venue == "kalshi"


def test_an_open_events_page_without_nested_markets_and_a_series_not_fetched() -> None:
    page = load("events_KXNFLGAME_open_limit3_2026-10-06.json")
    report = ParseReport()
    events, markets = parse_events(page["events"], {}, report)
    assert len(page["events"]) == 3 and events == [] and markets == []  # no `markets` key: nothing to store
    body = load("event_KXNFLGAME-26OCT08TBDAL_with_nested_markets_2026-10-06.json")
    _, markets = parse_events([body["event"]], {}, ParseReport())  # fees of the series unknown this pass
    assert markets and all(m.fee.enabled and m.fee.rate is None for m in markets)


def test_settled_fed_events_carry_their_results_and_events_without_markets_are_skipped() -> None:
    page = load("events_KXFEDDECISION_settled_nested_subset_2026-09.json")
    events, markets = parse_events(page["events"], {}, ParseReport())
    assert [e.id for e in events] == ["KXFEDDECISION-26SEP"]  # Jul and Jun: listed without markets
    assert len(markets) == 3 and all(m.status == "resolved" and not m.tradable for m in markets)
    assert all((m.outcomes[0].settle_price, m.outcomes[1].settle_price) == (D(0), D(1)) for m in markets)


def test_the_2025_legacy_cents_page_parses_with_statuses_mapped() -> None:
    raw = load("markets_page100_2025-10_legacy_cents_shape.json")
    report = ParseReport()
    parsed = [parse_market(m, {}, NFL_FEE, report) for m in raw]
    assert len(raw) == 100 and all(m is not None for m in parsed) and report.dropped_markets == 0
    by_status: dict[str, int] = {}
    for m, r in zip(parsed, raw, strict=True):
        assert m is not None
        by_status[f"{r['status']}→{m.status}{'' if m.active else ' (inactive)'}"] = by_status.get(
            f"{r['status']}→{m.status}{'' if m.active else ' (inactive)'}", 0) + 1
        assert m.tick_size == D("0.01")  # legacy integer tick_size 1 (cent)
    assert set(by_status) <= {"active→active", "inactive→active (inactive)", "finalized→resolved", "closed→closed"}
    assert by_status.get("active→active", 0) > 0


def test_combo_markets_are_skipped_and_counted() -> None:
    raw = load("markets_mve_combo_sample50_2026-03-11.json")
    report = ParseReport()
    assert all(parse_market(m, {}, NFL_FEE, report) is None for m in raw)
    assert report.dropped_by_reason["combo"] == 50 and report.problems == []  # counted, not noted


def test_a_book_of_bids_becomes_asks_on_the_other_side() -> None:
    report = ParseReport()
    det = parse_orderbook("DET", load("orderbook_KXNFLGAME-26SEP17DETBUF-DET_depth5_2026-09-16.json"), report)
    assert det is not None
    yes, no = det
    assert yes.token_id == "DET:yes" and no.token_id == "DET:no"
    assert yes.bids[0] == Level(D("0.3200"), D("2070176.84"))  # best YES bid: the LAST element sent
    assert yes.asks[0] == Level(D("0.33"), D("8583872.44"))  # 1 − best NO bid 0.67, its count
    assert no.bids[0].price == D("0.67") and no.asks[0] == Level(D("0.68"), D("2070176.84"))  # 1 − 0.32
    assert [lv.price for lv in yes.asks] == [D("0.33"), D("0.34"), D("0.35"), D("0.36"), D("0.37")]
    kc = parse_orderbook("KC", load("orderbook_KXMLBGAME-26JUL231840KCDET-KC_full_2026-07-22.json"), report)
    assert kc is not None
    assert kc[0].bids[0] == Level(D("0.38"), D(45)) and kc[0].asks[0] == Level(D("0.40"), D(45))  # = the market's quote
    assert len(kc[0].bids) == 28 and len(kc[0].asks) == 40 and report.dropped_levels == 0


def test_both_book_shapes_agree_and_the_dollar_one_is_read() -> None:
    both = load("orderbook_KXUCLGAME-26MAR10PSGCFC-PSG_legacy_and_fp_2026-03-11.json")
    report = ParseReport()
    fp = parse_orderbook("PSG", both, report)
    legacy = parse_orderbook("PSG", {"orderbook": {"yes": both["orderbook"]["yes"], "no": both["orderbook"]["no"]}},
                             report)
    assert fp is not None and legacy is not None
    assert fp[0].bids[0] == Level(D("0.70"), D(61957)) and fp[0].asks[0] == Level(D("0.72"), D(212771))
    assert [(lv.price, lv.size) for lv in fp[0].bids] == [(lv.price, lv.size) for lv in legacy[0].bids]
    assert [(lv.price, lv.size) for lv in fp[1].bids] == [(lv.price, lv.size) for lv in legacy[1].bids]


def test_a_one_sided_book_gives_the_other_token_no_asks() -> None:
    yes, no = parse_orderbook("RAIN", load("orderbook_KXRAINNYC-26MAR12-T0_onesided_legacy_and_fp_2026-03-11.json"),
                              ParseReport()) or (None, None)
    assert yes is not None and no is not None
    assert yes.bids[0] == Level(D("0.99"), D(24569)) and yes.asks == ()  # no NO bids: nobody sells YES
    assert no.bids == () and no.asks[0] == Level(D("0.01"), D(24569))
    for empty in ({"orderbook_fp": {"yes_dollars": None, "no_dollars": []}}, {"orderbook_fp": {}}):
        y, n = parse_orderbook("E", empty, ParseReport()) or (None, None)
        assert y is not None and n is not None and y.bids == y.asks == n.bids == n.asks == ()


def test_a_sentinel_quote_is_never_a_price_and_bad_levels_are_dropped() -> None:
    report = ParseReport()
    y, n = parse_orderbook("X", {"orderbook_fp": {"yes_dollars": [["0.0000", "5.00"], ["0.40", "0.00"],
                                                                  ["abc", "1"], ["0.41", "3.50"]],
                                                  "no_dollars": [["1.0000", "9.00"]]}}, report) or (None, None)
    assert y is not None and n is not None
    assert y.bids == (Level(D("0.41"), D("3.50")),) and y.asks == () and report.dropped_levels == 4
    assert parse_orderbook("X", ["not", "a", "book"], report) is None and report.dropped_books == 1


def test_timestamps_with_any_fraction_and_the_zero_time() -> None:
    assert parse_time("2026-09-29T04:01:07.17746Z") is not None
    assert parse_time("2026-09-16T17:44:31.336Z") is not None and parse_time("2026-10-11T00:15:00Z") is not None
    assert parse_time("0001-01-01T00:00:00Z") is None and parse_time("") is None and parse_time(None) is None
