/**
 * Dumps and comparisons for the reliability tests: what a lake, a Postgres
 * database and a Redis prefix hold, in a form where two runs that did the same
 * work compare equal (run ids, wall-clock times and key prefixes left out),
 * and checks that hold after any run: the raw zone agrees with the sync
 * manifests, no temporary object is visible to readers, no row is doubled.
 *
 * These are written independently of lib/ (lib/gdac/verify.ts does a similar
 * raw-zone check for operators): a test should not take the code under test's
 * word for what the lake holds.
 */
import { APPLIED_PREFIX, CURSOR_PREFIX, journalPrefix, LIVE_KEY, PARQUET_PREFIX, parseSegmentKey, parseTableFileKey, RUNS_PREFIX, TOMBSTONE_PREFIX } from "../../lib/lake/layout.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type pg from "pg";
import type { Redis } from "ioredis";
import type { LakeStore } from "../../lib/lake/store.ts";

/**
 * JSON fields that differ between two runs doing the same work: when or by
 * which run something was written (not what was written).
 */
export const VOLATILE_JSON_FIELDS = new Set([
  "fetched_at",
  "updated_at",
  "parsed_at",
  "run_id",
  "modified",
  "time",
  "removed_at",
  "started_at",
  "ended_at",
]);

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** A JSON value with the volatile fields removed at every depth, keys sorted. */
export function stableJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stableJson);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      if (VOLATILE_JSON_FIELDS.has(k)) continue;
      out[k] = stableJson((value as Record<string, unknown>)[k]);
    }
    return out;
  }
  return value;
}

/** What one lake object holds: the normalised JSON text for .json objects, the SHA-256 and size otherwise. */
export type LakeEntry = { json: string } | { sha256: string; size: number };

export interface DumpLakeOptions {
  /** Key prefixes to leave out (e.g. "removed/", "runs/", "locks/"). */
  exclude?: string[];
  /**
   * How the tables are dumped (see dumpLake): "rows" (default) by the rows their views read, "files" by
   * each table object's bytes (a lake that is never compacted, where a damaged file must stay a key),
   * "none" left out.
   */
  tables?: "rows" | "files" | "none";
}

const BOOKKEEPING = [RUNS_PREFIX, journalPrefix("raw"), journalPrefix("parquet"), APPLIED_PREFIX, CURSOR_PREFIX];

/** True for the objects that make up the lake's tables: staging files, segments, the live list, tombstones. */
export const isTableObject = (key: string): boolean =>
  parseTableFileKey(key) !== null || parseSegmentKey(key) !== null || key === LIVE_KEY || key.startsWith(TOMBSTONE_PREFIX);

/**
 * Every object of a lake (through its LakeStore, so local and S3 lakes dump
 * the same way), by key. JSON objects are compared without their volatile
 * fields; other objects by content hash. The tables are compared by what a
 * reader sees, not by file: which staging files, segments and tombstones hold
 * a table's rows depends on when compactions ran and on their grace period,
 * so the dump has one `rows:<view>` entry per table view instead (the count
 * and the SHA-256 of its sorted rows, read through the lake's views).
 */
export async function dumpLake(store: LakeStore, opts: DumpLakeOptions = {}): Promise<Record<string, LakeEntry>> {
  const out: Record<string, LakeEntry> = {};
  const tables = opts.tables ?? "rows";
  if (tables === "rows") Object.assign(out, await tableRowDigests(store));
  for (const o of await store.list("")) {
    if (tables !== "files" && isTableObject(o.key)) continue;
    // Run records are one per run (their ids, times and pids differ by nature): never compared; nor the
    // other bookkeeping of runs, one per run or per scope (shards keep their own): change journal
    // entries, the sync's applied digests, journal cursors.
    if ([...BOOKKEEPING, ...(opts.exclude ?? [])].some((p) => o.key.startsWith(p))) continue;
    const bytes = await store.get(o.key);
    if (!bytes) continue; // removed since listing
    if (o.key.endsWith(".json")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        out[o.key] = { json: `unparsable JSON, sha256 ${sha256(bytes)}` };
        continue;
      }
      out[o.key] = { json: JSON.stringify(stableJson(parsed)) };
    } else {
      out[o.key] = { sha256: sha256(bytes), size: bytes.byteLength };
    }
  }
  return out;
}

/**
 * Per table view, the number of rows and the SHA-256 of the sorted rows as a
 * reader of the lake sees them (createLakeViews over one snapshot). An S3
 * lake's table objects are copied to a local folder first.
 */
