"""Every recorded Kalshi REST sample in ``tests/fixtures/kalshi`` is read by a test, with values
checked by hand against the file: the ones ``test_kalshi_parse.py`` does not already cover (the
NBA events page, the transition-period PSG market, the MLB markets page, the DAL depth-3 book, the
later KXNFLGAME series, the legacy book on its own, the 2025 page's results), questions that name
their outcome, and mutually exclusive events that are not neg-risk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from mpx.adapters.sources.kalshi.parse import fee_schedule, parse_events, parse_market, parse_orderbook, parse_time
from mpx.adapters.sources.polymarket.parse import ParseReport
from mpx.domain.models import Level
from mpx.domain.money import taker_fee

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "kalshi"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "kalshi"

COVERED = {  # fixture → the test(s) reading it
    "event_KXNFLGAME-26OCT08TBDAL_with_nested_markets_2026-10-06.json": "parse: nested event; here: neg-risk",
    "events_KXFEDDECISION_settled_nested_subset_2026-09.json": "parse: settled results; here: questions, neg-risk",
    "events_KXNBAGAME_page_2026-01.json": "here",
    "events_KXNFLGAME_open_limit3_2026-10-06.json": "parse: events without markets",
    "exchange_status_demo_2026-07-22.json": "not market data: the source never reads /exchange/status",
    "market_KXUCLGAME-26MAR10PSGCFC-PSG_2026-03-11.json": "here",
    "markets_KXMLBGAME-26JUL231840KCDET_2026-07-22.json": "here",
    "markets_KXNFLGAME-26SEP17DETBUF_2026-09-16.json": "parse: binary markets with ticker tokens",
    "markets_mve_combo_sample50_2026-03-11.json": "parse: combos skipped and counted",
    "markets_page100_2025-10_legacy_cents_shape.json": "parse: statuses; here: results and questions",
    "orderbook_KXMLBGAME-26JUL231840KCDET-KC_full_2026-07-22.json": "parse: full book, KC ask 0.40 ×45",
    "orderbook_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json": "here",
    "orderbook_KXNFLGAME-26SEP17DETBUF-DET_depth5_2026-09-16.json": "parse: DET depth 5",
    "orderbook_KXRAINNYC-26MAR12-T0_onesided_legacy_and_fp_2026-03-11.json": "parse: one-sided",
    "orderbook_KXUCLGAME-26MAR10PSGCFC-PSG_legacy_and_fp_2026-03-11.json": "parse: both shapes; here: legacy alone",
    "series_KXNFLGAME_2026-09-16.json": "parse: fee 0.07, rounded up",
    "series_KXNFLGAME_2026-10-06.json": "here",
    "series_list_sports_first3_2026-10-06.json": "parse: quadratic ×1",
}


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


NFL_FEE = fee_schedule(load("series_KXNFLGAME_2026-09-16.json")["series"])


def test_every_recorded_rest_sample_is_a_byte_identical_copy_and_is_covered() -> None:
    fixtures = sorted(p.name for p in FIX.glob("*.json"))
    assert fixtures == sorted(COVERED)
    if SHARED.is_dir():  # the shared data folder next to the checkout (not needed to run the tests)
        for name in fixtures:
            assert (FIX / name).read_bytes() == (SHARED / name).read_bytes(), name
        rest = sorted(p.name for p in SHARED.glob("*.json"))
        assert rest == fixtures  # every REST recording was copied (the ws/ ones are not read)


def test_the_nba_events_page_without_nested_markets_is_the_last_page() -> None:
    page = load("events_KXNBAGAME_page_2026-01.json")
    assert page["cursor"] == "" and page["milestones"] == [] and len(page["events"]) == 27
    assert all(e["mutually_exclusive"] is True and "markets" not in e for e in page["events"])
    report = ParseReport()
    events, markets = parse_events(page["events"], {}, report)
    assert events == [] and markets == [] and report.dropped_markets == 0  # nothing to store, nothing wrong


def test_the_transition_period_psg_market_reads_the_dollar_fields_and_names_its_outcome() -> None:
    raw = load("market_KXUCLGAME-26MAR10PSGCFC-PSG_2026-03-11.json")["market"]
    assert raw["yes_bid"] == 70 and raw["yes_bid_dollars"] == "0.7000" and raw["tick_size"] == 1  # cents too
    report = ParseReport()
    m = parse_market(raw, {"event_ticker": raw["event_ticker"]}, NFL_FEE, report)
    assert m is not None and report.problems == []
    assert m.id == "KXUCLGAME-26MAR10PSGCFC-PSG" and m.event_id == "KXUCLGAME-26MAR10PSGCFC"
    assert m.question == "PSG vs Chelsea Winner? — PSG"  # the title names both teams: the sub-title says which
    assert m.tick_size == D("0.01") and m.min_order_size == D(1) and m.tradable
    assert m.end_date == datetime(2026, 3, 24, 20, 0, tzinfo=UTC)
    assert m.description.startswith("If PSG wins the PSG vs Chelsea professional Champions League soccer game")
    assert "\n\nThe following market refers to the PSG vs Chelsea" in m.description  # rules_primary + secondary
    assert [(o.token_id, o.label, o.index, o.settle_price) for o in m.outcomes] == [
        ("KXUCLGAME-26MAR10PSGCFC-PSG:yes", "Yes", 0, None), ("KXUCLGAME-26MAR10PSGCFC-PSG:no", "No", 1, None)]


def test_both_legs_of_the_mlb_game_get_distinct_questions() -> None:
    page = load("markets_KXMLBGAME-26JUL231840KCDET_2026-07-22.json")
    assert page["cursor"] and len(page["markets"]) == 2  # a cursor although the listing is done
    assert {m["title"] for m in page["markets"]} == {"Kansas City vs Detroit Winner?"}
    event = {"event_ticker": "KXMLBGAME-26JUL231840KCDET", "series_ticker": "KXMLBGAME", "markets": page["markets"]}
    _, markets = parse_events([event], {"KXMLBGAME": NFL_FEE}, ParseReport())
    assert [m.question for m in markets] == ["Kansas City vs Detroit Winner? — Kansas City",
                                             "Kansas City vs Detroit Winner? — Detroit"]
    assert all(m.end_date == datetime(2026, 7, 26, 22, 40, tzinfo=UTC) and m.tradable for m in markets)
    alone = [parse_market(m, {}, NFL_FEE, ParseReport()) for m in page["markets"]]  # GET /markets/{ticker}
    assert [m.question for m in alone if m is not None] == [m.question for m in markets]  # the same question
    # the NFL legs name their team in the title already: left as they are
    nfl = load("event_KXNFLGAME-26OCT08TBDAL_with_nested_markets_2026-10-06.json")["event"]
    _, markets = parse_events([nfl], {"KXNFLGAME": NFL_FEE}, ParseReport())
    assert sorted(m.question for m in markets) == ["Dallas wins", "Tampa Bay wins"]


def test_mutually_exclusive_events_are_not_neg_risk() -> None:
    """``mutually_exclusive`` says at most one market resolves Yes — not that exactly one does (a
    tie or a void game pays No on both legs): no complete-set rule may be built on it."""
    nfl = load("event_KXNFLGAME-26OCT08TBDAL_with_nested_markets_2026-10-06.json")["event"]
    fed = load("events_KXFEDDECISION_settled_nested_subset_2026-09.json")["events"]
    assert nfl["mutually_exclusive"] is True and all(e["mutually_exclusive"] is True for e in fed)
    events, markets = parse_events([nfl, *fed], {"KXNFLGAME": NFL_FEE}, ParseReport())
    assert [e.id for e in events] == ["KXNFLGAME-26OCT08TBDAL", "KXFEDDECISION-26SEP"]
    assert not any(e.neg_risk or e.neg_risk_augmented for e in events) and not any(m.neg_risk for m in markets)
    tbdal, sep = events
    assert tbdal.title == "TB Buccaneers vs DAL Cowboys" and tbdal.category == "Sports" and tbdal.listed_markets == 2
    assert tbdal.end_date == datetime(2026, 10, 11, 0, 15, tzinfo=UTC)  # its markets' close time
    assert sep.category == "Economics" and sep.listed_markets == 3 and sep.complete_listing
    by_id = {m.id: m for m in markets}
    assert by_id["KXFEDDECISION-26SEP-C25"].question == (
        "Will the Federal Reserve Cut rates by 25bps at their September 2026 meeting? — Cut 25bps")
    assert by_id["KXFEDDECISION-26SEP-H0"].resolution_source == "Federal Reserve"
    assert by_id["KXFEDDECISION-26SEP-H0"].fee.rate is None  # KXFEDDECISION's series not fetched: unknown


def test_the_dal_depth3_book() -> None:
    report = ParseReport()
    pair = parse_orderbook("KXNFLGAME-26OCT08TBDAL-DAL",
                           load("orderbook_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json"), report)
    assert pair is not None and report.dropped_levels == 0
    yes, no = pair
    assert yes.token_id == "KXNFLGAME-26OCT08TBDAL-DAL:yes" and no.token_id == "KXNFLGAME-26OCT08TBDAL-DAL:no"
    assert yes.bids == (Level(D("0.80"), D("16529.55")), Level(D("0.79"), D("33328.87")),
                        Level(D("0.78"), D("45938.68")))
    # best YES ask 1 − 0.19 = 0.81 ×375864.43: the market's yes_ask and yes_ask_size_fp of the event file
    assert yes.asks == (Level(D("0.81"), D("375864.43")), Level(D("0.82"), D("2630402.87")),
                        Level(D("0.83"), D("2897298.68")))
    assert no.bids[0] == Level(D("0.19"), D("375864.43")) and no.asks[0] == Level(D("0.20"), D("16529.55"))
    assert yes.spread == D("0.01") and yes.mid == D("0.805")
    dal = next(m for m in load("event_KXNFLGAME-26OCT08TBDAL_with_nested_markets_2026-10-06.json")["event"]["markets"]
               if m["ticker"] == "KXNFLGAME-26OCT08TBDAL-DAL")
    assert (D(dal["yes_bid_dollars"]), D(dal["yes_ask_dollars"])) == (yes.bids[0].price, yes.asks[0].price)


def test_the_later_series_record_has_the_same_fee() -> None:
    series = load("series_KXNFLGAME_2026-10-06.json")["series"]
    fee = fee_schedule(series)
    assert series["title"] == "NFL Game" and fee.fee_type == "quadratic_with_maker_fees"
    assert fee.rate == D("0.07") and fee.quantum == D("0.01") and fee.round_up
    assert taker_fee(D(10), D("0.50"), fee) == D("0.18") and taker_fee(D(100), D("0.45"), fee) == D("1.74")
    assert taker_fee(D(1), D("0.01"), fee) == D("0.01")  # 0.000693 → a whole cent


def test_the_legacy_book_alone_reads_its_dollar_strings_with_integer_counts() -> None:
    both = load("orderbook_KXUCLGAME-26MAR10PSGCFC-PSG_legacy_and_fp_2026-03-11.json")
    legacy = both["orderbook"]
    assert legacy["yes_dollars"][-1] == ["0.7000", 61957] and legacy["yes"][-1] == [70, 61957]
    report = ParseReport()
    alone = parse_orderbook("PSG", {"orderbook": legacy}, report)
    fp = parse_orderbook("PSG", both, report)
    assert alone is not None and fp is not None and report.dropped_levels == 0
    assert alone[0].bids[0] == Level(D("0.70"), D(61957)) and alone[0].asks[0] == Level(D("0.72"), D(212771))
    assert alone == fp and len(alone[0].bids) == 25 and len(alone[1].bids) == 23
    # when both are present the fp one wins: a legacy side that disagrees is not read
    mixed = {"orderbook": {"yes": [[10, 1]], "no": [[10, 1]]}, "orderbook_fp": both["orderbook_fp"]}
    assert parse_orderbook("PSG", mixed, report) == fp


def test_the_2025_page_results_settle_and_unresolved_results_are_null() -> None:
    raw = {m["ticker"]: m for m in load("markets_page100_2025-10_legacy_cents_shape.json")}
    report = ParseReport()
    parsed = {t: parse_market(m, {}, NFL_FEE, report) for t, m in raw.items()}
    won, lost, closed = parsed["KXNYKCOACH-25-MBRO"], parsed["KXNYKCOACH-25-TLUE"], parsed["KXNYKCOACH-25-JBOR"]
    assert won is not None and lost is not None and closed is not None
    assert won.status == "resolved" and [o.settle_price for o in won.outcomes] == [D(1), D(0)]
    assert lost.status == "resolved" and [o.settle_price for o in lost.outcomes] == [D(0), D(1)]
    assert raw["KXNYKCOACH-25-JBOR"]["result"] is None
    assert closed.status == "closed" and not closed.tradable and all(o.settle_price is None for o in closed.outcomes)
    inactive = [parsed[t] for t, m in raw.items() if m["status"] == "inactive"]
    assert len(inactive) == 29 and all(m is not None and not m.tradable for m in inactive)
    active = [parsed[t] for t, m in raw.items() if m["status"] == "active"]
    assert len(active) == 56 and all(m is not None and m.tradable and m.outcomes[0].settle_price is None
                                     for m in active)
    # the coach markets share one title: the sub-title names the coach
    assert won.question == "Who will be the head next coach of New York Pro Men's Basketball? — Mike Brown"
    assert parsed["KXRAMBO-35-RYA"] is not None and parsed["KXRAMBO-35-RYA"].question == (
        "Will Ryan Gosling be casted in the next Rambo?")  # names the actor already
    assert report.problems == []


def test_unknown_status_is_noted_and_not_tradable_and_timestamps_keep_their_fraction() -> None:
    report = ParseReport()
    m = parse_market({"ticker": "KXNEW-1", "title": "New?", "status": "suspended_for_review"}, {}, NFL_FEE, report)
    assert m is not None and m.status == "closed" and not m.tradable
    assert report.problems == ["KXNEW-1: unknown status 'suspended_for_review': kept as closed, not tradable"]
    for raw, status in (("initialized", "active"), ("unopened", "active"), ("disputed", "closed"),
                        ("determined", "resolved"), ("amended", "resolved"), ("settled", "resolved")):
        mk = parse_market({"ticker": "T", "title": "T?", "status": raw, "result": ""}, {}, NFL_FEE, ParseReport())
        assert mk is not None and mk.status == status and not mk.tradable, raw
        assert all(o.settle_price is None for o in mk.outcomes)  # resolved without a result: not yet known
    assert parse_time("2026-09-29T04:01:07.17746Z") == datetime(2026, 9, 29, 4, 1, 7, 177460, tzinfo=UTC)
    assert parse_time("2026-09-16T17:44:31.336Z") == datetime(2026, 9, 16, 17, 44, 31, 336000, tzinfo=UTC)
    assert parse_time("2026-08-27T14:32:55.470408Z") == datetime(2026, 8, 27, 14, 32, 55, 470408, tzinfo=UTC)
    assert parse_time("2026-10-11T00:15:00Z") == datetime(2026, 10, 11, 0, 15, tzinfo=UTC)
