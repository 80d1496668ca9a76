/**
 * Helpers for the load tests: full dumps of what the load writes to Postgres for "a second run changes nothing" comparisons, and
 * DuckDB sessions over a test lake for "Postgres equals the lake" ones.
 */
import type pg from "pg";
import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";

/** The tables the load writes, with the order that makes their dumps comparable. */
export const LOADED_TABLES: Record<string, string> = {
  floats: "float_id",
  profiles: "float_id, cycle_number, direction, profile_index",
  climatology: "parameter, lat_bin, lon_bin, month, band",
  climatology_contrib: "float_id, parameter, lat_bin, lon_bin, month, band",
  pressure_bands: "band",
  schema_migrations: "version",
};

/**
 * Every row of every loaded table as JSON text (jsonb renders doubles
 * exactly and timestamps to the microsecond), plus each table's physical
 * row versions: an UPDATE that rewrote a row with equal values changes its
 * ctid, so "nothing changed" really means nothing was written.
 */
export async function dumpPostgres(pool: pg.Pool): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [table, order] of Object.entries(LOADED_TABLES)) {
    const rows = await pool.query(`SELECT ctid::text AS ctid, to_jsonb(t)::text AS row FROM ${table} t ORDER BY ${order}`);
    out[table] = rows.rows.map((r) => r.row);
    out[`${table}#ctid`] = rows.rows.map((r) => r.ctid);
  }
  return out;
}

/** A DuckDB session with the lake's views (lib/duckdb.ts) over a local lake directory. */
export async function lakeSession(root: string): Promise<DuckSession> {
  const s = await openDuckDB({ threads: 1 });
  await createLakeViews(s, root);
  return s;
}

/** Rows of a DuckDB query as JavaScript values (DOUBLE as number, lists and structs as arrays and objects). */
export async function duckRows(s: DuckSession, sql: string): Promise<Record<string, unknown>[]> {
  return (await s.conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

/**
 * The gridded climatology computed straight from the lake's measurements,
 * written independently of lake/aggregates/ (its own band CASE, its own
 * filters), with DuckDB's own avg and stddev_samp.
 */
export const DIRECT_CLIMATOLOGY_SQL = `
WITH good AS (
  SELECT * FROM measurements_bgc
  WHERE juld_qc IN (1, 2) AND position_qc IN (1, 2) AND pres_qc IN (1, 2)
    AND time IS NOT NULL AND latitude IS NOT NULL AND longitude IS NOT NULL AND pres IS NOT NULL
), v AS (
  SELECT float_id, 'temp' AS parameter, latitude, longitude, time, pres, CAST(temp AS DOUBLE) AS x FROM good WHERE temp_qc IN (1, 2) AND temp IS NOT NULL
  UNION ALL SELECT float_id, 'psal', latitude, longitude, time, pres, CAST(psal AS DOUBLE) FROM good WHERE psal_qc IN (1, 2) AND psal IS NOT NULL
  UNION ALL SELECT float_id, 'doxy', latitude, longitude, time, pres, CAST(doxy AS DOUBLE) FROM good WHERE doxy_qc IN (1, 2) AND doxy IS NOT NULL
)
SELECT parameter,
       CAST(CASE WHEN latitude >= 90 THEN 89 ELSE floor(latitude) END AS INTEGER) AS lat_bin,
       CAST(CASE WHEN longitude >= 180 THEN 179 ELSE floor(longitude) END AS INTEGER) AS lon_bin,
       CAST(month(time) AS INTEGER) AS month,
       CASE WHEN pres < 10 THEN 0 WHEN pres < 50 THEN 1 WHEN pres < 100 THEN 2 WHEN pres < 200 THEN 3
            WHEN pres < 500 THEN 4 WHEN pres < 1000 THEN 5 WHEN pres < 2000 THEN 6 ELSE 7 END AS band,
       CAST(count(*) AS INTEGER) AS n, avg(x) AS mean, stddev_samp(x) AS stddev,
       CAST(count(DISTINCT float_id) AS INTEGER) AS n_floats
FROM v
GROUP BY ALL
ORDER BY parameter, lat_bin, lon_bin, month, band`;

/** a and b agree to `rel` relative (or 1e-12 absolute, for values near zero). */
export function close(a: number | null, b: number | null, rel = 1e-9): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= Math.max(1e-12, rel * Math.max(Math.abs(a), Math.abs(b)));
}
