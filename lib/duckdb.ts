/**
 * DuckDB sessions over the lake: an in-memory DuckDB with one view per lake
 * table (`measurements`, `bgc_measurements`, `synthetic`, `profiles`,
 * `floats`), the wide `measurements_bgc`, argopy's user modes
 * (`measurements_standard`, `measurements_research`) and the `dictionary`,
 * from lake/views.ts.
 *
 * A local lake is read in place. An S3 lake is read either from a local copy of
 * its Parquet files (lib/lake/cache.ts, the default: it needs nothing but the
 * S3 SDK) or directly through DuckDB's httpfs extension, which must have been
 * installed once with `INSTALL httpfs` on a machine whose network allows it.
 */
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { Config } from "./config.ts";
import { LakeError } from "./errors.ts";
import { parseS3Url } from "./s3.ts";
import { TABLES, type TableName } from "../lake/schema.ts";
import { readSnapshot, sourcesOfFloats, type TableSource, type TableSources } from "./lake/live.ts";
import { LocalLakeStore } from "./lake/local.ts";
import { dictionaryViewSql, modeViewSql, sqlString, type TableScan, tableViewSql, wideViewSql } from "../lake/views.ts";

/** An open in-memory DuckDB. */
export interface DuckSession {
  readonly instance: DuckDBInstance;
  readonly conn: DuckDBConnection;
  /** Runs statements, discarding results. */
  run(sql: string): Promise<void>;
  /** Runs a query; rows as JSON-safe objects (BIGINT as strings, timestamps as text). */
  all(sql: string): Promise<Record<string, unknown>[]>;
  close(): void;
}

/**
 * Opens an in-memory DuckDB. `threads` defaults to DuckDB's choice (the cores).
 * The session's time zone is UTC, so times print, group by month and format as
 * UTC wherever it runs; the stored instants do not depend on it.
 */
