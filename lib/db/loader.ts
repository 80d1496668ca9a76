/**
 * Writes floats' rows into Postgres, each float's update whole in one
 * transaction (several floats may share one, each statement then carrying
 * all of theirs: one round trip per statement for a batch): the float row,
 * its profiles (upsert on the natural key, and delete the profiles that left
 * the lake) and its climatology contributions, marking the cells whose
 * contributions changed. {@link flushClimatology} then recomputes the marked
 * cells from all floats' contributions, once for a batch of floats. Rows
 * whose values did not change are not rewritten, so loading the same lake
 * twice changes nothing (and says so in its counts).
 *
 * Two ways to send rows, measured against each other by bench/load.ts:
 * "batch" sends each column as one array parameter and inserts with
 * INSERT ... SELECT FROM unnest(...) (one statement per chunk of rows);
 * "row" sends one INSERT per row. Both use the same upsert.
 * Every value travels as a bind parameter; the only identifiers in the SQL
 * are this module's own column names, checked against a pattern anyway.
 */
import { LoadError } from "../errors.ts";
import { type PgClient, pgMessage } from "./postgres.ts";
import type { ContribRow, FloatLoad, FloatRow, ProfileRow } from "./rows.ts";

/** How rows are sent: one unnest() statement per chunk, or one INSERT per row. */
export type InsertMethod = "batch" | "row";

/** Rows per unnest() statement: large enough to amortise round trips, small enough to bound memory. */
const CHUNK_ROWS = 5000;

/**
 * Key of the transaction advisory lock under which climatology cells are
 * recomputed: loaders take turns, so an older view of the contributions
 * never overwrites a newer one.
 */
export const CLIMATOLOGY_LOCK_KEY = "7021781102613457731";

/** What loading one float changed in Postgres. */
export interface PgFloatStats {
  float: "inserted" | "updated" | "unchanged";
  profiles_inserted: number;
  profiles_updated: number;
  profiles_unchanged: number;
  profiles_deleted: number;
  contributions_changed: number;
}

/** One column of a table we load: its name, the array type it travels as, and how the value becomes the column's. */
interface Column<R> {
  name: string;
  /** Postgres type of one value as sent (the parameter is an array of it for "batch"). */
  type: string;
  value: (row: R) => unknown;
  /** SQL turning the sent value `v` into the column value; `v` by default. */
  expr?: (v: string) => string;
}

