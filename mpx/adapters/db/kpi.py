"""``rule_kpi_daily``: the rollup (one statement, idempotent) and the query behind ``mpx kpi``.

One row per UTC day, rule and class. Arbitrage rows average the net edge and total the profit
locked in at entry (payout − cost incl. fees at the executable size); indicator rows average their
own measure (``measure``: move_bps, break_bps, return_if_right_bps, gap_bps) and have no edge or
profit — a move is not money."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

ROLLUP_SQL = """
WITH s AS (
    SELECT (ts AT TIME ZONE 'UTC')::date AS day, rule_id, finding_class, level, estimated_edge_bps,
           coalesce(measure, 'net_edge_bps') AS measure,
           CASE WHEN finding_class = 'arbitrage' THEN estimated_edge_bps ELSE measure_value END AS metric,
           CASE WHEN finding_class = 'arbitrage'
                THEN coalesce((payload->'arbitrage'->>'profit')::numeric, (payload->>'profit')::numeric, 0) END
               AS profit,
           ts - lag(ts) OVER (PARTITION BY rule_id, finding_class, (ts AT TIME ZONE 'UTC')::date ORDER BY ts, id)
               AS gap
    FROM signal WHERE ts >= %(since)s::date::timestamp AT TIME ZONE 'UTC'),
agg AS (
    SELECT day, rule_id, finding_class, min(measure) AS measure, count(*) AS signals,
           count(*) FILTER (WHERE level = 'P1') AS p1, round(avg(extract(epoch FROM gap)), 3) AS avg_gap_seconds,
           round(avg(estimated_edge_bps), 2) AS avg_edge_bps, sum(profit) AS total_edge_usdc,
           round(avg(metric), 2) AS avg_measure
    FROM s GROUP BY day, rule_id, finding_class),
ep AS (
    SELECT (opened_at AT TIME ZONE 'UTC')::date AS day, rule_id, finding_class, min(measure) AS measure,
           count(*) AS episodes,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM duration))
               FILTER (WHERE closed_at IS NOT NULL) AS median_episode_seconds
    FROM opportunity WHERE opened_at >= %(since)s::date::timestamp AT TIME ZONE 'UTC' GROUP BY 1, 2, 3)
INSERT INTO rule_kpi_daily AS k (day, rule_id, finding_class, measure, signals, p1, avg_gap_seconds, avg_edge_bps,
                                 total_edge_usdc, avg_measure, episodes, median_episode_seconds, updated_at)
SELECT coalesce(agg.day, ep.day), coalesce(agg.rule_id, ep.rule_id), coalesce(agg.finding_class, ep.finding_class),
       coalesce(agg.measure, ep.measure), coalesce(agg.signals, 0), coalesce(agg.p1, 0), agg.avg_gap_seconds,
       agg.avg_edge_bps,
       CASE WHEN coalesce(agg.finding_class, ep.finding_class) = 'arbitrage' THEN coalesce(agg.total_edge_usdc, 0) END,
       agg.avg_measure, coalesce(ep.episodes, 0), round(ep.median_episode_seconds::numeric, 3), now()
FROM agg FULL JOIN ep ON ep.day = agg.day AND ep.rule_id = agg.rule_id AND ep.finding_class = agg.finding_class
ON CONFLICT (day, rule_id, finding_class) DO UPDATE SET
    measure = EXCLUDED.measure, signals = EXCLUDED.signals, p1 = EXCLUDED.p1,
    avg_gap_seconds = EXCLUDED.avg_gap_seconds, avg_edge_bps = EXCLUDED.avg_edge_bps,
    total_edge_usdc = EXCLUDED.total_edge_usdc, avg_measure = EXCLUDED.avg_measure, episodes = EXCLUDED.episodes,
    median_episode_seconds = EXCLUDED.median_episode_seconds, updated_at = now()
"""


def rollup(conn: psycopg.Connection, since: date) -> int:
    """Recompute every (day, rule) from ``since`` on; returns rows written. A day whose signals are
    gone keeps its row (KPIs outlive retention)."""
    return conn.execute(ROLLUP_SQL, {"since": since}).rowcount


def query(conn: psycopg.Connection, since: date) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT day, rule_id, finding_class AS class, signals, p1, avg_gap_seconds, avg_edge_bps, total_edge_usdc,
                  measure, avg_measure, episodes, median_episode_seconds
           FROM rule_kpi_daily WHERE day >= %s ORDER BY day DESC, rule_id, finding_class""", (since,)).fetchall()
