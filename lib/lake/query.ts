/**
 * Ad-hoc SQL over the lake: a DuckDB session with the lake's views, and a
 * query's answer streamed, never held whole: CSV, NDJSON, JSON and Parquet by
 * DuckDB's own writers (COPY, chunk by chunk, to a file or to stdout), Arrow
 * IPC through apache-arrow one DuckDB chunk per record batch, and a readable
 * table of the first rows with the count of the rest. Every text format
 * prints numbers as DuckDB's cast to text does: a FLOAT as its short float32
 * form (26.172), a DOUBLE as its shortest float64 form.
 */
import { once } from "node:events";
import { execFileSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, fstatSync } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, extname, join } from "node:path";
import process from "node:process";
import type { Writable } from "node:stream";
import { type DuckDBDataChunk, type DuckDBType, DuckDBTypeId, type DuckDBValue } from "@duckdb/node-api";
import {
  Bool,
  type Data,
  type DataType,
  DateDay,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  TimestampMicrosecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { float32ToShortest } from "../argo/decode.ts";
import type { Config } from "../config.ts";
import { createLakeViews, type DuckSession, type LakeViews, openDuckDB, useHttpfs } from "../duckdb.ts";
import { ConfigError, LakeError } from "../errors.ts";
import { sqlString } from "../../lake/views.ts";
import { readSnapshot, type TableSources } from "./live.ts";
import { type CacheSyncStats, defaultCacheDir, syncParquetCache } from "./cache.ts";
import type { LakeStore } from "./store.ts";

/** Output formats of a query. */
export const QUERY_FORMATS = ["table", "csv", "ndjson", "json", "parquet", "arrow"] as const;
export type QueryFormat = (typeof QUERY_FORMATS)[number];
/** The formats a query can write to a file or stream. */
export type StreamFormat = Exclude<QueryFormat, "table">;

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
    let sources: TableSources | undefined;
    if (store.localRoot) root = store.localRoot;
    else if (opts.httpfs) {
      await useHttpfs(session, config, opts.env ?? {});
      root = config.LAKE_URL.replace(/\/+$/, "");
      sources = (await readSnapshot(store)).sources;
    } else {
      const synced = await syncParquetCache(store, opts.cacheDir ?? defaultCacheDir(store));
      ({ stats: cache, snapshot: { sources } } = synced);
      root = cache.root;
    }
    const views = await createLakeViews(session, root, sources);
    // Streamed answers: without this DuckDB buffers chunks to keep the scan's order (GBs on a big
    // SELECT *). ORDER BY still orders; without one, SQL promises no order anyway.
    await session.run("SET preserve_insertion_order = false");
    return { session, views, cache, close: () => session.close() };
  } catch (err) {
    session.close();
    throw err;
  }
}

/** The format for `--out FILE`: the explicit one, else from the file's extension. */
export function formatForFile(path: string, explicit?: string): StreamFormat {
  const byExt: Record<string, StreamFormat> = {
    ".csv": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".arrows": "arrow",
    ".feather": "arrow",
  };
  const f = explicit ?? byExt[extname(path).toLowerCase()];
  if (f && f !== "table" && (QUERY_FORMATS as readonly string[]).includes(f)) return f as StreamFormat;
  throw new ConfigError(`cannot tell the format of ${JSON.stringify(path)}: use a .csv, .ndjson, .json, .parquet or .arrow name, or --format`);
}

/** Runs every statement of `sql` but the last; returns the last one's text (the answer). */
async function splitLast(session: DuckSession, sql: string): Promise<string> {
  const extracted = await session.conn.extractStatements(sql);
  if (extracted.count === 0) throw new ConfigError("the SQL holds no statement");
  for (let i = 0; i < extracted.count - 1; i++) await (await extracted.prepare(i)).run();
  // DuckDB does not hand back a statement's text: take the last one from the input.
  const parts = sql.trim().replace(/;\s*$/, "");
  return extracted.count === 1 ? parts : lastStatement(parts);
}

/** The last statement of a script whose earlier statements end with a semicolon outside quotes. */
function lastStatement(sql: string): string {
  let quote: string | null = null;
  let last = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ";") last = i + 1;
  }
  return sql.slice(last).trim();
}

const failed = (err: unknown): LakeError =>
  err instanceof LakeError || err instanceof ConfigError ? err as LakeError : new LakeError(`query failed: ${(err as Error).message}`, { stage: "query" }, { cause: err });

