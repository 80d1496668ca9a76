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
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { Config } from "./config.ts";
import { LakeError } from "./errors.ts";
import { parseS3Url } from "./s3.ts";
import { TABLES, type TableName } from "../lake/schema.ts";
import { tablePrefix } from "./lake/layout.ts";
import { dictionaryViewSql, modeViewSql, sqlString, tableViewSql, wideViewSql } from "../lake/views.ts";

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
  /** Parquet files per table. */
  files: Record<TableName, number>;
}

/** A table's Parquet files below a local lake root, sorted (temporary dot-files excluded). */
export async function listLocalTableFiles(root: string, table: TableName): Promise<string[]> {
  try {
    const dir = join(root, ...tablePrefix(table).split("/").filter(Boolean));
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile() && e.name.endsWith(".parquet") && !e.name.startsWith("."))
      .map((e) => join(e.parentPath, e.name)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/**
 * Creates the lake's views in a session: one per table over its files
 * (listed, never globbed: a lake path is data), the wide `measurements_bgc`,
 * argopy's user modes and the dictionary. `root` is a local lake directory;
 * for an s3:// root (httpfs) `listing` gives each table's file URLs.
 */
export async function createLakeViews(session: DuckSession, root: string, listing?: Record<TableName, string[]>): Promise<LakeViews> {
  await session.run("SET parquet_metadata_cache = true");
  const files = {} as Record<TableName, number>;
  for (const table of TABLES) {
    const list = listing?.[table] ?? (root.startsWith("s3://") ? [] : await listLocalTableFiles(root, table));
    files[table] = list.length;
    await session.run(tableViewSql(table, list));
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
