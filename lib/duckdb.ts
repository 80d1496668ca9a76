/**
 * DuckDB sessions over the lake: an in-memory DuckDB with one view per lake
 * table (`measurements`, `profiles`, `floats`) and argopy's user modes
 * (`measurements_standard`, `measurements_research`), from lake/views.ts.
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
import { tableGlob } from "./lake/layout.ts";
import { modeViewSql, parametersOf, sqlString, tableViewSql } from "../lake/views.ts";

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

/** Opens an in-memory DuckDB. `threads` defaults to DuckDB's choice (the cores). */
export async function openDuckDB(opts: { threads?: number } = {}): Promise<DuckSession> {
  const options: Record<string, string> = {};
  if (opts.threads) options.threads = String(opts.threads);
  const instance = await DuckDBInstance.create(":memory:", options);
  const conn = await instance.connect();
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
  /** Parameter columns of `measurements` (lower-case Argo names). */
  parameters: string[];
}

/** Counts a table's Parquet files below a local lake root (temporary dot-files excluded). */
async function countLocalFiles(root: string, table: TableName): Promise<number> {
  try {
    const entries = await readdir(join(root, "parquet", table), { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile() && e.name.endsWith(".parquet") && !e.name.startsWith(".")).length;
  } catch {
    return 0;
  }
}

/**
 * Creates the lake's views in a session. `root` is a local lake directory, or
 * an s3:// lake URL when httpfs is loaded (see {@link useHttpfs}).
 */
export async function createLakeViews(session: DuckSession, root: string): Promise<LakeViews> {
  // Every query over a view re-binds it, reading each file's footer (union_by_name): keep footers cached.
  await session.run("SET parquet_metadata_cache = true");
  const files = {} as Record<TableName, number>;
  for (const table of TABLES) {
    files[table] = root.startsWith("s3://")
      ? Number((await session.all(`SELECT count(*) AS n FROM glob(${sqlString(tableGlob(root, table))})`))[0]!.n)
      : await countLocalFiles(root, table);
    await session.run(tableViewSql(table, root, files[table] > 0));
  }
  const columns = (await session.all("DESCRIBE measurements")).map((r) => String(r.column_name));
  await session.run(modeViewSql("standard", columns));
  await session.run(modeViewSql("research", columns));
  return { root, files, parameters: parametersOf(columns) };
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