/** COPY options of DuckDB's writers for the text and Parquet formats. */
const COPY_OPTIONS: Record<"csv" | "ndjson" | "json" | "parquet", string> = {
  csv: "FORMAT csv, HEADER true",
  ndjson: "FORMAT json",
  json: "FORMAT json, ARRAY true",
  parquet: "FORMAT parquet, COMPRESSION zstd",
};

/** Where a streamed answer goes: a file (made whole, then renamed into place) or standard output. */
export type QueryTarget = { file: string; force?: boolean } | { stdout: Writable };

/**
 * Streams the answer to the last statement of `sql` (earlier ones run first)
 * in `format` to `target`. Text and Parquet formats are DuckDB's COPY,
 * which writes chunk by chunk; to stdout it writes to /dev/stdout (Linux,
 * macOS). Arrow goes through apache-arrow, one record batch per DuckDB chunk.
 * A file is written under a hidden temporary name and renamed when complete;
 * an existing file is refused unless `force`. Returns the rows written.
 */
export async function streamQuery(session: DuckSession, sql: string, format: StreamFormat, target: QueryTarget): Promise<number> {
  if ("file" in target && existsSync(target.file) && !target.force) {
    throw new ConfigError(`--out ${JSON.stringify(target.file)} exists: choose another name, or add --force to replace it`);
  }
  if (format === "parquet" && !("file" in target)) throw new ConfigError("--format parquet needs --out FILE");
  const tmp = "file" in target ? join(dirname(target.file), `.${basename(target.file)}.${process.pid}.tmp`) : null;
  try {
    const body = await splitLast(session, sql);
    let rows: number;
    if (format === "arrow") {
      const out = tmp ? createWriteStream(tmp) : (target as { stdout: Writable }).stdout;
      rows = await streamArrow(session, body, out, tmp !== null);
      if (tmp) {
        out.end();
        await once(out, "finish");
      }
    } else {
      const select = format === "json" || format === "ndjson" ? await floatsAsShortestJson(session, body) : body;
      const copy = async (path: string) => {
        const r = await session.all(`COPY (${select}) TO ${sqlString(path)} (${COPY_OPTIONS[format]}, USE_TMP_FILE false)`);
        return Number(r[0]?.Count ?? r[0]?.count ?? 0);
      };
      if (tmp) rows = await copy(tmp);
      else {
        const out = (target as { stdout: Writable }).stdout;
        rows = out === process.stdout && stdoutIsStream() ? await copy("/dev/stdout") : await copyThroughFifo(copy, out);
      }
    }
    if (tmp && "file" in target) await rename(tmp, target.file);
    return rows;
  } catch (err) {
    throw failed(err);
  } finally {
    if (tmp) await rm(tmp, { force: true });
  }
}

/**
 * True when fd 1 is a pipe, a terminal or a device such as /dev/null: DuckDB
 * may then open /dev/stdout itself. Not a regular file (opening it again
 * would start at offset 0 and truncate what is already there) nor a socket
 * (which cannot be opened by path; Node's child processes get those).
 */
