/**
 * Reads of the Postgres serving tables (lib/db/migrations): a float's
 * profiles and a climatology cell. Times leave as ISO UTC with microseconds,
 * as the hot layer spells them. Read only (the pool's sessions are read-only).
 */
import type pg from "pg";
import { profileColumns } from "../db/rows.ts";

const isoUs = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${col}`;
const TIME_COLUMNS = new Set(["time", "date_update"]);

/** A float's profiles in cycle order, or null when Postgres does not know the float. */
export async function floatProfiles(pool: pg.Pool, wmo: string): Promise<Record<string, unknown>[] | null> {
  const cols = profileColumns.map((c) => (TIME_COLUMNS.has(c) ? isoUs(c) : c)).join(", ");
  const { rows } = await pool.query(
    `SELECT ${cols} FROM profiles WHERE float_id = $1 ORDER BY cycle_number, direction, profile_index`,
    [wmo],
  );
  if (rows.length === 0) {
    const known = await pool.query("SELECT 1 FROM floats WHERE float_id = $1", [wmo]);
    if (known.rowCount === 0) return null;
  }
  return rows;
}

/** The climatology cells (one per parameter, or the one asked for) of a 1x1 degree box, month and pressure band. */
export async function climatologyCells(
  pool: pg.Pool,
  q: { lon: number; lat: number; month: number; pressure_band: number; parameter?: string },
): Promise<Record<string, unknown>[]> {
  // Cells are floor(lat) in -90..89 and floor(lon) in -180..179 (lake/aggregates/climatology_points.sql).
  const latBin = Math.min(89, Math.floor(q.lat));
  const lonBin = Math.min(179, Math.floor(q.lon));
  const { rows } = await pool.query(
    `SELECT c.parameter, c.lat_bin, c.lon_bin, c.month, c.band, b.label AS band_label,
            CASE WHEN b.pres_min = '-infinity' THEN NULL ELSE b.pres_min END AS pres_min,
            CASE WHEN b.pres_max = 'infinity' THEN NULL ELSE b.pres_max END AS pres_max,
            c.n::float8 AS n, c.n_floats, c.sum, c.sum_sq, c.mean, c.stddev
       FROM climatology c JOIN pressure_bands b ON b.band = c.band
      WHERE c.lat_bin = $1 AND c.lon_bin = $2 AND c.month = $3 AND c.band = $4 AND ($5::text IS NULL OR c.parameter = $5)
      ORDER BY c.parameter`,
    [latBin, lonBin, q.month, q.pressure_band, q.parameter ?? null],
  );
  return rows;
}

/** Round trip to Postgres, for /healthz. */
export async function pingPostgres(pool: pg.Pool): Promise<void> {
  await pool.query("SELECT 1");
}
