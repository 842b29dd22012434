"""`mpx ingest` with DATA_SOURCE=real against a local server speaking Polymarket's Gamma and CLOB
APIs (real recorded responses), through the whole pass: PostgreSQL, exit codes, log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mpx.adapters.db.cluster import LocalCluster

from conftest import TEMPLATE, TestDb
from helpers import CliResult
from helpers import invoke_mpx as run_mpx
from stubs.polymarket import PolymarketStandIn, load_recorded_events


@pytest.fixture
def api() -> Iterator[PolymarketStandIn]:
    with PolymarketStandIn(load_recorded_events()) as server:
        yield server


def real_env(server: PolymarketStandIn, **extra: str) -> dict[str, str]:
    return {"DATA_SOURCE": "real", "MPX_GAMMA_URL": server.url, "MPX_CLOB_URL": server.url,
            "MPX_HTTP_TIMEOUT": "2", "MPX_BOOKS_BATCH": "10", **extra}


def expected_universe() -> tuple[set[str], set[str]]:
    """Markets of the active events, and the tokens of the markets that have an order book."""
    markets: set[str] = set()
    tokens: set[str] = set()
    for ev in load_recorded_events():
        if ev.get("active") is not True or ev.get("closed") is True:
            continue
        for m in ev["markets"]:
            markets.add(m["conditionId"])
            if (m.get("active") is not False and m.get("closed") is not True and m.get("acceptingOrders") is not False
                    and m.get("enableOrderBook") is not False):
                tokens.update(json.loads(m["clobTokenIds"]))
    return markets, tokens


def stored(db: TestDb) -> tuple[set[str], set[str], int]:
    with db.connect() as conn:
        markets = {r[0] for r in conn.execute("SELECT id FROM market")}
        ticked = {r[0] for r in conn.execute("SELECT DISTINCT token_id FROM tick")}
        passes = conn.execute("SELECT count(*) FROM ingest_pass").fetchone()[0]  # type: ignore[index]
    return markets, ticked, passes


def log_lines(res: CliResult) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in res.stderr.splitlines() if ln.startswith("{")]


def test_one_pass_stores_every_active_market_outcome_and_book(db: TestDb, api: PolymarketStandIn) -> None:
    res = run_mpx("ingest", env=real_env(api))
    assert res.code == 0, res.stderr
    want_markets, want_tokens = expected_universe()
    markets, ticked, passes = stored(db)
    assert markets == want_markets and ticked == want_tokens and passes == 1
    assert db.scalar("SELECT count(*) FROM outcome") == 2 * len(want_markets)
    listing = run_mpx("markets", "list", "--search", "Fed", "--format", "json", env=real_env(api))
    questions = {r["question"] for r in json.loads(listing.stdout)}
    assert any("Fed" in q and "March" in q for q in questions), questions
    # books stored best-first whatever order the API sent them in
    bad = db.scalar("SELECT count(*) FROM tick WHERE cardinality(bid_px) > 1 AND bid_px[1] < bid_px[2]")
    assert bad == 0


def test_metadata_is_refreshed_only_when_older_than_the_ttl(db: TestDb, api: PolymarketStandIn) -> None:
    assert run_mpx("ingest", env=real_env(api)).code == 0
    events_requests = api.count("/events")
    assert run_mpx("ingest", env=real_env(api)).code == 0
    assert api.count("/events") == events_requests  # within MPX_METADATA_TTL: books only
    assert run_mpx("ingest", env=real_env(api, MPX_METADATA_TTL="1ms")).code == 0
    assert api.count("/events") > events_requests


def test_429_storm_honours_retry_after_and_loses_nothing(db: TestDb, api: PolymarketStandIn) -> None:
    api.fail("books", 429, times=3, retry_after=0.4)
    t0 = time.monotonic()
    res = run_mpx("ingest", env=real_env(api, MPX_HTTP_CONCURRENCY="1"))
    assert res.code == 0, res.stderr
    assert time.monotonic() - t0 >= 1.2  # three waits of Retry-After, one request at a time
    assert stored(db)[1] == expected_universe()[1]
    counters = db.scalar("SELECT value FROM job_state WHERE key = 'ingest:counters'")
    assert counters["throttled"] == 3 and counters["retries"] >= 3  # type: ignore[index]


def test_server_errors_and_a_timeout_are_retried(db: TestDb, api: PolymarketStandIn) -> None:
    api.fail("events", 500, times=2)
    api.hang("books", 3, times=1)
    res = run_mpx("ingest", env=real_env(api, MPX_HTTP_TIMEOUT="0.5"))
    assert res.code == 0, res.stderr
    assert stored(db)[1] == expected_universe()[1]
    counters = db.scalar("SELECT value FROM job_state WHERE key = 'ingest:counters'")
    assert counters["requests:events:500"] == 2 and counters["requests:books:timeout"] == 1  # type: ignore[index]


def test_failed_batch_falls_back_to_single_books(db: TestDb, api: PolymarketStandIn) -> None:
    token = sorted(expected_universe()[1])[0]
    api.fail("books", 500, times=2, match=token)  # the batch holding `token` fails twice (MPX_HTTP_RETRIES=1)
    res = run_mpx("ingest", env=real_env(api, MPX_HTTP_RETRIES="1", MPX_HTTP_CONCURRENCY="1"))
    assert res.code == 0, res.stderr
    assert api.count("/book?") == 10  # that batch's ten tokens, one by one
    assert stored(db)[1] == expected_universe()[1]


def test_partial_failure_stores_the_rest_and_warns_in_one_line(db: TestDb, api: PolymarketStandIn) -> None:
    api.fail("books", 500, times=2, match=sorted(expected_universe()[1])[0])
    api.fail("book", 500, times=20)  # the fallback fails too: that batch's ten tokens are lost
    res = run_mpx("ingest", env=real_env(api, MPX_HTTP_RETRIES="1", MPX_HTTP_CONCURRENCY="1"))
    assert res.code == 0, res.stderr
    _, want = expected_universe()
    _, ticked, _ = stored(db)
    assert len(ticked) == len(want) - 10 and ticked < want
    warnings = [ln for ln in log_lines(res) if ln["level"] == "warning" and "could not be fetched" in ln["msg"]]
    assert len(warnings) == 1 and warnings[0]["job"] == "ingest"
    assert db.scalar("SELECT cardinality(missing) FROM ingest_pass") == 10


def test_nothing_fetched_exits_75_and_the_database_is_unchanged(db: TestDb, api: PolymarketStandIn) -> None:
    assert run_mpx("ingest", env=real_env(api)).code == 0
    before = stored(db)
    ticks = db.scalar("SELECT count(*) FROM tick")
    api.fail("books", 503, times=1000)
    api.fail("book", 503, times=1000)
    res = run_mpx("ingest", env=real_env(api, MPX_HTTP_RETRIES="0"))
    assert res.code == 75, res.stderr
    assert "no order book could be fetched" in res.stderr
    assert stored(db) == before and db.scalar("SELECT count(*) FROM tick") == ticks
    assert db.scalar("SELECT status FROM job_run ORDER BY id DESC LIMIT 1") == "failed"


def test_truncated_json_is_retried_and_then_reported(db: TestDb, api: PolymarketStandIn) -> None:
    api.truncate("events", times=1)
    assert run_mpx("ingest", env=real_env(api)).code == 0  # one truncated page, retried
    fresh = run_mpx("ingest", env=real_env(api, MPX_METADATA_TTL="1ms", MPX_HTTP_RETRIES="0"))
    assert fresh.code == 0  # metadata refresh failing is survivable: the stored tokens are fetched
    api.truncate("events", times=1)
    other = run_mpx("ingest", env=real_env(api, MPX_METADATA_TTL="1ms", MPX_HTTP_RETRIES="0"))
    assert other.code == 0
    assert any("metadata refresh failed" in ln["msg"] for ln in log_lines(other))


def test_events_unavailable_on_an_empty_database_exits_75(db: TestDb, api: PolymarketStandIn) -> None:
    api.truncate("events", times=100)
    res = run_mpx("ingest", env=real_env(api, MPX_HTTP_RETRIES="1"))
    assert res.code == 75
    assert "could not fetch events" in res.stderr and "malformed JSON" in res.stderr
    assert stored(db) == (set(), set(), 0)


def test_missing_and_wrongly_typed_fields_are_dropped_and_counted(db: TestDb, api: PolymarketStandIn) -> None:
    events = load_recorded_events()
    fed = next(e for e in events if e.get("title") == "Fed decision in March?")
    fed["markets"][0]["clobTokenIds"] = "not json"
    del fed["markets"][1]["conditionId"]
    api.set_events(events)
    token = json.loads(fed["markets"][2]["clobTokenIds"])[0]
    api.set_book(token, {"market": fed["markets"][2]["conditionId"], "asset_id": token, "timestamp": "x",
                         "bids": [{"price": "abc", "size": "1"}, {"price": "0.3", "size": "5"}],
                         "asks": [{"price": "0.5"}, {"price": "0.6", "size": "7"}]})
    res = run_mpx("ingest", env=real_env(api))
    assert res.code == 0, res.stderr
    markets, _, _ = stored(db)
    assert len(markets) == len(expected_universe()[0]) - 2
    counters = db.scalar("SELECT value FROM job_state WHERE key = 'ingest:counters'")
    assert counters["dropped_markets"] == 2 and counters["dropped_levels"] == 2  # type: ignore[index]
    row = db.scalar("SELECT bid_px || ask_px FROM tick WHERE token_id = %s", (token,))
    assert [str(x) for x in row] == ["0.3", "0.6"]  # type: ignore[union-attr]


def test_empty_universe_exits_75_and_writes_nothing(db: TestDb, api: PolymarketStandIn) -> None:
    api.set_events([])
    res = run_mpx("ingest", env=real_env(api))
    assert res.code == 75 and "empty universe" in res.stderr
    assert stored(db) == (set(), set(), 0)


@pytest.fixture
def other_db(pg_cluster: LocalCluster) -> Iterator[str]:
    name = f"replay_{time.monotonic_ns()}"
    with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
    yield pg_cluster.conninfo(name)
    with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ticks(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT ts, token_id, bid_px, bid_sz, ask_px, ask_sz FROM tick ORDER BY ts, token_id"
                            ).fetchall()


def test_record_then_replay_anywhere(db: TestDb, api: PolymarketStandIn, other_db: str, tmp_path: Path) -> None:
    record = tmp_path / "session"
    api.fail("books", 429, times=1, retry_after=0.1)
    assert run_mpx("ingest", "--record", str(record), env=real_env(api)).code == 0
    api.set_book(next(iter(expected_universe()[1])), None)  # a book disappears in pass 2
    assert run_mpx("ingest", "--record", str(record), env=real_env(api)).code == 0
    assert sorted(p.name for p in record.iterdir()) == ["pass-000001", "pass-000002"]
    manifest = json.loads((record / "pass-000001" / "manifest.json").read_text())
    assert manifest["metadata_refreshed"] is True and manifest["events_paging"] == "keyset"

    replay_env = {"DATA_SOURCE": "replay", "MPX_REPLAY_DIR": str(record), "MPX_DATABASE_URL": other_db}
    for _ in range(2):
        res = run_mpx("ingest", env=replay_env)
        assert res.code == 0, res.stderr
    done = run_mpx("ingest", env=replay_env)
    assert done.code == 75 and "have been replayed" in done.stderr
    assert _ticks(other_db) == _ticks(db.url)


def test_record_requires_the_real_source(db: TestDb, tmp_path: Path) -> None:
    res = run_mpx("ingest", "--record", str(tmp_path / "x"))
    assert res.code == 2 and "--record works with DATA_SOURCE=real" in res.stderr


def test_pass_metrics_count_requests_by_endpoint_and_status(db: TestDb, api: PolymarketStandIn,
                                                            gateway) -> None:  # type: ignore[no-untyped-def]
    events = load_recorded_events()
    fed = next(e for e in events if e.get("title") == "Fed decision in March?")
    token = json.loads(fed["markets"][2]["clobTokenIds"])[0]
    api.set_events(events)
    api.set_book(token, {"market": fed["markets"][2]["conditionId"], "asset_id": token, "timestamp": "1",
                         "bids": [{"price": "1.5", "size": "1"}, {"price": "0.3", "size": "-5"}, {"price": "0.2",
                                                                                                "size": "5"}],
                         "asks": [{"price": "0.6", "size": "7"}]})
    api.fail("books", 429, times=1, retry_after=0.1)
    res = run_mpx("ingest", env=real_env(api, PUSHGATEWAY_URL=gateway.url))
    assert res.code == 0, res.stderr
    metrics = gateway.samples("mpx_ingest", venue="polymarket")
    assert metrics['mpx_source_requests_total{endpoint="books",source="real",status="429"}'] == 1
    assert metrics['mpx_source_requests_total{endpoint="books",source="real",status="200"}'] == 5  # 48 tokens / 10
    assert metrics['mpx_source_throttled_total{source="real"}'] == 1
    assert metrics['mpx_source_retries_total{source="real"}'] == 1
    assert metrics['mpx_ingest_dropped_levels_total{source="real"}'] == 2
    assert metrics['mpx_ingest_latency_ms{source="real"}'] > 0
    stored_at = db.scalar("SELECT extract(epoch FROM max(ts)) FROM ingest_pass")
    assert metrics["mpx_ingest_last_tick_timestamp"] == pytest.approx(float(stored_at))  # type: ignore[arg-type]


def test_missing_and_one_sided_books_are_stored_as_such_and_flagged(db: TestDb, api: PolymarketStandIn) -> None:
    events = load_recorded_events()
    fed = next(e for e in events if e.get("title") == "Fed decision in March?")
    gone, one_sided = (json.loads(m["clobTokenIds"])[0] for m in fed["markets"][:2])
    api.set_book(gone, None)
    api.set_book(one_sided, {"market": fed["markets"][1]["conditionId"], "asset_id": one_sided, "timestamp": "1",
                             "bids": [], "asks": [{"price": "0.9", "size": "10"}, {"price": "0.8", "size": "3"}]})
    res = run_mpx("ingest", env=real_env(api))
    assert res.code == 0, res.stderr
    assert db.scalar("SELECT %s = ANY(missing) FROM ingest_pass", (gone,)) is True
    assert db.scalar("SELECT count(*) FROM tick WHERE token_id = %s", (gone,)) == 0  # nothing guessed
    assert db.scalar("SELECT (best_bid IS NULL AND best_ask = 0.8) FROM tick WHERE token_id = %s", (one_sided,))
    listing = json.loads(run_mpx("markets", "list", "--search", "Fed", "--format", "json").stdout)
    flags = {r["id"]: r["book"] for r in listing}
    assert flags[fed["markets"][0]["conditionId"]] == "missing"
    assert flags[fed["markets"][1]["conditionId"]] == "no bids"
    assert flags[fed["markets"][2]["conditionId"]] == "ok"
    shown = json.loads(run_mpx("markets", "show", fed["markets"][1]["conditionId"], "--format", "json").stdout)
    assert [o["book"] for o in shown["outcomes"]] == ["no bids", "ok"]


def _counters(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM job_state WHERE key = 'ingest:counters'").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _record_offset_session(record: Path) -> None:
    """One pass against a Gamma without /events/keyset: the 404, then offset pages."""
    with PolymarketStandIn(load_recorded_events(), keyset=False) as server:
        assert run_mpx("ingest", "--record", str(record), env=real_env(server)).code == 0
        assert [p for _, p, _, s in server.requests if s == 404] == ["/events/keyset"]


def test_an_offset_paged_recording_replays_offset_paged(db: TestDb, other_db: str, tmp_path: Path) -> None:
    record = tmp_path / "session"
    _record_offset_session(record)
    manifest = json.loads((record / "pass-000001" / "manifest.json").read_text())
    assert manifest["events_paging"] == "offset"
    res = run_mpx("ingest", env={"DATA_SOURCE": "replay", "MPX_REPLAY_DIR": str(record), "MPX_DATABASE_URL": other_db})
    assert res.code == 0, res.stderr
    assert _ticks(other_db) == _ticks(db.url) and _ticks(db.url)
    recorded, replayed = _counters(db.url), _counters(other_db)
    assert recorded["events_offset_pages"] == replayed["events_offset_pages"] >= 1
    assert recorded["events_keyset_pages"] == replayed["events_keyset_pages"] == 0
    assert recorded["requests:events:404"] == replayed["requests:events:404"] == 1


def test_a_recording_from_before_keyset_paging_still_replays(db: TestDb, other_db: str, tmp_path: Path) -> None:
    """A pass recorded by an older mpx: no ``events_paging`` in its manifest and no keyset request in
    its responses (it paged by offset only). Replay must not try keyset — nothing recorded answers it."""
    record = tmp_path / "session"
    _record_offset_session(record)
    pass_dir = record / "pass-000001"
    manifest = json.loads((pass_dir / "manifest.json").read_text())
    del manifest["events_paging"]
    (pass_dir / "manifest.json").write_text(json.dumps(manifest))
    lines = (pass_dir / "responses.jsonl").read_text().splitlines()
    kept = [ln for ln in lines if "/events/keyset" not in json.loads(ln)["key"]]
    assert len(kept) == len(lines) - 1
    (pass_dir / "responses.jsonl").write_text("\n".join(kept) + "\n")
    res = run_mpx("ingest", env={"DATA_SOURCE": "replay", "MPX_REPLAY_DIR": str(record), "MPX_DATABASE_URL": other_db})
    assert res.code == 0, res.stderr
    assert _ticks(other_db) == _ticks(db.url)
    assert "requests:events:404" not in _counters(other_db)


def test_a_replay_that_cannot_page_as_recorded_says_so(db: TestDb, other_db: str, tmp_path: Path) -> None:
    record = tmp_path / "session"
    _record_offset_session(record)
    pass_dir = record / "pass-000001"
    manifest = json.loads((pass_dir / "manifest.json").read_text())
    (pass_dir / "manifest.json").write_text(json.dumps({**manifest, "events_paging": "keyset"}))
    res = run_mpx("ingest", env={"DATA_SOURCE": "replay", "MPX_REPLAY_DIR": str(record), "MPX_DATABASE_URL": other_db})
    assert res.code == 75 and "was listed with keyset paging but replays with offset" in res.stderr
    assert _ticks(other_db) == []