const ident = (name: string): string => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid SQL identifier ${JSON.stringify(name)}`);
  return name;
};

const textArrayFromJson = (v: string) => `ARRAY(SELECT jsonb_array_elements_text(${v}::jsonb))`;

const profileCols: Column<ProfileRow>[] = [
  { name: "float_id", type: "text", value: (r) => r.float_id },
  { name: "cycle_number", type: "integer", value: (r) => r.cycle_number },
  { name: "direction", type: "text", value: (r) => r.direction },
  { name: "profile_index", type: "integer", value: (r) => r.profile_index },
  { name: "dac", type: "text", value: (r) => r.dac },
  { name: "data_mode", type: "text", value: (r) => r.data_mode },
  { name: "quality_status", type: "text", value: (r) => r.quality_status },
  { name: "time", type: "timestamptz", value: (r) => r.time },
  { name: "juld_qc", type: "smallint", value: (r) => r.juld_qc },
  { name: "latitude", type: "float8", value: (r) => r.latitude },
  { name: "longitude", type: "float8", value: (r) => r.longitude },
  { name: "position_qc", type: "smallint", value: (r) => r.position_qc },
  { name: "positioning_system", type: "text", value: (r) => r.positioning_system },
  { name: "vertical_sampling_scheme", type: "text", value: (r) => r.vertical_sampling_scheme },
  { name: "data_centre", type: "text", value: (r) => r.data_centre },
  { name: "platform_type", type: "text", value: (r) => r.platform_type },
  { name: "n_levels", type: "integer", value: (r) => r.n_levels },
  { name: "max_pres", type: "float8", value: (r) => r.max_pres },
  { name: "parameters", type: "text", value: (r) => JSON.stringify(r.parameters), expr: textArrayFromJson },
  { name: "parameter_data_mode", type: "text", value: (r) => r.parameter_data_mode },
  { name: "parameter_stats", type: "text", value: (r) => r.parameter_stats, expr: (v) => `${v}::jsonb` },
  { name: "source_file", type: "text", value: (r) => r.source_file },
  { name: "bgc_source_file", type: "text", value: (r) => r.bgc_source_file },
  { name: "date_update", type: "timestamptz", value: (r) => r.date_update },
];
const profileKey = ["float_id", "cycle_number", "direction", "profile_index"];

const floatCols: Column<FloatRow>[] = [
  { name: "float_id", type: "text", value: (r) => r.float_id },
  { name: "dac", type: "text", value: (r) => r.dac },
  { name: "meta", type: "text", value: (r) => r.meta, expr: (v) => `${v}::jsonb` },
  { name: "n_profiles", type: "integer", value: (r) => r.n_profiles },
  { name: "n_cycles", type: "integer", value: (r) => r.n_cycles },
  { name: "first_profile_time", type: "timestamptz", value: (r) => r.first_profile_time },
  { name: "last_profile_time", type: "timestamptz", value: (r) => r.last_profile_time },
  { name: "last_cycle_number", type: "integer", value: (r) => r.last_cycle_number },
  { name: "last_latitude", type: "float8", value: (r) => r.last_latitude },
  { name: "last_longitude", type: "float8", value: (r) => r.last_longitude },
  { name: "last_position_time", type: "timestamptz", value: (r) => r.last_position_time },
  { name: "n_profiles_r", type: "integer", value: (r) => r.n_profiles_r },
  { name: "n_profiles_a", type: "integer", value: (r) => r.n_profiles_a },
  { name: "n_profiles_d", type: "integer", value: (r) => r.n_profiles_d },
  { name: "parameters", type: "text", value: (r) => JSON.stringify(r.parameters), expr: textArrayFromJson },
];

type Contrib = ContribRow & { float_id: string };
const contribCols: Column<Contrib>[] = [
  { name: "float_id", type: "text", value: (r) => r.float_id },
  { name: "parameter", type: "text", value: (r) => r.parameter },
  { name: "lat_bin", type: "smallint", value: (r) => r.lat_bin },
  { name: "lon_bin", type: "smallint", value: (r) => r.lon_bin },
  { name: "month", type: "smallint", value: (r) => r.month },
  { name: "band", type: "smallint", value: (r) => r.band },
  { name: "n", type: "bigint", value: (r) => r.n },
  { name: "sum", type: "float8", value: (r) => r.sum },
  { name: "sum_sq", type: "float8", value: (r) => r.sum_sq },
  { name: "m2", type: "float8", value: (r) => r.m2 },
];
const contribKey = ["float_id", "parameter", "lat_bin", "lon_bin", "month", "band"];
const cellKey = ["parameter", "lat_bin", "lon_bin", "month", "band"];

/**
 * The upsert statement for a table: rows come from `source` (unnest of array
 * parameters, or one VALUES row), rows equal to what is stored are left
 * alone, and each row written says whether it was inserted.
 */
function upsertSql<R>(table: string, cols: Column<R>[], key: string[], source: "batch" | "row", returning: string[] = []): string {
  const names = cols.map((c) => ident(c.name));
  const src = source === "batch"
    ? `unnest(${cols.map((c, i) => `$${i + 1}::${c.type}[]`).join(", ")}) AS s(${names.join(", ")})`
    : `(VALUES (${cols.map((c, i) => `$${i + 1}::${c.type}`).join(", ")})) AS s(${names.join(", ")})`;
  const select = cols.map((c) => (c.expr ? c.expr(`s.${c.name}`) : `s.${c.name}`)).join(", ");
  const rest = names.filter((n) => !key.includes(n));
  const t = ident(table);
  return `INSERT INTO ${t} AS t (${names.join(", ")}) SELECT ${select} FROM ${src}
