"""`mpx stream`: the websocket market channel into ticks, against the loopback stand-in
(tests/stubs/polymarket_ws.py). Every fault ends with the stored books — the latest tick per token —
equal to the stand-in's authoritative books. Short MPX_WS_STALE / ping / flush settings: no test
waits out a real 30-s timeout."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mpx.adapters.db import markets as db_markets
from mpx.domain.models import Market, Outcome

from conftest import TestDb
from helpers import invoke_mpx, spawn_mpx
from stubs.polymarket_ws import AssetBook, WsStandIn, make_books

N_MARKETS = 6  # 12 tokens over 3 connections of 4


def _universe(db: TestDb, n: int = N_MARKETS) -> dict[str, list[str]]:
    markets = {f"0x{i:064x}": [f"{10**20 + 2 * i}", f"{10**20 + 2 * i + 1}"] for i in range(n)}
    with db.connect() as conn:
        db_markets.upsert_metadata(conn, [], [
            Market(id=m, question=f"Q{m[-3:]}?", outcomes=(Outcome(t[0], m, "Yes", 0), Outcome(t[1], m, "No", 1)))
            for m, t in markets.items()])
        conn.commit()
    return markets


def _env(api: WsStandIn, **extra: str) -> dict[str, str]:
    return {"MPX_WS_URL": api.url, "MPX_CLOB_URL": api.rest_url, "MPX_WS_STALE": "5s", "MPX_WS_PING": "100ms",
            "MPX_STREAM_FLUSH": "150ms", "MPX_WS_ASSETS_PER_CONN": "4", "MPX_HTTP_RETRIES": "0", **extra}


def _stored(db: TestDb) -> dict[str, Any]:
    with db.connect() as conn:
        rows = conn.execute("""SELECT DISTINCT ON (token_id) token_id, bid_px, bid_sz, ask_px, ask_sz FROM tick
                               ORDER BY token_id, ts DESC""").fetchall()
    return {t: (list(zip(bp, bs, strict=True)), list(zip(ap, az, strict=True))) for t, bp, bs, ap, az in rows}


def _details(db: TestDb) -> dict[str, Any]:
    with db.connect() as conn:
        row = conn.execute("SELECT status, details FROM job_run WHERE job = 'stream' ORDER BY id DESC LIMIT 1"
                           ).fetchone()
    assert row is not None and row[0] == "ok", row
    return dict(row[1])


def _stream(db: TestDb, api: WsStandIn, seconds: str = "2.5s", **env: str) -> dict[str, Any]:
    res = invoke_mpx("stream", "--for", seconds, env=_env(api, **env))
    assert res.code == 0, res.stderr
    assert api.scenario_done.is_set() and api.scenario_error is None, api.scenario_error
    assert _stored(db) == api.final_books(), "stored books differ from the stand-in's"
    return _details(db)


def _run(db: TestDb, scenario: Any, seconds: str = "2.5s", **env: str) -> tuple[WsStandIn, dict[str, Any]]:
    markets = _universe(db)
    with WsStandIn(make_books(markets), cap=4, scenario=scenario) as api:
        return api, _stream(db, api, seconds, **env)


def test_snapshots_and_deltas_become_passes_evaluate_reads(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        await api.changes(300, rate=500)

    api, details = _run(db, scenario)
    assert details["connections"] == 3 and details["assets"] == 12
    assert details["messages"]["price_change"] == 300 and details["messages"]["book"] == 12
    assert details["passes"] >= 3 and details.get("resnapshots", {}) == {}
    assert api.stats["connections"] == 3 and api.stats["cap_closures"] == 0
    sources = db.scalar("SELECT array_agg(DISTINCT source) FROM ingest_pass")
    assert sources == ["stream"]
    assert db.scalar("SELECT count(*) FROM ingest_pass") == details["passes"]
    ev = invoke_mpx("evaluate")
    assert ev.code == 0, ev.stderr
    assert db.scalar("SELECT count(*) FROM job_run WHERE job = 'evaluate' AND status = 'ok'") == 1


def test_silent_socket_that_still_answers_ping_is_reconnected_and_resnapshotted(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        await api.changes(50)
        api.go_silent()
        await api.changes(50)  # missed by the client
        await asyncio.sleep(0.9)  # > MPX_WS_STALE: every connection is stale
        api.go_silent(False)
        await api.wait_subscribed()
        await asyncio.sleep(0.1)
        await api.changes(50)

    api, details = _run(db, scenario, seconds="3s", MPX_WS_STALE="600ms")
    assert details["stale_disconnects"] >= 1 and details["reconnects"] >= 1
    assert details["resnapshots"].get("reconnect", 0) >= 1
    assert api.stats["pings"] > 0


def test_missing_pong_reconnects(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        api.no_pong = True
        for _ in range(9):  # data keeps flowing; only the PONGs are gone
            await api.changes(10)
            await asyncio.sleep(0.1)
        api.no_pong = False
        await api.wait_subscribed()
        await api.changes(30)

    _, details = _run(db, scenario, seconds="3s", MPX_WS_STALE="600ms")
    assert details["pong_timeouts"] >= 1 and details["reconnects"] >= 1


def test_dropped_connection_reconnects_and_converges(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        await api.changes(50)
        await api.drop_connections()
        await api.changes(50)  # nobody subscribed while the client reconnects
        await api.wait_subscribed()
        await api.changes(50)

    api, details = _run(db, scenario)
    assert details["dropped"] >= 3 and details["reconnects"] >= 3
    assert api.stats["connections"] >= 6


def test_malformed_json_is_counted_and_skipped(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        await api.changes(30)
        await api.send_all('{"event_type": "price_change", "market": "0x')
        await api.send_all("[1, 2]")
        await api.changes(30)

    _, details = _run(db, scenario)
    assert details["messages"]["malformed"] == 2 * 3


def test_delta_for_unknown_book_is_resnapshotted_and_foreign_assets_ignored(db: TestDb) -> None:
    withheld: list[str] = []

    async def scenario(api: WsStandIn) -> None:
        await api.changes(20, assets=withheld)  # the client never saw these books
        await api.delta_for_foreign_asset(via=withheld[0])
        await api.changes(30)

    markets = _universe(db)
    withheld.extend(markets[next(iter(markets))])
    with WsStandIn(make_books(markets), cap=4, scenario=scenario) as api:
        api.withhold = set(withheld)
        details = _stream(db, api)
    assert details["messages"]["book"] == 12 - 2
    assert details["resnapshots"]["unknown"] == 2
    assert details["messages"]["foreign_asset"] == 1
    assert api.stats["rest_books"] >= 2


def test_deltas_out_of_order_trigger_a_resnapshot(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        await api.changes(20)
        await api.out_of_order_pair(next(iter(api.books)))
        await api.changes(20)

    api, details = _run(db, scenario)
    assert details["resnapshots"]["out_of_order"] == 1
    first = next(iter(api.books))
    assert api.final_books([first])[first][0][0][1] == Decimal("22.22")  # the newer change won


def test_crossed_or_disagreeing_top_of_book_triggers_a_resnapshot(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        a = next(iter(api.books))
        b = api.books[a]
        # the server's book moved without telling (a lost delta), then a delta whose best_bid disagrees
        api.set_level(a, "BUY", max(b.bids), Decimal(0))
        msg = api.set_level(a, "SELL", max(b.asks), Decimal("7"))
        await api.send_raw(a, json.dumps(msg))
        # a delta that crosses the book as the client holds it
        c = list(api.books)[2]
        cb = api.books[c]
        cross = api.set_level(c, "BUY", min(cb.asks), Decimal("5"))
        api.set_level(c, "SELL", min(cb.asks), Decimal(0))  # the server removed the ask (delta lost)
        await api.send_raw(c, json.dumps(cross))
        await api.changes(20)

    _, details = _run(db, scenario)
    assert details["resnapshots"]["disagrees"] == 1 and details["resnapshots"]["crossed"] == 1


def test_tick_size_new_market_and_resolution_update_the_stored_market(db: TestDb) -> None:
    new_tokens = ["555000001", "555000002"]

    async def scenario(api: WsStandIn) -> None:
        first_market, tokens = next(iter(markets.items()))
        last_market, last_tokens = list(markets.items())[-1]
        await api.custom(tokens[0], {"event_type": "tick_size_change", "asset_id": tokens[0], "market": first_market,
                                     "old_tick_size": "0.01", "new_tick_size": "0.001"})
        for t in new_tokens:
            api.add_asset(t, AssetBook("0xnew", {Decimal("0.4"): Decimal(10)}, {Decimal("0.6"): Decimal(10)},
                                       int(time.time() * 1000)))
        await api.custom(tokens[0], {"event_type": "new_market", "market": "0xnew", "question": "New?",
                                     "slug": "new", "assets_ids": new_tokens, "outcomes": ["Yes", "No"]})
        await api.wait_subscribed(14)
        await api.changes(20, assets=new_tokens)
        await api.custom(last_tokens[0], {"event_type": "market_resolved", "market": last_market,
                                          "assets_ids": last_tokens, "winning_asset_id": last_tokens[1]})
        await api.changes(20)

    markets = _universe(db)
    with WsStandIn(make_books(markets), cap=4, scenario=scenario) as api:
        res = invoke_mpx("stream", "--for", "2.5s", env=_env(api))
        assert res.code == 0, res.stderr
        assert api.scenario_done.is_set() and api.scenario_error is None, api.scenario_error
        stored = _stored(db)
        assert {t: stored[t] for t in new_tokens} == api.final_books(new_tokens)
        assert api.stats["rejected_duplicates"] == 0
    first, last = next(iter(markets)), list(markets)[-1]
    assert db.scalar("SELECT tick_size FROM market WHERE id = %s", (first,)) == Decimal("0.001")
    assert db.scalar("SELECT question FROM market WHERE id = '0xnew'") == "New?"
    assert db.scalar("SELECT status FROM market WHERE id = %s", (last,)) == "resolved"
    assert db.scalar("SELECT array_agg(settle_price ORDER BY idx)::text FROM outcome WHERE market_id = %s",
                     (last,)) == "{0,1}"


def test_cannot_connect_at_all_exits_75(db: TestDb) -> None:
    _universe(db)
    res = invoke_mpx("stream", "--for", "5s", env={"MPX_WS_URL": "ws://127.0.0.1:9/ws/market",
                                                    "MPX_WS_STALE": "300ms", "MPX_WS_CONNECT_TIMEOUT": "200ms"})
    assert res.code == 75, res.stderr
    assert "could not connect" in res.stderr


def test_no_active_markets_exits_75(db: TestDb) -> None:
    res = invoke_mpx("stream", "--for", "1s")
    assert res.code == 75 and "no active markets" in res.stderr


def test_sigterm_flushes_and_exits_0(db: TestDb) -> None:
    async def scenario(api: WsStandIn) -> None:
        await api.changes(100, rate=500)

    markets = _universe(db)
    with WsStandIn(make_books(markets), cap=4, scenario=scenario) as api:
        proc = spawn_mpx("stream", "--for", "1h", env=_env(api, MPX_STREAM_FLUSH="30s"))
        assert api.scenario_done.wait(30)
        time.sleep(0.3)  # the last changes reach the process (its flush is 30 s away: SIGTERM's is the one)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert _stored(db) == api.final_books()
    assert db.scalar("SELECT count(*) FROM ingest_pass WHERE source = 'stream'") == 1


def test_stand_in_rejects_duplicate_subscriptions_and_closes_over_cap() -> None:
    books = make_books({"0xa": ["1", "2"], "0xb": ["3", "4"], "0xc": ["5", "6"]})

    async def client(url: str) -> tuple[list[Any], bool]:
        got: list[Any] = []
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "market", "assets_ids": ["1", "2"], "custom_feature_enabled": True}))
            got.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"operation": "subscribe", "assets_ids": ["2"]}))
            got.append(json.loads(await ws.recv()))
            await ws.send("PING")
            got.append(await ws.recv())
            await ws.send(json.dumps({"operation": "subscribe", "assets_ids": ["3", "4", "5"]}))
            try:
                await ws.recv()
                closed = False
            except ConnectionClosed as exc:
                closed = exc.rcvd is not None and exc.rcvd.code == 1008
        return got, closed

    with WsStandIn(books, cap=4) as api:
        got, closed = asyncio.run(client(api.url))
    assert [b["asset_id"] for b in got[0]] == ["1", "2"] and got[0][0]["event_type"] == "book"
    assert got[1]["error"] == "already subscribed" and api.stats["rejected_duplicates"] == 1
    assert got[2] == "PONG"
    assert closed and api.stats["cap_closures"] == 1


@pytest.mark.parametrize("n", [1, 4, 5, 9])
def test_connections_are_ceil_of_assets_over_the_cap(n: int) -> None:
    from mpx.adapters.metrics import JobMetrics
    from mpx.jobs.contract import Context
    from mpx.jobs.stream import Streamer
    from mpx.settings import load_settings

    ctx = Context(load_settings(None, mpx_ws_assets_per_conn=4), None, JobMetrics("test"))  # type: ignore[arg-type]
    from datetime import timedelta

    s = Streamer(ctx, [str(i) for i in range(n)], timedelta(seconds=1))
    assert len(s.conns) == -(-n // 4)
    assert sorted(a for c in s.conns for a in c.assets) == sorted(str(i) for i in range(n))


def test_health_reports_stream_freshness(db: TestDb, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    from mpx.jobs import health as health_job
    from mpx.settings import load_settings

    settings = load_settings(None, mpx_database_url=db.url)
    assert health_job.check(settings)["stream"]["ok"] is None  # never ran: not a fault

    async def scenario(api: WsStandIn) -> None:
        await api.changes(20)

    _run(db, scenario, seconds="1s")
    report = health_job.check(settings)
    assert report["stream"]["ok"] is True and report["stream"]["age_s"] < 60
    monkeypatch.setattr(health_job, "clock", lambda: datetime.now(UTC) + timedelta(minutes=5))
    report = health_job.check(settings)
    assert report["stream"]["ok"] is False and report["status"] == "degraded"
    assert any(r.startswith("stream stale") for r in report["reasons"])
    assert "mpx_stream_last_pass_timestamp" in invoke_mpx("metrics").stdout


def test_stream_evaluate_tracks_an_opportunity_that_lives_under_a_second(db: TestDb) -> None:
    markets = _universe(db)
    m0, (yes, no) = next(iter(markets.items()))
    books = make_books(markets)
    for t in (yes, no):  # YES + NO asks 0.30 + 0.30: a complete set for 0.60
        books[t] = AssetBook(m0, {Decimal("0.2"): Decimal(100)}, {Decimal("0.3"): Decimal(100),
                                                                    Decimal("0.8"): Decimal(100)},
                             int(time.time() * 1000) - 1000)
    others = [t for ts in list(markets.values())[1:] for t in ts]

    async def scenario(api: WsStandIn) -> None:
        await api.changes(30, rate=100, assets=others)  # 0.3 s: two flushes or more see the set
        await api.send_raw(yes, json.dumps(api.set_level(yes, "SELL", Decimal("0.3"), Decimal(0))))  # gone: 0.8 + 0.3
        await api.changes(30, rate=100, assets=others)

    with WsStandIn(books, cap=4, scenario=scenario) as api:
        res = invoke_mpx("stream", "--for", "1.5s", "--evaluate", env=_env(api))
        assert res.code == 0, res.stderr
        assert api.scenario_done.is_set() and api.scenario_error is None
        assert _stored(db) == api.final_books()
    details = _details(db)
    assert details["evaluate"]["steps"] == details["passes"] and details["evaluate"]["closed"] >= 1
    with db.connect() as conn:
        opened, closed = conn.execute("SELECT opened_at, closed_at FROM opportunity WHERE market_id = %s",
                                      (m0,)).fetchone()
        passes = [r[0] for r in conn.execute("SELECT ts FROM ingest_pass ORDER BY ts")]
    assert closed is not None and opened in passes and closed in passes
    assert 0 < (closed - opened).total_seconds() < 1  # flushes are 150 ms apart
    table = invoke_mpx("opportunities", "--status", "closed")
    assert f"{(closed - opened).total_seconds():.3f}".rstrip("0").rstrip(".") + "s" in table.stdout
    assert opened.strftime("%H:%M:%S.%f")[:-3] in table.stdout
    from mpx.jobs import health as health_job
    from mpx.settings import load_settings

    assert db.scalar("SELECT count(*) FROM job_run WHERE job = 'evaluate'") == 0
    beat = health_job.check(load_settings(None, mpx_database_url=db.url))["rules_heartbeat"]
    assert beat["ok"] and beat["last_success"] is not None  # the stream's rule steps are the heartbeat
    again = invoke_mpx("evaluate")  # the stream moved evaluate's watermark: nothing evaluated twice
    assert again.code == 0 and "0 step(s)" in again.stdout, again.stdout