function stdoutIsStream(): boolean {
  try {
    const st = fstatSync(1);
    return st.isFIFO() || st.isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * Runs `copy` into a named pipe and relays what comes out of it to `out`, so
 * DuckDB's writer streams to any Writable (a file behind stdout, a test's
 * sink) with back-pressure and nothing held whole.
 */
async function copyThroughFifo(copy: (path: string) => Promise<number>, out: Writable): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "argo-lake-query-"));
  const fifo = join(dir, "out");
  try {
    execFileSync("mkfifo", [fifo]);
    const relay = (async () => {
      for await (const buf of createReadStream(fifo)) if (!out.write(buf)) await once(out, "drain");
    })();
    const [rows] = await Promise.all([copy(fifo), relay]);
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * DuckDB's JSON writer widens FLOAT to double (26.172000885009766); its CSV
 * writer and CAST to VARCHAR print the shortest float32 form (26.172). The
 * query is wrapped so FLOAT columns reach the JSON writer as that text, typed
 * JSON, so they are written as the same number, unquoted.
 */
async function floatsAsShortestJson(session: DuckSession, body: string): Promise<string> {
  const probe = await session.conn.stream(`SELECT * FROM (${body}) LIMIT 0`);
  const names = probe.columnNames();
  const types = probe.columnTypes();
  if (!types.some((t) => t.typeId === DuckDBTypeId.FLOAT)) return body;
  const q = (n: string) => `"${n.replace(/"/g, '""')}"`;
  const cols = names.map((n, i) =>
    types[i]!.typeId === DuckDBTypeId.FLOAT ? `CASE WHEN isfinite(${q(n)}) THEN CAST(CAST(${q(n)} AS VARCHAR) AS JSON) ELSE to_json(${q(n)}) END AS ${q(n)}` : q(n)
  );
  return `SELECT ${cols.join(", ")} FROM (${body})`;
}

/** The Arrow type of a DuckDB column; types without an exact Arrow twin travel as text. */
function arrowType(t: DuckDBType): DataType {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return new Bool();
    case DuckDBTypeId.TINYINT:
      return new Int8();
    case DuckDBTypeId.SMALLINT:
      return new Int16();
    case DuckDBTypeId.INTEGER:
      return new Int32();
    case DuckDBTypeId.BIGINT:
      return new Int64();
    case DuckDBTypeId.UTINYINT:
      return new Uint8();
    case DuckDBTypeId.USMALLINT:
      return new Uint16();
    case DuckDBTypeId.UINTEGER:
      return new Uint32();
    case DuckDBTypeId.UBIGINT:
      return new Uint64();
    case DuckDBTypeId.FLOAT:
      return new Float32();
    case DuckDBTypeId.DOUBLE:
      return new Float64();
    case DuckDBTypeId.TIMESTAMP_TZ:
      return new TimestampMicrosecond("UTC");
    case DuckDBTypeId.TIMESTAMP:
      return new TimestampMicrosecond();
    case DuckDBTypeId.DATE:
      return new DateDay();
    default:
      return new Utf8();
  }
}

/** One DuckDB column of a chunk as Arrow data, copied from DuckDB's values. */
function arrowColumn(type: DataType, values: DuckDBValue[]) {
  const n = values.length;
  if (type instanceof Utf8) return vectorFromArray(values.map((v) => (v === null ? null : typeof v === "string" ? v : String(v))), type).data[0]!;
  if (type instanceof Bool) return vectorFromArray(values as (boolean | null)[], type).data[0]!;
  const nullBitmap = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  const ArrayType = type instanceof TimestampMicrosecond || type instanceof Int64 ? BigInt64Array : type instanceof Uint64 ? BigUint64Array : (type as { ArrayType: new (n: number) => ArrayLike<unknown> }).ArrayType;
  const data = new ArrayType(n) as unknown as Record<number, number | bigint>;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      nullCount++;
      continue;
    }
    nullBitmap[i >> 3]! |= 1 << (i & 7);
    if (type instanceof TimestampMicrosecond) data[i] = (v as { micros: bigint }).micros;
    else if (type instanceof DateDay) data[i] = (v as { days: number }).days;
    else data[i] = v as number | bigint;
  }
  return makeData({ type, length: n, nullCount, nullBitmap: nullCount ? nullBitmap : null, data } as never);
}

/** Streams a query as Arrow IPC (the file format to a file, the stream format to stdout). */
async function streamArrow(session: DuckSession, sql: string, out: Writable, file: boolean): Promise<number> {
  const result = await session.conn.stream(sql);
  const names = result.columnNames();
  const types = result.columnTypes().map(arrowType);
  const schema = new Schema(names.map((n, i) => new Field(n, types[i]!, true)));
  const writer = file ? new RecordBatchFileWriter() : new RecordBatchStreamWriter();
  writer.reset(undefined, schema);
  const pump = (async () => {
    for await (const bytes of writer) {
      if (!out.write(bytes)) await once(out, "drain");
    }
  })();
  let rows = 0;
  for (;;) {
    const chunk: DuckDBDataChunk | null = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const children = types.map((t, i) => arrowColumn(t, chunk.getColumnValues(i)));
    const struct = makeData({ type: new Struct(schema.fields), length: chunk.rowCount, nullCount: 0, children } as never) as unknown as Data<Struct>;
    writer.write(new RecordBatch(schema, struct));
    rows += chunk.rowCount;
    // Let the pump write what this batch made before the next chunk is read.
    await new Promise((r) => setImmediate(r));
  }
  writer.finish();
  await pump;
  return rows;
}