export async function tableRowDigests(store: LakeStore): Promise<Record<string, LakeEntry>> {
  const { LocalLakeStore } = await import("../../lib/lake/local.ts");
  const { lakeRows } = await import("./lake-rows.ts");
  let root = store.localRoot;
  let copy: string | null = null;
  if (!root) {
    copy = root = await mkdtemp(join(tmpdir(), "argo-lake-rows-"));
    const local = new LocalLakeStore(root);
    for (const o of await store.list(PARQUET_PREFIX)) {
      if (!isTableObject(o.key)) continue;
      const bytes = await store.get(o.key);
      if (bytes) await local.put(o.key, bytes);
    }
  }
  try {
    const out: Record<string, LakeEntry> = {};
    for (const [view, rows] of Object.entries(await lakeRows(root, { tablesOnly: true }))) {
      out[`rows:${view}`] = { sha256: sha256(new TextEncoder().encode(rows.join("\n"))), size: rows.length };
    }
    return out;
  } finally {
    if (copy) await rm(copy, { recursive: true, force: true });
  }
}

/**
 * The differences between two dumps (keys missing on either side, values
 * that differ), one line each; empty when they are equal. Meant for
 * `expect(diffDumps(a, b)).toEqual([])`, which prints the lines on failure.
 */
export function diffDumps(actual: Record<string, unknown>, expected: Record<string, unknown>, limit = 40): string[] {
  const lines: string[] = [];
  const show = (v: unknown) => {
    const s = JSON.stringify(v);
    return s.length > 300 ? s.slice(0, 300) + "..." : s;
  };
  for (const k of Object.keys(expected).sort()) {
    if (!(k in actual)) lines.push(`missing: ${k}`);
    else if (JSON.stringify(actual[k]) !== JSON.stringify(expected[k])) lines.push(`differs: ${k}: ${show(actual[k])} != ${show(expected[k])}`);
  }
  for (const k of Object.keys(actual).sort()) if (!(k in expected)) lines.push(`extra: ${k}`);
  return lines.length > limit ? [...lines.slice(0, limit), `... ${lines.length - limit} more`] : lines;
}

/**
 * Every file below a local lake directory whose name starts with a dot:
 * temporary files a killed writer left behind. Readers never see them (the
 * stores skip them and the lake's globs match `*.parquet`), so they may
 * exist after a crash; this lists them so a test can say so.
 */