export async function openDuckDB(opts: { threads?: number } = {}): Promise<DuckSession> {
  const options: Record<string, string> = {};
  if (opts.threads) options.threads = String(opts.threads);
  const instance = await DuckDBInstance.create(":memory:", options);
  const conn = await instance.connect();
  // ICU (built in) loads after the instance's options are read: set the zone on the connection.
  await conn.run("SET TimeZone = 'UTC'");
  return {
    instance,
    conn,
    run: async (sql) => {
      await conn.run(sql);
    },
    all: async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[],
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** What createLakeViews found. */
export interface LakeViews {
  /** The lake root the views read (a local directory or an s3:// URL). */
  root: string;
  /** Parquet files per table: staging files and committed segments. */
  files: Record<TableName, number>;
}

/** The local path or s3:// URL of a lake key below a root (a local directory or an s3:// URL). */
export function lakePath(root: string, key: string): string {
  return root.startsWith("s3://") ? `${root.replace(/\/+$/, "")}/${key}` : join(root, ...key.split("/"));
}

/**
 * What a table view scans for a table's sources (lib/lake/live.ts): every
 * file read whole (staging files, segments none of whose floats is
 * superseded), then the segments with superseded floats in one more scan
 * that leaves those floats out. Given `floats` (a load batch), only the
 * sources with rows of those floats: their staging files whole, the
 * segments holding them filtered to them. A float superseded in a table is
 * hidden in every segment of it (lib/lake/live.ts resolveSources), so one
 * filter serves all of a table's segments: a view is at most two scans,
 * however many segments there are.
 */
export function tableScans(root: string, sources: readonly TableSource[], floats?: ReadonlySet<string>): TableScan[] {
  const path = (s: TableSource) => lakePath(root, s.key);
  if (!floats) {
    const hidden = sources.filter((s) => s.hide.length > 0);
    return [
      { paths: sources.filter((s) => s.hide.length === 0).map(path) },
      { paths: hidden.map(path), hide: [...new Set(hidden.flatMap((s) => s.hide))].sort() },
    ];
  }
  const picked = sourcesOfFloats(sources, floats);
  const segments = picked.filter((s) => s.kind === "segment");
  const only = new Set<string>();
  for (const s of segments) {
    const hidden = new Set(s.hide);
    for (const f of s.floats) if (floats.has(f) && !hidden.has(f)) only.add(f);
  }
  return [
    { paths: picked.filter((s) => s.kind === "staging").map(path) },
    { paths: segments.map(path), only: [...only].sort() },
  ];
}

/** The sources of every table of a local lake, from one snapshot (lib/lake/live.ts readSnapshot). */
export async function localTableSources(root: string): Promise<TableSources> {
  return (await readSnapshot(new LocalLakeStore(root))).sources;
}

/**
 * The Parquet files a table's view reads below a local lake root, sorted:
 * its staging files and its committed segments (temporary dot-files, and
 * segments the live list does not name, excluded).
 */
export async function listLocalTableFiles(root: string, table: TableName): Promise<string[]> {
  return (await localTableSources(root))[table].map((s) => lakePath(root, s.key)).sort();
}

/**
 * Creates the lake's views in a session: one per table over its sources
 * (listed, never globbed: a lake path is data), the wide `measurements_bgc`,
 * argopy's user modes and the dictionary. `root` is a local lake directory
 * or an s3:// URL (httpfs); `sources` (one snapshot of the lake,
 * lib/lake/live.ts) default to a snapshot of the local root, none for s3://.
 */
export async function createLakeViews(session: DuckSession, root: string, sources?: TableSources): Promise<LakeViews> {
  await session.run("SET parquet_metadata_cache = true");
  const snapshot = sources ?? (root.startsWith("s3://") ? null : await localTableSources(root));
  const files = {} as Record<TableName, number>;
  for (const table of TABLES) {
    const list = snapshot?.[table] ?? [];
    files[table] = list.length;
    await session.run(tableViewSql(table, tableScans(root, list)));
  }
  await session.run(wideViewSql());
  await session.run(modeViewSql("standard"));
  await session.run(modeViewSql("research"));
  await session.run(dictionaryViewSql());
  return { root, files };
}

/**
 * Loads DuckDB's httpfs extension and gives it the lake's S3 settings, so
 * views can read s3:// directly. Fails with a LakeError saying what to do when
 * the extension is not installed (it cannot be downloaded without network).
 */
export async function useHttpfs(session: DuckSession, config: Config, env: Record<string, string | undefined>): Promise<void> {
  try {
    await session.run("LOAD httpfs");
  } catch (err) {
    throw new LakeError(
      `DuckDB's httpfs extension is not available (${(err as Error).message.split("\n")[0]}): run "INSTALL httpfs" once ` +
        "in DuckDB on a machine whose network allows it, or query through the local cache (the default, without --httpfs)",
      { stage: "query" },
      { cause: err },
    );
  }
  const { bucket } = parseS3Url(config.LAKE_URL);
  const opts = [
    "TYPE s3",
    `SCOPE ${sqlString(`s3://${bucket}`)}`,
    `REGION ${sqlString(config.S3_REGION)}`,
    ...(env.AWS_ACCESS_KEY_ID ? [`KEY_ID ${sqlString(env.AWS_ACCESS_KEY_ID)}`] : []),
    ...(env.AWS_SECRET_ACCESS_KEY ? [`SECRET ${sqlString(env.AWS_SECRET_ACCESS_KEY)}`] : []),
    ...(env.AWS_SESSION_TOKEN ? [`SESSION_TOKEN ${sqlString(env.AWS_SESSION_TOKEN)}`] : []),
  ];
  if (config.S3_ENDPOINT) {
    const u = new URL(config.S3_ENDPOINT);
    opts.push(`ENDPOINT ${sqlString(u.host)}`, `USE_SSL ${u.protocol === "https:"}`);
  }
  if (config.S3_FORCE_PATH_STYLE) opts.push("URL_STYLE 'path'");
  await session.run(`CREATE OR REPLACE SECRET argo_lake (${opts.join(", ")})`);
}