ON CONFLICT (${key.map(ident).join(", ")}) DO UPDATE SET ${rest.map((n) => `${n} = EXCLUDED.${n}`).join(", ")}
WHERE (${rest.map((n) => `t.${n}`).join(", ")}) IS DISTINCT FROM (${rest.map((n) => `EXCLUDED.${n}`).join(", ")})
RETURNING (xmax = 0) AS inserted${returning.map((n) => `, t.${ident(n)}`).join("")}`;
}

const sqlCache = new Map<string, string>();
function cached(key: string, make: () => string): string {
  let s = sqlCache.get(key);
  if (s === undefined) sqlCache.set(key, (s = make()));
  return s;
}

/** Upserts rows; returns the rows written (inserted or changed), with `inserted` and the `returning` columns. */
async function upsert<R>(
  client: PgClient,
  table: string,
  cols: Column<R>[],
  key: string[],
  rows: R[],
  method: InsertMethod,
  returning: string[] = [],
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const text = cached(`${table}:${method}`, () => upsertSql(table, cols, key, method, returning));
  if (method === "batch") {
    for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
      const chunk = rows.slice(i, i + CHUNK_ROWS);
      const params = cols.map((c) => chunk.map(c.value));
      out.push(...(await client.query({ text, values: params })).rows);
    }
  } else {
    for (const row of rows) {
      out.push(...(await client.query({ text, values: cols.map((c) => c.value(row)) })).rows);
    }
  }
  return out;
}

/** Deletes the floats' rows of `table` whose key is not among `keep` (the rows the lake still has); each row deleted names its float. */
async function deleteMissing<R>(
  client: PgClient,
  table: string,
  cols: Column<R>[],
  key: string[],
  floatIds: string[],
  keep: R[],
  returning: string[] = [],
): Promise<Record<string, unknown>[]> {
  const sub = key.map((k) => cols.find((c) => c.name === k)!);
  const text = cached(`${table}:delete`, () =>
    `DELETE FROM ${ident(table)} AS t WHERE t.float_id = ANY($1::text[]) AND NOT EXISTS (
  SELECT 1 FROM unnest(${sub.map((c, i) => `$${i + 2}::${c.type}[]`).join(", ")}) AS k(${sub.map((c) => ident(c.name)).join(", ")})
  WHERE ${sub.map((c) => `k.${c.name} = t.${c.name}`).join(" AND ")})
RETURNING t.float_id${returning.map((n) => `, t.${ident(n)}`).join("")}`);
  return (await client.query({ text, values: [floatIds, ...sub.map((c) => keep.map(c.value))] })).rows;
}

/** A climatology cell, as returned by the contribution statements. */
type Cell = Pick<ContribRow, "parameter" | "lat_bin" | "lon_bin" | "month" | "band">;

/**
 * Recomputes the given climatology cells from every float's contributions:
 * cells left without contributions are deleted, the others upserted (left
 * alone when equal). Returns how many cells changed.
 */
async function recomputeCells(client: PgClient, cells: Cell[]): Promise<number> {
  if (cells.length === 0) return 0;
  const cellsSql = `SELECT DISTINCT * FROM unnest($1::text[], $2::smallint[], $3::smallint[], $4::smallint[], $5::smallint[])
    AS c(parameter, lat_bin, lon_bin, month, band)`;
  const gone = cached("climatology:gone", () => `DELETE FROM climatology cl USING (${cellsSql}) c
