"""``rule_kpi_daily``: the rollup (one statement, idempotent) and the query behind ``mpx kpi``."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

ROLLUP_SQL = """
WITH s AS (
    SELECT (ts AT TIME ZONE 'UTC')::date AS day, rule_id, level, estimated_edge_bps,
           coalesce((payload->>'profit')::numeric, 0) AS profit,
           ts - lag(ts) OVER (PARTITION BY rule_id, (ts AT TIME ZONE 'UTC')::date ORDER BY ts, id) AS gap
    FROM signal WHERE ts >= %(since)s::date::timestamp AT TIME ZONE 'UTC'),
agg AS (
    SELECT day, rule_id, count(*) AS signals, count(*) FILTER (WHERE level = 'P1') AS p1,
           round(avg(extract(epoch FROM gap)), 3) AS avg_gap_seconds,
           round(avg(estimated_edge_bps), 2) AS avg_edge_bps, sum(profit) AS total_edge_usdc
    FROM s GROUP BY day, rule_id),
ep AS (
    SELECT (opened_at AT TIME ZONE 'UTC')::date AS day, rule_id, count(*) AS episodes,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM duration))
               FILTER (WHERE closed_at IS NOT NULL) AS median_episode_seconds
    FROM opportunity WHERE opened_at >= %(since)s::date::timestamp AT TIME ZONE 'UTC' GROUP BY 1, 2)
INSERT INTO rule_kpi_daily AS k (day, rule_id, signals, p1, avg_gap_seconds, avg_edge_bps, total_edge_usdc,
                                 episodes, median_episode_seconds, updated_at)
SELECT coalesce(agg.day, ep.day), coalesce(agg.rule_id, ep.rule_id), coalesce(agg.signals, 0), coalesce(agg.p1, 0),
       agg.avg_gap_seconds, agg.avg_edge_bps, coalesce(agg.total_edge_usdc, 0), coalesce(ep.episodes, 0),
       round(ep.median_episode_seconds::numeric, 3), now()
FROM agg FULL JOIN ep ON ep.day = agg.day AND ep.rule_id = agg.rule_id
ON CONFLICT (day, rule_id) DO UPDATE SET
    signals = EXCLUDED.signals, p1 = EXCLUDED.p1, avg_gap_seconds = EXCLUDED.avg_gap_seconds,
    avg_edge_bps = EXCLUDED.avg_edge_bps, total_edge_usdc = EXCLUDED.total_edge_usdc, episodes = EXCLUDED.episodes,
    median_episode_seconds = EXCLUDED.median_episode_seconds, updated_at = now()
"""


def rollup(conn: psycopg.Connection, since: date) -> int:
    """Recompute every (day, rule) from ``since`` on; returns rows written. A day whose signals are
    gone keeps its row (KPIs outlive retention)."""
    return conn.execute(ROLLUP_SQL, {"since": since}).rowcount


def query(conn: psycopg.Connection, since: date) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT day, rule_id, signals, p1, avg_gap_seconds, avg_edge_bps, total_edge_usdc, episodes,
                  median_episode_seconds
           FROM rule_kpi_daily WHERE day >= %s ORDER BY day DESC, rule_id""", (since,)).fetchall()