/** One cell as text for the table format when DuckDB cannot cast it (NULL; FLOAT as its shortest float32 form). */
function cellText(v: DuckDBValue, t: DuckDBType): string {
  if (v === null || v === undefined) return "NULL";
  if (t.typeId === DuckDBTypeId.FLOAT) return String(float32ToShortest(v as number));
  return String(v);
}

/**
 * The first `maxRows` rows as DuckDB's own text (the text its CSV writer
 * prints: 26.172, 17.0) and the number of rows, without holding the answer:
 * the rows come from a LIMIT, the count from count(*) over the same query.
 * Null when the statement cannot be wrapped (SHOW, PRAGMA, ...).
 */
async function firstRowsAsText(session: DuckSession, body: string, maxRows: number): Promise<{ names: string[]; types: DuckDBType[]; shown: string[][]; total: number } | null> {
  let probe;
  try {
    probe = await session.conn.stream(`SELECT * FROM (${body}) LIMIT 0`);
  } catch {
    return null;
  }
  const names = probe.columnNames();
  const types = probe.columnTypes();
  const total = Number((await session.all(`SELECT count(*) AS n FROM (${body})`))[0]!.n);
  const text = await session.conn.runAndReadAll(`SELECT CAST(COLUMNS(*) AS VARCHAR) FROM (${body}) LIMIT ${maxRows}`);
  const shown = (text.getRowsJS() as (string | null)[][]).map((r) => r.map((v) => v ?? "NULL"));
  return { names, types, shown, total };
}

const numericIds = new Set([
  DuckDBTypeId.TINYINT, DuckDBTypeId.SMALLINT, DuckDBTypeId.INTEGER, DuckDBTypeId.BIGINT, DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT, DuckDBTypeId.USMALLINT, DuckDBTypeId.UINTEGER, DuckDBTypeId.UBIGINT, DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.FLOAT, DuckDBTypeId.DOUBLE, DuckDBTypeId.DECIMAL,
]);

/**
 * The answer as a readable table: column names and types, numbers aligned
 * right, long cells cut, the first `maxRows` rows, and how many rows there
 * are in all. The rest is read chunk by chunk and only counted.
 */
export async function queryToTable(session: DuckSession, sql: string, maxRows = 40, maxWidth = 40): Promise<string> {
  try {
    const body = await splitLast(session, sql);
    let answer = await firstRowsAsText(session, body, maxRows);
    if (!answer) {
      // Not a query DuckDB can wrap: stream it, keep the first rows, count the rest chunk by chunk.
      const result = await session.conn.stream(body);
      const types = result.columnTypes();
      answer = { names: result.columnNames(), types, shown: [], total: 0 };
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        for (let r = 0; r < chunk.rowCount && answer.shown.length < maxRows; r++) {
          answer.shown.push(chunk.getRowValues(r).map((v, i) => cellText(v, types[i]!)));
        }
        answer.total += chunk.rowCount;
      }
    }
    const { names, types, shown, total } = answer;
    const cut = (s: string) => (s.length > maxWidth ? s.slice(0, maxWidth - 1) + "…" : s);
    const typeNames = types.map((t) => cut(t.toString()));
    const cells = shown.map((r) => r.map(cut));
    const numeric = types.map((t) => numericIds.has(t.typeId));
    const width = names.map((n, i) => Math.max(n.length, typeNames[i]!.length, ...cells.map((r) => r[i]!.length), 1));
    const line = (l: string, m: string, r: string) => l + width.map((w) => "─".repeat(w + 2)).join(m) + r;
    const row = (vals: string[], right: boolean[]) =>
      "│" + vals.map((v, i) => " " + (right[i] ? v.padStart(width[i]!) : v.padEnd(width[i]!)) + " ").join("│") + "│";
    const left = names.map(() => false);
    const out = [line("┌", "┬", "┐"), row(names, left), row(typeNames, left), line("├", "┼", "┤")];
    for (const r of cells) out.push(row(r, numeric));
    out.push(line("└", "┴", "┘"));
    out.push(
      total > shown.length
        ? `${total} rows (${shown.length} shown, ${total - shown.length} more; use --format csv|ndjson|json|arrow or --out for all)`
        : `${total} row${total === 1 ? "" : "s"}`,
    );
    return out.join("\n") + "\n";
  } catch (err) {
    throw failed(err);
  }
}