WHERE (cl.parameter, cl.lat_bin, cl.lon_bin, cl.month, cl.band) = (c.parameter, c.lat_bin, c.lon_bin, c.month, c.band)
  AND NOT EXISTS (SELECT 1 FROM climatology_contrib cc
                  WHERE (cc.parameter, cc.lat_bin, cc.lon_bin, cc.month, cc.band) = (c.parameter, c.lat_bin, c.lon_bin, c.month, c.band))`);
  // Each contribution is read once: the cell totals come from a window over the cell's
  // contributions (added in float order, so a cell's sums do not depend on where its rows sit
  // on disk), and the cell's m2 combines the floats' m2s (Chan et al.): their sum plus each
  // float's n times the squared offset of its mean from the cell's.
  const upsertCells = cached("climatology:upsert", () => `WITH w AS (
  SELECT cc.parameter, cc.lat_bin, cc.lon_bin, cc.month, cc.band, cc.float_id, cc.n, cc.sum, cc.m2,
         sum(cc.n) OVER cell AS tn, sum(cc.sum) OVER cell AS tsum, sum(cc.sum_sq) OVER cell AS tsq
  FROM (${cellsSql}) c
  JOIN climatology_contrib cc USING (parameter, lat_bin, lon_bin, month, band)
  WINDOW cell AS (PARTITION BY cc.parameter, cc.lat_bin, cc.lon_bin, cc.month, cc.band ORDER BY cc.float_id
                  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
), agg AS (
  SELECT parameter, lat_bin, lon_bin, month, band, tn::bigint AS n, count(*)::integer AS n_floats,
         tsum AS sum, tsq AS sum_sq, tsum / tn AS mean,
         sum(m2 + n * (sum / n - tsum / tn) ^ 2 ORDER BY float_id) AS m2
  FROM w
  GROUP BY parameter, lat_bin, lon_bin, month, band, tn, tsum, tsq
)
INSERT INTO climatology AS t (parameter, lat_bin, lon_bin, month, band, n, n_floats, sum, sum_sq, mean, stddev)
SELECT parameter, lat_bin, lon_bin, month, band, n, n_floats, sum, sum_sq, mean,
       CASE WHEN n > 1 THEN sqrt(greatest(0, m2) / (n - 1)) END
FROM agg
ON CONFLICT (parameter, lat_bin, lon_bin, month, band) DO UPDATE SET
  n = EXCLUDED.n, n_floats = EXCLUDED.n_floats, sum = EXCLUDED.sum, sum_sq = EXCLUDED.sum_sq,
  mean = EXCLUDED.mean, stddev = EXCLUDED.stddev
WHERE (t.n, t.n_floats, t.sum, t.sum_sq, t.mean, t.stddev) IS DISTINCT FROM
      (EXCLUDED.n, EXCLUDED.n_floats, EXCLUDED.sum, EXCLUDED.sum_sq, EXCLUDED.mean, EXCLUDED.stddev)`);
  const values = cellKey.map((k) => cells.map((c) => c[k as keyof Cell]));
  const deleted = await client.query({ text: gone, values });
  const written = await client.query({ text: upsertCells, values });
  return (deleted.rowCount ?? 0) + (written.rowCount ?? 0);
}

/** Replaces floats' climatology contributions and marks the cells whose contributions changed; how many changed, per float. */
async function writeContributions(client: PgClient, floats: { floatId: string; rows: ContribRow[] }[], method: InsertMethod): Promise<Map<string, number>> {
  const withFloat: Contrib[] = floats.flatMap((f) => f.rows.map((r) => ({ ...r, float_id: f.floatId })));
  const written = await upsert(client, "climatology_contrib", contribCols, contribKey, withFloat, method, ["float_id", ...cellKey]);
  const deleted = await deleteMissing(client, "climatology_contrib", contribCols, contribKey, floats.map((f) => f.floatId), withFloat, cellKey);
  const cells = [...written, ...deleted] as unknown as Cell[];
  if (cells.length) {
    await client.query({
      text: `INSERT INTO climatology_dirty (parameter, lat_bin, lon_bin, month, band)
             SELECT DISTINCT * FROM unnest($1::text[], $2::smallint[], $3::smallint[], $4::smallint[], $5::smallint[])`,
      values: cellKey.map((k) => cells.map((c) => c[k as keyof Cell])),
    });
  }
  return countBy([...written, ...deleted]);
}

/** How many rows name each float (rows from RETURNING t.float_id). */
function countBy(rows: Record<string, unknown>[], where: (r: Record<string, unknown>) => boolean = () => true): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) if (where(r)) out.set(String(r.float_id), (out.get(String(r.float_id)) ?? 0) + 1);
  return out;
}

/**
 * Recomputes every marked climatology cell from the committed contributions
 * and unmarks it, in one transaction; returns how many cells changed.
 * Concurrent loaders take turns here (a transaction advisory lock), so a
 * recomputation never overwrites a newer one with an older view of the
 * contributions; marks not yet committed when this one reads them stay for
 * the next.
 */
export async function flushClimatology(client: PgClient): Promise<number> {
  return await inTransaction(client, null, async () => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [CLIMATOLOGY_LOCK_KEY]);
    const marked = (await client.query("DELETE FROM climatology_dirty RETURNING parameter, lat_bin, lon_bin, month, band")).rows as Cell[];
    return await recomputeCells(client, marked);
  });
}

async function inTransaction<T>(client: PgClient, floatIds: string[] | null, work: () => Promise<T>): Promise<T> {
  try {
    await client.query("BEGIN");
    const out = await work();
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    if (err instanceof LoadError) throw err;
    const what = !floatIds ? "climatology update in Postgres" : `Postgres load of float${floatIds.length === 1 ? "" : "s"} ${floatIds.join(", ")}`;
    const context = floatIds?.length === 1 ? { floatId: floatIds[0] } : {};
    throw new LoadError(`${what} failed: ${pgMessage(err)}`, { ...context, target: "postgres" }, { cause: err });
  }
}

/**
 * Loads one float in one transaction: float row, profiles (and deletion of
 * those gone from the lake), climatology contributions and cells.
 */
export async function loadFloatPostgres(client: PgClient, data: FloatLoad, method: InsertMethod = "batch"): Promise<PgFloatStats> {
  return (await loadFloatsPostgres(client, [data], method)).get(data.float.float_id)!;
}

/**
 * Loads several floats in one transaction, as {@link loadFloatPostgres} does
 * one, with one statement per step for all of them; what changed, per float.
 * A failure rolls back every float of the call (the caller may then load
 * them one at a time to find the float at fault).
 */
export async function loadFloatsPostgres(client: PgClient, loads: FloatLoad[], method: InsertMethod = "batch"): Promise<Map<string, PgFloatStats>> {
  const ids = loads.map((d) => d.float.float_id);
  return await inTransaction(client, ids, async () => {
    const f = await upsert(client, "floats", floatCols, ["float_id"], loads.map((d) => d.float), loads.length === 1 ? "row" : method, ["float_id"]);
    const profiles = loads.flatMap((d) => d.profiles);
    const p = await upsert(client, "profiles", profileCols, profileKey, profiles, method, ["float_id"]);
    const gone = countBy(await deleteMissing(client, "profiles", profileCols, profileKey, ids, profiles));
    const inserted = countBy(p, (r) => r.inserted === true);
    const written = countBy(p);
    const contributions = await writeContributions(client, loads.map((d) => ({ floatId: d.float.float_id, rows: d.contributions })), method);
    const floatRow = new Map(f.map((r) => [String(r.float_id), r.inserted ? "inserted" as const : "updated" as const]));
    return new Map(loads.map((d) => {
      const id = d.float.float_id;
      const w = written.get(id) ?? 0, ins = inserted.get(id) ?? 0;
      return [id, {
        float: floatRow.get(id) ?? "unchanged",
        profiles_inserted: ins,
        profiles_updated: w - ins,
        profiles_unchanged: d.profiles.length - w,
        profiles_deleted: gone.get(id) ?? 0,
        contributions_changed: contributions.get(id) ?? 0,
      }];
    }));
  });
}

/** Removes a float that is no longer in the lake: its profiles, contributions (marking their cells) and row. */
export async function removeFloatPostgres(client: PgClient, floatId: string): Promise<{ profiles_deleted: number; contributions_changed: number }> {
  return await inTransaction(client, [floatId], async () => {
    const contributions = (await writeContributions(client, [{ floatId, rows: [] }], "batch")).get(floatId) ?? 0;
    const p = await client.query("DELETE FROM profiles WHERE float_id = $1", [floatId]);
    await client.query("DELETE FROM floats WHERE float_id = $1", [floatId]);
    return { profiles_deleted: p.rowCount ?? 0, contributions_changed: contributions };
  });
}

/** The float ids Postgres holds, of the given DACs (all when null). */
export async function postgresFloatIds(client: PgClient, dacs: string[] | null = null): Promise<string[]> {
  const res = dacs
    ? await client.query("SELECT float_id FROM floats WHERE dac = ANY($1::text[]) ORDER BY float_id", [dacs])
    : await client.query("SELECT float_id FROM floats ORDER BY float_id");
  return res.rows.map((r) => r.float_id);
}

/** One pressure band of the climatology. */
export interface PressureBand {
  band: number;
  label: string;
  pres_min: number;
  pres_max: number;
}

/** Makes the pressure_bands table say what the climatology computation uses (no-op when equal). */
export async function syncPressureBands(client: PgClient, bands: PressureBand[]): Promise<void> {
  await client.query(
    `INSERT INTO pressure_bands AS t (band, label, pres_min, pres_max)
     SELECT * FROM unnest($1::smallint[], $2::text[], $3::float8[], $4::float8[])
     ON CONFLICT (band) DO UPDATE SET label = EXCLUDED.label, pres_min = EXCLUDED.pres_min, pres_max = EXCLUDED.pres_max
     WHERE (t.label, t.pres_min, t.pres_max) IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.pres_min, EXCLUDED.pres_max)`,
    [bands.map((b) => b.band), bands.map((b) => b.label), bands.map((b) => b.pres_min), bands.map((b) => b.pres_max)],
  );
  await client.query("DELETE FROM pressure_bands WHERE NOT (band = ANY($1::smallint[]))", [bands.map((b) => b.band)]);
}

/** The load cursor Postgres keeps for a scope (lib/load/cursor.ts), as stored; null when there is none. */
export async function readPostgresCursor(client: PgClient, scope: string): Promise<string | null> {
  const r = await client.query("SELECT cursor::text AS cursor FROM load_cursors WHERE scope = $1", [scope]);
  return r.rows[0]?.cursor ?? null;
}

/** Stores the load cursor of a scope, once the floats it covers are loaded. */
export async function writePostgresCursor(client: PgClient, scope: string, cursor: unknown): Promise<void> {
  await client.query(
    `INSERT INTO load_cursors (scope, cursor, updated_at) VALUES ($1, $2::jsonb, now())
     ON CONFLICT (scope) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at`,
    [scope, JSON.stringify(cursor)],
  );
}
