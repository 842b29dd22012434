"""The Kalshi stand-in must speak the recorded wire shapes, or the source tests prove nothing."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D
from typing import Any

import httpx

from stubs.kalshi import DETBUF, FIXTURES, KalshiStandIn

DET, BUF = f"{DETBUF}-DET", f"{DETBUF}-BUF"


HTTP = httpx.Client(timeout=5)  # one client: building one per request costs ~0.1 s (its TLS context)


def get(api: KalshiStandIn, path: str, **params: Any) -> httpx.Response:
    return HTTP.get(f"{api.url}/{path}", params=params)


def test_events_are_cursor_paged_filtered_and_nested_on_request() -> None:
    with KalshiStandIn(extra=250) as api:
        assert api.url.endswith("/trade-api/v2")
        first = get(api, "events", status="open", with_nested_markets="true", limit=500).json()
        assert set(first) == {"cursor", "events", "milestones"} and len(first["events"]) == 200  # capped at 200
        cursor = first["cursor"]
        assert cursor and not cursor.isdigit()  # opaque, not an offset
        last = get(api, "events", status="open", with_nested_markets="true", limit=200, cursor=cursor).json()
        assert len(last["events"]) == 52 and last["cursor"] == ""  # the last page: an empty cursor
        assert all("markets" in e for e in first["events"] + last["events"])
        bare = get(api, "events", status="open", limit=1).json()
        assert len(bare["events"]) == 1 and "markets" not in bare["events"][0]  # not nested unless asked
        nfl = get(api, "events", status="open", series_ticker="KXNFLGAME", with_nested_markets="true").json()
        assert [e["event_ticker"] for e in nfl["events"]] == [DETBUF, "KXNFLGAME-26OCT08TBDAL"]
        api.set_market(DET, status="closed")
        api.set_market(BUF, status="finalized", result="no")
        nfl = get(api, "events", status="open", series_ticker="KXNFLGAME").json()
        assert [e["event_ticker"] for e in nfl["events"]] == ["KXNFLGAME-26OCT08TBDAL"]  # nothing open in DET–BUF
        settled = get(api, "events", status="settled", series_ticker="KXNFLGAME").json()
        assert [e["event_ticker"] for e in settled["events"]] == [DETBUF]
        assert api.count("/events?") == 6


def test_markets_are_listed_paged_and_looked_up_and_unknown_tickers_are_404() -> None:
    with KalshiStandIn(extra=3) as api:
        page = get(api, "markets", limit=2).json()
        assert set(page) == {"cursor", "markets"} and len(page["markets"]) == 2 and page["cursor"]
        rest = get(api, "markets", limit=1000, cursor=page["cursor"]).json()
        assert len(rest["markets"]) == 5 and rest["cursor"] == ""
        by_event = get(api, "markets", event_ticker=DETBUF).json()["markets"]
        assert [m["ticker"] for m in by_event] == [DET, BUF]
        some = get(api, "markets", tickers=f"{BUF},KXBENCH-0001-Y").json()["markets"]
        assert [m["ticker"] for m in some] == [BUF, "KXBENCH-0001-Y"]
        api.set_market(BUF, status="closed")
        assert [m["ticker"] for m in get(api, "markets", status="closed").json()["markets"]] == [BUF]
        one = get(api, f"markets/{DET}").json()
        recorded = json.loads((FIXTURES / "markets_KXNFLGAME-26SEP17DETBUF_2026-09-16.json").read_text())
        assert one == {"market": recorded["markets"][0]}  # the recorded object, as recorded
        assert get(api, "markets/KXNOPE-1").status_code == 404
        assert get(api, "markets/KXNOPE-1/orderbook").status_code == 404
        assert get(api, "series/KXNOPE").status_code == 404


def test_series_and_books_are_the_recorded_ones_bids_only_ascending() -> None:
    with KalshiStandIn() as api:
        series = get(api, "series/KXNFLGAME").json()
        assert series == json.loads((FIXTURES / "series_KXNFLGAME_2026-09-16.json").read_text())
        det = get(api, f"markets/{DET}/orderbook").json()
        recorded = FIXTURES / "orderbook_KXNFLGAME-26SEP17DETBUF-DET_depth5_2026-09-16.json"
        assert det == json.loads(recorded.read_text())
        two = get(api, f"markets/{DET}/orderbook", depth=2).json()["orderbook_fp"]
        assert two["yes_dollars"] == det["orderbook_fp"]["yes_dollars"][-2:]  # the two best, still ascending
        assert [D(p) for p, _ in two["yes_dollars"]] == [D("0.31"), D("0.32")]
        # a book from a market's quote: YES bid → YES level, YES ask a → NO bid 1 − a
        buf = get(api, f"markets/{BUF}/orderbook").json()["orderbook_fp"]
        assert set(buf) == {"yes_dollars", "no_dollars"} and len(buf["yes_dollars"]) == len(buf["no_dollars"]) == 1
        api.set_book(BUF, yes=[("0.45", "300"), ("0.44", "10")], no=[("0.53", "300")], shape="legacy")
        assert get(api, f"markets/{BUF}/orderbook").json() == {"orderbook": {"yes": [[44, 10], [45, 300]],
                                                                             "no": [[53, 300]]}}
        api.set_book(BUF, yes=[("0.45", "2.5")], no=[], shape="fp")
        assert get(api, f"markets/{BUF}/orderbook").json() == {
            "orderbook_fp": {"yes_dollars": [["0.4500", "2.50"]], "no_dollars": []}}
        # Kalshi's empty-side sentinel: yes_ask 0 with size 0 is no level (no NO bid), never a price of 0
        del api.books[BUF]
        api.set_market(BUF, yes_ask_dollars="0.0000", yes_ask_size_fp="0.00", no_bid_dollars="1.0000")
        assert get(api, f"markets/{BUF}/orderbook").json()["orderbook_fp"]["no_dollars"] == []


def test_faults_are_consumed_in_order_per_endpoint_and_only_by_matching_requests() -> None:
    with KalshiStandIn() as api:
        api.fail("orderbook", 429, times=1, match=BUF)
        api.fail("orderbook", 429, times=1, retry_after=1.5)
        api.fail("series", 503)
        api.truncate("events")
        api.replace_body("markets", b'{"markets": "nope"}')
        det = get(api, f"markets/{DET}/orderbook")  # the first fault waits for a BUF request
        assert det.status_code == 429 and det.headers["Retry-After"] == "1.5"
        buf = get(api, f"markets/{BUF}/orderbook")
        assert buf.status_code == 429 and "Retry-After" not in buf.headers
        assert buf.json() == {"error": "too many requests"}  # Kalshi's body, no Retry-After
        assert get(api, f"markets/{BUF}/orderbook").status_code == 200  # faults used up
        assert get(api, "series/KXNFLGAME").status_code == 503 and get(api, "series/KXNFLGAME").status_code == 200
        cut = get(api, "events", status="open")
        assert cut.status_code == 200
        try:
            json.loads(cut.content)
            raise AssertionError("a truncated body must not parse")
        except ValueError:
            pass
        assert get(api, "markets").json() == {"markets": "nope"}
        api.hang("market", 0.3)
        t0 = time.monotonic()
        assert get(api, f"markets/{DET}").status_code == 200 and time.monotonic() - t0 >= 0.3
        assert api.count(f"/markets/{BUF}/orderbook") == 2 and api.count("/series/") == 2