export function hiddenFiles(root: string): string[] {
  return (readdirSync(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.startsWith("."))
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

/** Keys a reader of the lake would see that look like temporary objects (hidden names or a .tmp suffix). */
export async function visibleTempKeys(store: LakeStore): Promise<string[]> {
  return (await store.list("")).map((o) => o.key).filter((k) => k.split("/").some((s) => s.startsWith(".")) || /\.tmp$/.test(k));
}

/**
 * Checks that the sync manifests and the raw zone agree: every entry marked
 * present names a raw object with that SHA-256 and size, and every raw object
 * is a present entry of its float's manifest. Returns one line per
 * disagreement.
 */
export async function manifestProblems(store: LakeStore): Promise<string[]> {
  const problems: string[] = [];
  const recorded = new Set<string>();
  const raw = (await store.list("raw/dac=")).map((o) => o.key);
  for (const m of await store.list("raw/_manifest/")) {
    const bytes = await store.get(m.key);
    let manifest: { dac: string; wmo: string; files: Record<string, { key: string; sha256: string; size: number; status: string }> };
    try {
      manifest = JSON.parse(new TextDecoder().decode(bytes!));
    } catch {
      problems.push(`${m.key}: not JSON`);
      continue;
    }
    const expectKey = `raw/_manifest/dac=${manifest.dac}/wmo=${manifest.wmo}.json`;
    if (m.key !== expectKey) problems.push(`${m.key}: manifest of ${manifest.dac}/${manifest.wmo} at the wrong key`);
    for (const [path, e] of Object.entries(manifest.files)) {
      if (e.status !== "present") continue;
      if (!e.key.startsWith(`raw/dac=${manifest.dac}/wmo=${manifest.wmo}/`)) problems.push(`${m.key}: ${path} recorded at ${e.key}, outside the float's raw folder`);
      recorded.add(e.key);
      const body = await store.get(e.key);
      if (!body) problems.push(`${e.key}: in the manifest of ${manifest.wmo} but not in the lake`);
      else if (sha256(body) !== e.sha256 || body.byteLength !== e.size) problems.push(`${e.key}: content differs from its manifest entry`);
    }
  }
  for (const key of raw) if (!recorded.has(key)) problems.push(`${key}: in the raw zone but in no manifest`);
  return problems;
}

/** Primary keys of the tables the load writes, for ordering and duplicate checks. */
export const PG_TABLE_KEYS: Record<string, string[]> = {
  floats: ["float_id"],
  profiles: ["float_id", "cycle_number", "direction", "profile_index"],
  climatology: ["parameter", "lat_bin", "lon_bin", "month", "band"],
  climatology_contrib: ["float_id", "parameter", "lat_bin", "lon_bin", "month", "band"],
  pressure_bands: ["band"],
  schema_migrations: ["version"],
};

/** Columns that say when a row was written rather than what it holds. */
const PG_VOLATILE_COLUMNS: Record<string, string[]> = { schema_migrations: ["applied_at"] };

/**
 * Every row of every loaded table (job_runs left out: each run adds its own),
 * as JSON text without volatile columns, ordered by primary key. Tables that
 * do not exist dump as null.
 */
export async function dumpPostgresRows(pool: pg.Pool): Promise<Record<string, string[] | null>> {
  const out: Record<string, string[] | null> = {};
  for (const [table, key] of Object.entries(PG_TABLE_KEYS)) {
    const exists = (await pool.query("SELECT to_regclass($1) AS t", [table])).rows[0].t;
    if (!exists) {
      out[table] = null;
      continue;
    }
    const drop = (PG_VOLATILE_COLUMNS[table] ?? []).map((c) => ` - '${c}'`).join("");
    const rows = await pool.query(`SELECT (to_jsonb(t)${drop})::text AS row FROM ${table} t ORDER BY ${key.join(", ")}`);
    out[table] = rows.rows.map((r) => r.row);
  }
  return out;
}

/** Row counts of the loaded tables, for messages and figures. */
export async function pgCounts(pool: pg.Pool): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of Object.keys(PG_TABLE_KEYS)) {
    const exists = (await pool.query("SELECT to_regclass($1) AS t", [table])).rows[0].t;
    out[table] = exists ? (await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n : -1;
  }
  return out;
}

/** Redis glob characters escaped, so a prefix matches only itself. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");

/**
 * Every key under a prefix, with the prefix taken off (so two prefixes
 * compare), its type, its whole value and whether it expires; the load's
 * journal cursors left out (where a run read to, stamped like run records).
 */
export async function dumpRedisPrefix(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${globEscape(prefix)}*`, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  const out: Record<string, unknown> = {};
  for (const key of [...new Set(keys)].sort()) {
    if (key.slice(prefix.length).startsWith("load:cursor:")) continue;
    const type = await redis.type(key);
    let value: unknown;
    if (type === "string") value = await redis.get(key);
    else if (type === "hash") value = Object.entries(await redis.hgetall(key)).sort();
    else if (type === "set") value = (await redis.smembers(key)).sort();
    else if (type === "zset") value = await redis.zrange(key, 0, -1, "WITHSCORES");
    const ttl = await redis.ttl(key);
    out[key.slice(prefix.length)] = { type, value, expires: ttl > 0 };
  }
  return out;
}

/** Everything a run leaves behind, ready to compare with another run's. */
export interface PipelineSnapshot {
  lake: Record<string, LakeEntry>;
  postgres: Record<string, string[] | null>;
  redis: Record<string, unknown>;
}

/** Takes a snapshot of a lake, a database and a Redis prefix. */
export async function snapshot(store: LakeStore, pool: pg.Pool, redis: Redis, prefix: string, opts: DumpLakeOptions = {}): Promise<PipelineSnapshot> {
  return { lake: await dumpLake(store, opts), postgres: await dumpPostgresRows(pool), redis: await dumpRedisPrefix(redis, prefix) };
}

/** The differences between two snapshots, prefixed by where they are. */
export function diffSnapshots(actual: PipelineSnapshot, expected: PipelineSnapshot): string[] {
  const pgAsMap = (s: Record<string, string[] | null>) => {
    const m: Record<string, unknown> = {};
    for (const [t, rows] of Object.entries(s)) {
      if (rows === null) m[`${t} (table)`] = null;
      else rows.forEach((r, i) => (m[`${t}#${i}`] = r));
    }
    return m;
  };
  return [
    ...diffDumps(actual.lake, expected.lake).map((l) => `lake ${l}`),
    ...diffDumps(pgAsMap(actual.postgres), pgAsMap(expected.postgres)).map((l) => `postgres ${l}`),
    ...diffDumps(actual.redis, expected.redis).map((l) => `redis ${l}`),
  ];
}

/**
 * Rows of the lake's tables that share a natural key with another row (a
 * float parsed twice into two files, say), read with DuckDB over a local
 * lake directory; and the row counts, for messages. Empty `duplicates` when
 * every key is unique.
 */
export async function lakeDuplicates(root: string): Promise<{ duplicates: string[]; rows: Record<string, number> }> {
  const { createLakeViews, openDuckDB } = await import("../../lib/duckdb.ts");
  const session = await openDuckDB({ threads: 1 });
  try {
    await createLakeViews(session, root);
    const keys: Record<string, string> = {
      profiles: "float_id, cycle_number, direction, profile_index",
      measurements: "float_id, cycle_number, direction, profile_index, level",
      floats: "float_id",
    };
    const duplicates: string[] = [];
    const rows: Record<string, number> = {};
    for (const [table, key] of Object.entries(keys)) {
      rows[table] = Number((await session.all(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
      const dup = await session.all(`SELECT ${key}, count(*) AS n FROM ${table} GROUP BY ALL HAVING count(*) > 1 LIMIT 5`);
      for (const d of dup) duplicates.push(`${table}: ${JSON.stringify(d)}`);
    }
    return { duplicates, rows };
  } finally {
    session.close();
  }
}
