/**
 * Ad-hoc SQL over the lake: a DuckDB session with the lake's views, a query's
 * result as a readable table, CSV or JSON, or written to a file (CSV, JSON or
 * Parquet, by DuckDB's own writers).
 */
import { extname } from "node:path";
import { type DuckDBResultReader, DuckDBTypeId } from "@duckdb/node-api";
import type { Config } from "../config.ts";
import { createLakeViews, type DuckSession, type LakeViews, openDuckDB, useHttpfs } from "../duckdb.ts";
import { ConfigError, LakeError } from "../errors.ts";
import { sqlString } from "../../lake/views.ts";
import { TABLES, type TableName } from "../../lake/schema.ts";
import { tablePrefix } from "./layout.ts";
import { type CacheSyncStats, defaultCacheDir, syncParquetCache } from "./cache.ts";
import type { LakeStore } from "./store.ts";

/** Output formats of a query. */
export type QueryFormat = "table" | "csv" | "json" | "parquet";

/** How to reach an S3 lake's files. */
export interface LakeSessionOptions {
  /** Read s3:// directly through DuckDB's httpfs (must be installed) instead of a local cache. */
  httpfs?: boolean;
  /** Where an S3 lake's Parquet files are cached; default under the OS temp dir. */
  cacheDir?: string;
  /** The process environment (S3 keys for httpfs). */
  env?: Record<string, string | undefined>;
}

/** An open session over a lake. */
export interface LakeSession {
  session: DuckSession;
  views: LakeViews;
  /** Set when an S3 lake was read through the local cache. */
  cache: CacheSyncStats | null;
  close(): void;
}

/** Opens DuckDB with the lake's views: in place for a local lake, through the cache or httpfs for S3. */
export async function openLakeSession(config: Config, store: LakeStore, opts: LakeSessionOptions = {}): Promise<LakeSession> {
  const session = await openDuckDB();
  try {
    let root: string;
    let cache: CacheSyncStats | null = null;
    let listing: Record<TableName, string[]> | undefined;
    if (store.localRoot) root = store.localRoot;
    else if (opts.httpfs) {
      await useHttpfs(session, config, opts.env ?? {});
      root = config.LAKE_URL.replace(/\/+$/, "");
      listing = {} as Record<TableName, string[]>;
      for (const table of TABLES) {
        listing[table] = (await store.list(tablePrefix(table))).map((o) => o.key).filter((k) => k.endsWith(".parquet")).sort().map((k) => `${root}/${k}`);
      }
    } else {
      cache = await syncParquetCache(store, opts.cacheDir ?? defaultCacheDir(store));
      root = cache.root;
    }
    const views = await createLakeViews(session, root, listing);
    return { session, views, cache, close: () => session.close() };
  } catch (err) {
    session.close();
    throw err;
  }
}

/** The format for `--out FILE`: the explicit one, else from the file's extension. */
export function formatForFile(path: string, explicit?: string): Exclude<QueryFormat, "table"> {
  const f = explicit ?? ({ ".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet" } as Record<string, string>)[extname(path).toLowerCase()];
  if (f === "csv" || f === "json" || f === "parquet") return f;
  throw new ConfigError(`cannot tell the format of ${JSON.stringify(path)}: use a .csv, .json or .parquet name, or --format`);
}

/**
 * Writes a query's result to a file with DuckDB's COPY: CSV with a header,
 * JSON as one array, Parquet with zstd. The query must be one SELECT-like
 * statement. Returns the number of rows written.
 */
export async function queryToFile(session: DuckSession, sql: string, path: string, format: Exclude<QueryFormat, "table">): Promise<number> {
  const options = format === "csv" ? "FORMAT csv, HEADER true" : format === "json" ? "FORMAT json, ARRAY true" : "FORMAT parquet, COMPRESSION zstd";
  const body = sql.trim().replace(/;\s*$/, "");
  try {
    const rows = await session.all(`COPY (${body}) TO ${sqlString(path)} (${options})`);
    return Number(rows[0]?.Count ?? rows[0]?.count ?? 0);
  } catch (err) {
    throw new LakeError(`query failed: ${(err as Error).message}`, { stage: "query" }, { cause: err });
  }
}

/** Runs a query (the last statement's result is returned). */
export async function runQuery(session: DuckSession, sql: string): Promise<DuckDBResultReader> {
  try {
    return await session.conn.runAndReadAll(sql);
  } catch (err) {
    throw new LakeError(`query failed: ${(err as Error).message}`, { stage: "query" }, { cause: err });
  }
}

const bigIntTypes = new Set([DuckDBTypeId.BIGINT, DuckDBTypeId.HUGEINT, DuckDBTypeId.UBIGINT, DuckDBTypeId.UHUGEINT]);

/** Result rows as JSON objects: 64-bit integers as numbers when exact, timestamps as text, lists and structs nested. */
export function resultToJson(reader: DuckDBResultReader): Record<string, unknown>[] {
  const names = reader.columnNames();
  const big = reader.columnTypes().map((t) => bigIntTypes.has(t.typeId));
  return reader.getRowsJson().map((row) => {
    const out: Record<string, unknown> = {};
    row.forEach((v, i) => {
      out[names[i]!] = big[i] && typeof v === "string" && Number.isSafeInteger(Number(v)) ? Number(v) : v;
    });
    return out;
  });
}

/** One cell as text: NULL empty, nested values as JSON. */
function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Result as CSV (RFC 4180: header line, quotes where needed, CRLF-free). */
export function resultToCsv(reader: DuckDBResultReader): string {
  const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [reader.columnNames().map(quote).join(",")];
  for (const row of reader.getRowsJson()) lines.push(row.map((v) => quote(cellText(v))).join(","));
  return lines.join("\n") + "\n";
}

/**
 * Result as a readable table: column names and types, numbers aligned right,
 * long cells cut, at most `maxRows` rows shown (the total is always given).
 */
export function resultToTable(reader: DuckDBResultReader, maxRows = 40, maxWidth = 40): string {
  const names = reader.columnNames();
  const types = reader.columnTypes().map((t) => t.toString());
  const rows = reader.getRowsJson();
  const shown = rows.slice(0, maxRows);
  const cut = (s: string) => (s.length > maxWidth ? s.slice(0, maxWidth - 1) + "…" : s);
  const cells = shown.map((r) => r.map((v) => cut(v === null ? "NULL" : cellText(v))));
  const numeric = types.map((t) => /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|DECIMAL(\(.*\))?)$/.test(t));
  const width = names.map((n, i) => Math.max(n.length, cut(types[i]!).length, ...cells.map((r) => r[i]!.length), 1));
  const line = (l: string, m: string, r: string) => l + width.map((w) => "─".repeat(w + 2)).join(m) + r;
  const row = (vals: string[], right: boolean[]) =>
    "│" + vals.map((v, i) => " " + (right[i] ? v.padStart(width[i]!) : v.padEnd(width[i]!)) + " ").join("│") + "│";
  const left = names.map(() => false);
  const out = [line("┌", "┬", "┐"), row(names, left), row(types.map(cut), left), line("├", "┼", "┤")];
  for (const r of cells) out.push(row(r, numeric));
  out.push(line("└", "┴", "┘"));
  out.push(rows.length > shown.length ? `${rows.length} rows (${shown.length} shown; use --format csv or --out for all)` : `${rows.length} row${rows.length === 1 ? "" : "s"}`);
  return out.join("\n") + "\n";
}
