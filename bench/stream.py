"""Benchmark: `mpx stream` against the websocket stand-in at full size.

Starts its own PostgreSQL cluster (bench/scratch_db.py), stores ASSETS/2 two-outcome markets, and
serves their books from the loopback stand-in (tests/stubs/polymarket_ws.py, 500 assets per
connection enforced). `mpx stream --for SECONDS` runs in a subprocess; from the first subscription
the stand-in sends RATE random `price_change` messages a second (each one level of one book, with
its best bid/ask) until SECONDS − 0.5 s have passed. Then it checks that the last stored book of
every asset equals the stand-in's final book, and reports messages per second handled, lag
(arrival − the message's server timestamp) p50/p99, flush times, and the process's CPU time / wall.
Finally `mpx evaluate` runs once over all the stream's passes (the rules at full universe size):
its time per pass says whether a scheduled evaluate keeps up with 1-second passes.

    python bench/stream.py [--assets 20000] [--rate 2000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402
from scratch_db import scratch_database  # noqa: E402

from mpx.adapters.db import markets as db_markets  # noqa: E402
from mpx.domain.models import Market, Outcome  # noqa: E402

from stubs.polymarket_ws import WsStandIn, make_books  # noqa: E402


def _steps(url: str) -> int:
    """Stream passes evaluate has covered (passes up to its watermark)."""
    with psycopg.connect(url) as conn:
        return int(conn.execute(
            """SELECT count(*) FROM ingest_pass WHERE ts <= (SELECT (value #>> '{}')::timestamptz FROM job_state
                                                         WHERE key = 'evaluate:watermark')""").fetchone()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=20_000)
    ap.add_argument("--rate", type=int, default=2_000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--eval-seconds", type=float, default=30, help="phase B: stream length")
    ap.add_argument("--eval-every", type=float, default=3, help="phase B: start mpx evaluate this often")
    args = ap.parse_args()
    markets = {f"0x{i:064x}": [f"{10**76 + 2 * i}", f"{10**76 + 2 * i + 1}"] for i in range(args.assets // 2)}
    sent = {"n": 0, "behind_max": 0.0, "seconds": 0.0}

    async def generate(api: WsStandIn, seconds: float, out: dict[str, float], after_previous: bool = True) -> None:
        """RATE changes a second once every asset is subscribed, until half a second before the
        stream's --for ends (its clock starts at its first connection, just before the first subscription)."""
        while after_previous and api.holder:  # the previous stream's connections are gone first
            await asyncio.sleep(0.05)
        api.first_subscribed_at = None
        await api.wait_subscribed(timeout=180)
        assert api.first_subscribed_at is not None
        started = time.monotonic()
        until = api.first_subscribed_at + seconds - 0.5
        out["seconds"] = until - started
        batch = max(1, args.rate // 100)
        i = 0
        while time.monotonic() < until:
            for _ in range(batch):
                asset, msg = api.random_change()
                await api._send(asset, json.dumps(msg))
                i += 1
            due = started + i / args.rate
            out["behind_max"] = max(out.get("behind_max", 0.0), time.monotonic() - due)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        out["n"] = i

    async def scenario(api: WsStandIn) -> None:
        await generate(api, args.seconds, sent, after_previous=False)

    with scratch_database() as url:
        with psycopg.connect(url) as conn:
            db_markets.upsert_metadata(conn, [], [
                Market(id=m, question=f"Bench {m[-6:]}?", outcomes=(Outcome(t[0], m, "Yes", 0),
                                                                   Outcome(t[1], m, "No", 1)))
                for m, t in markets.items()])
            conn.commit()
        books = make_books(markets, seed=1, complementary=True)
        with WsStandIn(books, cap=500, seed=2, scenario=scenario, start_after=1) as api:
            env = {**os.environ, "MPX_DATABASE_URL": url, "MPX_WS_URL": api.url, "MPX_CLOB_URL": api.rest_url,
                   "MPX_LOG_LEVEL": "WARNING", "MPX_RULES_DIR": str(ROOT / "rules"),
                   "MPX_SYNONYMS_FILE": str(ROOT / "synonyms.yml"), "MPX_SQL_DIR": str(ROOT / "sql")}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "mpx", "stream", "--for", f"{args.seconds:g}s"],
                                  env=env, capture_output=True, text=True, timeout=args.seconds + 120)
            wall = time.monotonic() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if proc.returncode != 0:
                sys.exit(f"mpx stream exited {proc.returncode}: {proc.stderr[-2000:]}")
            final = api.final_books()
            stand_in_stats = dict(api.stats)
            with psycopg.connect(url) as conn:
                details: dict[str, Any] = conn.execute(
                    "SELECT details FROM job_run WHERE job = 'stream' ORDER BY id DESC LIMIT 1").fetchone()[0]
                rows = conn.execute("""SELECT DISTINCT ON (token_id) token_id, bid_px, bid_sz, ask_px, ask_sz
                                       FROM tick ORDER BY token_id, ts DESC""").fetchall()
                passes = conn.execute("SELECT count(*), sum(written) FROM ingest_pass").fetchone()
            stored = {t: (list(zip(bp, bs, strict=True)), list(zip(ap, az, strict=True)))
                      for t, bp, bs, ap, az in rows}
            wrong = [t for t in final if stored.get(t) != final[t]]
            # phase B: the rules at full universe size, `mpx evaluate` every EVAL_EVERY s (as its timer
            # would run it) while a second stream pass runs at the same rate
            first = subprocess.run([sys.executable, "-m", "mpx", "evaluate"], env=env, capture_output=True, text=True)
            evals: list[tuple[float, int, int]] = []  # (seconds, phase-B passes covered so far, exit code)
            covered_before = _steps(url)
            sent_b: dict[str, float] = {}
            gen = asyncio.run_coroutine_threadsafe(generate(api, args.eval_seconds, sent_b), api.loop)
            stream_b = subprocess.Popen([sys.executable, "-m", "mpx", "stream", "--for", f"{args.eval_seconds:g}s"],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            while True:
                running = stream_b.poll() is None
                e0 = time.monotonic()
                ev = subprocess.run([sys.executable, "-m", "mpx", "evaluate", "--format", "json"], env=env,
                                    capture_output=True, text=True)
                evals.append((time.monotonic() - e0, _steps(url) - covered_before, ev.returncode))
                if not running:
                    break
                time.sleep(max(0.0, args.eval_every - (time.monotonic() - e0)))
            gen.result(30)
            stream_b.communicate()
            with psycopg.connect(url) as conn:
                behind = conn.execute("""SELECT extract(epoch FROM (SELECT max(ts) FROM ingest_pass)
                                         - (SELECT (value #>> '{}')::timestamptz FROM job_state
                                            WHERE key = 'evaluate:watermark'))""").fetchone()[0]
            # phase C: the same, with the rules run in-process on every flush (`mpx stream --evaluate`)
            sent_c: dict[str, float] = {}
            gen = asyncio.run_coroutine_threadsafe(generate(api, args.eval_seconds, sent_c), api.loop)
            c0 = time.monotonic()
            stream_c = subprocess.run([sys.executable, "-m", "mpx", "stream", "--for", f"{args.eval_seconds:g}s",
                                       "--evaluate"], env=env, capture_output=True, text=True)
            c_wall = time.monotonic() - c0
            gen.result(30)
            if stream_c.returncode != 0:
                sys.exit(f"mpx stream --evaluate exited {stream_c.returncode}: {stream_c.stderr[-2000:]}")
        with psycopg.connect(url) as conn:
            details_c: dict[str, Any] = conn.execute(
                "SELECT details FROM job_run WHERE job = 'stream' ORDER BY id DESC LIMIT 1").fetchone()[0]
            details_b: dict[str, Any] = conn.execute(
                "SELECT details FROM job_run WHERE job = 'stream' ORDER BY id DESC OFFSET 1 LIMIT 1").fetchone()[0]

    msgs = details["messages"]
    handled = sum(v for k, v in msgs.items() if k != "malformed")
    seconds = details["seconds"]
    print(f"mpx stream benchmark: {args.assets} assets over {details['connections']} connections, "
          f"{args.rate} price_change/s for {args.seconds:g} s (stand-in in the bench process, "
          f"mpx stream in a subprocess, one PostgreSQL; {os.cpu_count()} cores)")
    print(f"  sent by the stand-in:   {sent['n']} price_change in {sent['seconds']:.1f} s "
          f"({sent['n'] / sent['seconds']:.0f}/s, from the last subscription to 0.5 s before the end; "
          f"generator at most {sent['behind_max']:.3f} s behind schedule)")
    print(f"  handled by mpx stream:  {handled} messages in {seconds:.1f} s = {handled / seconds:.0f}/s "
          f"(by type: {json.dumps(msgs, sort_keys=True)})")
    print(f"  lag (arrival − message timestamp): p50 {details['lag_p50_s'] * 1000:.1f} ms, "
          f"p99 {details['lag_p99_s'] * 1000:.1f} ms; after the first flush (the 20,000-book initial dump): "
          f"p50 {(details['steady_lag_p50_s'] or 0) * 1000:.1f} ms, "
          f"p99 {(details['steady_lag_p99_s'] or 0) * 1000:.1f} ms")
    print(f"  passes stored: {passes[0]} ({passes[1]} ticks written); flush p50 {details['flush_p50_s']:.3f} s, "
          f"first (every book) {details['flush_first_s']:.3f} s, slowest {details['flush_max_s']:.3f} s; "
          f"re-snapshots {details['resnapshots']}, reconnects {details['reconnects']}")
    print(f"  CPU: {cpu:.1f} s over {wall:.1f} s wall = {cpu / wall:.2f} cores (the whole process, start-up "
          f"and the 20,000-book initial dump included)")
    print(f"  stored books equal to the stand-in's final books: {len(final) - len(wrong)}/{len(final)}"
          + ("" if not wrong else f" — MISMATCH e.g. {wrong[:3]}"))
    print(f"  stand-in: {json.dumps(stand_in_stats, sort_keys=True)}")
    first_line = (first.stdout.strip().splitlines() or ["?"])[0]
    print(f"  then `mpx evaluate` once (first run: the latest state of {args.assets} books): exit {first.returncode}, "
          f"{first_line}")
    print(f"  phase B: a second {args.eval_seconds:g}-s stream pass ({sent_b.get('n', 0)} price_change, "
          f"{details_b['passes']} passes, lag p50 {details_b['lag_p50_s'] * 1000:.1f} ms / p99 "
          f"{details_b['lag_p99_s'] * 1000:.1f} ms, steady p99 {(details_b['steady_lag_p99_s'] or 0) * 1000:.1f} ms) "
          f"with `mpx evaluate` started every {args.eval_every:g} s:")
    print("    evaluate runs (wall s / passes evaluated so far / exit): "
          + ", ".join(f"{sec:.1f}/{steps}/{code}" for sec, steps, code in evals))
    total_steps = evals[-1][1] if evals else 0
    eval_time = sum(sec for sec, _, _ in evals)
    print(f"    {total_steps} passes evaluated in {eval_time:.1f} s of evaluate wall time = "
          f"{eval_time / max(1, total_steps):.3f} s per 1-s pass; evaluate's watermark ends "
          f"{float(behind or 0):.1f} s behind the last pass")
    ev_c = details_c["evaluate"]
    print(f"  phase C: a {args.eval_seconds:g}-s `mpx stream --evaluate` ({sent_c.get('n', 0)} price_change, "
          f"{c_wall:.1f} s wall with start-up and the universe load): {details_c['passes']} passes, "
          f"{ev_c['steps']} rule steps (p50 {ev_c['step_p50_s']:.3f} s, max {ev_c['step_max_s']:.3f} s), "
          f"{ev_c['opened']} opened / {ev_c['closed']} closed; lag p50 {details_c['lag_p50_s'] * 1000:.1f} ms, "
          f"p99 {details_c['lag_p99_s'] * 1000:.1f} ms "
          f"(steady p99 {(details_c['steady_lag_p99_s'] or 0) * 1000:.1f} ms), "
          f"flush p50 {details_c['flush_p50_s']:.3f} s")
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
