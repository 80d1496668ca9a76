/**
 * Writes columnar tables to Parquet through DuckDB: a table function
 * registered from JavaScript hands DuckDB the typed arrays one vector at a
 * time, in their output types (each column slice copied whole, NULLs as a
 * validity mask, strings as string_t entries written once per distinct
 * value), and `COPY (SELECT ... FROM argo_lake_stage()) TO ... (FORMAT parquet)`
 * streams the rows into the file. Nothing is
 * staged in a DuckDB table (appending to one cost more than the COPY itself).
 * bench/lake.ts compares this path with apache-arrow + parquet-wasm on the
 * same data; DuckDB was both faster and smaller, and needs no extra package.
 *
 * Output is deterministic: one DuckDB thread per writer, rows in the order
 * given, no timestamp in the footer, so the same table gives the same bytes.
 */
import { copyFile, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import duckdb from "@duckdb/node-bindings";
import {
  DOUBLE,
  type DuckDBConnection,
  type DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  DuckDBTableFunction,
  type DuckDBTableFunctionInfo,
  type DuckDBType,
  DuckDBVarCharVector,
  FLOAT,
  INTEGER,
  SMALLINT,
  TIMESTAMPTZ,
  TINYINT,
  VARCHAR,
} from "@duckdb/node-api";
import type { Config } from "../config.ts";
import { type Column, type ColumnTable, NULL_I16, NULL_I32, NULL_I8 } from "./columns.ts";
import { sqlString } from "../../lake/views.ts";

/** Parquet compression codec, as configured by ARROW_COMPRESSION. */
export type Compression = Config["ARROW_COMPRESSION"];

/** Quotes an SQL identifier. */
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The DuckDB type a column is served as: its output type, but VARCHAR for JSON text. */
function servedType(col: Column): DuckDBType {
  switch (col.type) {
    case "FLOAT":
      return FLOAT;
    case "DOUBLE":
      return DOUBLE;
    case "TIMESTAMPTZ":
      return TIMESTAMPTZ;
    case "TINYINT":
      return TINYINT;
    case "SMALLINT":
      return SMALLINT;
    case "INTEGER":
      return INTEGER;
    case "VARCHAR":
    case "json":
      return VARCHAR;
  }
}

/**
 * The SELECT expression that turns served column `c` into the output column:
 * the column itself, but JSON text cast to its list or struct type. Few and cheap expressions: binding
 * and evaluating a SELECT was once half the cost of a small file.
 */
function outputExpression(col: Column, c: string): string {
  switch (col.type) {
    case "json":
      return `CAST(CAST(${c} AS JSON) AS ${col.sqlType})`;
    default:
      return c;
  }
}

/** Bytes of the validity mask of `n` rows: whole 64-bit words. */
const validityBytes = (n: number): number => Math.ceil(n / 64) * 8;

/** Scratch buffers reused across vectors (one vector's worth each). */
class Scratch {
  readonly validity = new Uint8Array(validityBytes(duckdb.vector_size()));
  readonly wide = new Int32Array(2 * duckdb.vector_size());
  /** string_t entries of one vector, as words and as bytes. */
  readonly entries = new Uint32Array(4 * duckdb.vector_size());
  readonly entryBytes = new Uint8Array(this.entries.buffer);
  private first = new Int32Array(256);
  /** For each dictionary code, the row of the vector that holds it (-1: none yet), all -1. */
  firstRows(n: number): Int32Array {
    if (this.first.length < n) this.first = new Int32Array(n);
    return this.first.fill(-1, 0, n);
  }
}

/** Builds a vector's validity mask, row by row, only once a row is NULL. */
class Validity {
  private any = false;
  constructor(private readonly mask: Uint8Array, private readonly len: number) {}
  setNull(i: number): void {
    if (!this.any) {
      this.mask.fill(0xff, 0, validityBytes(this.len));
      this.any = true;
    }
    this.mask[i >> 3]! &= ~(1 << (i & 7));
  }
  /** Writes the mask into `vector`; a vector without NULLs keeps no mask (or an all-valid one, if it had one). */
  flush(vector: duckdb.Vector): void {
    if (!this.any) {
      if (duckdb.vector_get_validity(vector, validityBytes(this.len)) === null) return;
      this.mask.fill(0xff, 0, validityBytes(this.len));
    }
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, this.mask.buffer as ArrayBuffer, 0, validityBytes(this.len));
  }
}

const encoder = new TextEncoder();
/** Each string dictionary's entries as UTF-8, encoded once per column. */
const utf8Dicts = new WeakMap<readonly string[], Uint8Array[]>();
const utf8Of = (dict: readonly string[]): Uint8Array[] => {
  let out = utf8Dicts.get(dict);
  if (!out) utf8Dicts.set(dict, out = dict.map((s) => encoder.encode(s)));
  return out;
};

/** DuckDB keeps strings of up to 12 bytes inside the 16-byte string_t itself. */
const INLINE_STRING_BYTES = 12;

/**
 * Writes dictionary-coded strings into a VARCHAR vector as DuckDB's 16-byte
 * string_t entries: the length, then the bytes inline up to 12 bytes, else a
 * prefix and a pointer. A longer string is handed to DuckDB once per vector
 * (at its first row, into the vector's own string heap) and its entry read
 * back; every row's entry is then built here and the whole vector copied in
 * one call, so the per-row work is four word copies, not a call.
 */
function fillStrings(codes: Int32Array, dict: readonly Uint8Array[], vector: duckdb.Vector, off: number, len: number, scratch: Scratch, nulls: Validity): void {
  const first = scratch.firstRows(dict.length);
  let long = false;
  for (let i = 0; i < len; i++) {
    const c = codes[off + i]!;
    if (c < 0 || first[c]! >= 0) continue;
    first[c] = i;
    const bytes = dict[c]!;
    if (bytes.length > INLINE_STRING_BYTES) {
      duckdb.vector_assign_string_element_len(vector, i, bytes);
      long = true;
    }
  }
  // The entries DuckDB wrote (a copy of the vector's data), to take their pointers from.
  const written = long ? new Uint32Array(duckdb.vector_get_data(vector, len * 16).slice().buffer) : null;
  const words = scratch.entries;
  const bytes8 = scratch.entryBytes;
  for (let i = 0; i < len; i++) {
    const w = 4 * i;
    const c = codes[off + i]!;
    if (c < 0) {
      nulls.setNull(i);
      words.fill(0, w, w + 4);
      continue;
    }
    const f = first[c]!;
    if (f < i) {
      words.copyWithin(w, 4 * f, 4 * f + 4);
      continue;
    }
    const b = dict[c]!;
    if (b.length <= INLINE_STRING_BYTES) {
      words.fill(0, w, w + 4);
      words[w] = b.length;
      bytes8.set(b, 16 * i + 4);
    } else words.set(written!.subarray(w, w + 4), w);
  }
  duckdb.copy_data_to_vector(vector, 0, words.buffer as ArrayBuffer, 0, len * 16);
}

/** Copies a typed array slice into a vector's data. */
function copyInto(vector: duckdb.Vector, data: ArrayBufferView): void {
  duckdb.copy_data_to_vector(vector, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

/** Serves rows [off, off + len) of `col` into `vector`: its values as they are, the sentinels as NULLs. */
function fillVector(col: Column, vector: duckdb.Vector, off: number, len: number, scratch: Scratch): void {
  const nulls = new Validity(scratch.validity, len);
  switch (col.type) {
    case "FLOAT":
    case "DOUBLE": {
      const data = col.data.subarray(off, off + len);
      for (let i = 0; i < len; i++) if (Number.isNaN(data[i])) nulls.setNull(i);
      copyInto(vector, data);
      break;
    }
    case "TIMESTAMPTZ": {
      // Whole microseconds as int64 (little-endian low and high words); a double holds them exactly.
      const wide = scratch.wide;
      for (let i = 0; i < len; i++) {
        const us = col.data[off + i]!;
        if (Number.isNaN(us)) {
          nulls.setNull(i);
          wide[2 * i] = 0;
          wide[2 * i + 1] = 0;
          continue;
        }
        const v = Math.round(us);
        const hi = Math.floor(v / 4294967296);
        wide[2 * i] = v - hi * 4294967296;
        wide[2 * i + 1] = hi;
      }
      copyInto(vector, wide.subarray(0, 2 * len));
      break;
    }
    case "TINYINT":
    case "SMALLINT":
    case "INTEGER": {
      const data = col.data.subarray(off, off + len);
      const sentinel = col.type === "TINYINT" ? NULL_I8 : col.type === "SMALLINT" ? NULL_I16 : NULL_I32;
      for (let i = 0; i < len; i++) if (data[i] === sentinel) nulls.setNull(i);
      copyInto(vector, data);
      break;
    }
    case "VARCHAR": {
      if (col.dict.length === 0) {
        for (let i = 0; i < len; i++) nulls.setNull(i);
        break;
      }
      fillStrings(col.codes, utf8Of(col.dict), vector, off, len, scratch, nulls);
      break;
    }
    case "json":
      throw new Error("json columns are served as VARCHAR vectors");
  }
  nulls.flush(vector);
}

/** How many prepared COPY statements a writer keeps (one per table and metadata seen lately). */
const PREPARED_COPIES = 32;

/** Renames a file, or copies and removes it when the target is on another file system. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
}

/** Writes Parquet files; one DuckDB instance (one thread) per writer, one file at a time. */
export class ParquetWriter {
  /** The table the stage function is serving, while a COPY runs. */
  private current: ColumnTable | null = null;
  /** Writes queue here: the stage function serves one table at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly scratch = new Scratch();

  /** Prepared COPY statements by served types and SQL, least recently used first. */
  private readonly prepared = new Map<string, DuckDBPreparedStatement>();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    /** Where every COPY writes (a prepared statement's file name is fixed), before the rename to the caller's path. */
    private readonly scratchFile: string,
  ) {
    conn.registerTableFunction(DuckDBTableFunction.create({
      name: "argo_lake_stage",
      bindFunction: (bind) => {
        const t = this.current;
        if (!t) return bind.setError("argo_lake_stage: no table to serve");
        t.columns.forEach((col, i) => bind.addResultColumn(`c${i}`, servedType(col)));
        bind.setCardinality(t.rowCount, true);
      },
      initFunction: (init) => init.setInitData({ offset: 0 }),
      mainFunction: (info, out) => this.serveChunk(info, out),
    }));
  }

  /** Opens an in-memory DuckDB for writing. Close it when done. */
  static async open(): Promise<ParquetWriter> {
    const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
    const conn = await instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    const scratch = await mkdtemp(join(tmpdir(), "argo-lake-writer-"));
    return new ParquetWriter(instance, conn, join(scratch, "copy.parquet"));
  }

  /** Fills DuckDB's output chunk with the next vector-sized slice of every column. */
  private serveChunk(info: DuckDBTableFunctionInfo, out: DuckDBDataChunk): void {
    try {
      const t = this.current!;
      const state = info.getInitData() as { offset: number };
      const off = state.offset;
      const len = Math.max(0, Math.min(duckdb.vector_size(), t.rowCount - off));
      out.rowCount = len;
      if (len === 0) return;
      t.columns.forEach((col, ci) => {
        if (col.type === "json") {
          const v = out.getColumnVector(ci) as DuckDBVarCharVector;
          for (let i = 0; i < len; i++) v.setItem(i, col.json[off + i]!);
          v.flush();
          return;
        }
        fillVector(col, duckdb.data_chunk_get_vector(out.chunk, ci), off, len, this.scratch);
      });
      state.offset = off + len;
    } catch (err) {
      info.setError(`argo_lake_stage: ${(err as Error).message}`);
    }
  }

  /** Writes `table` to the local file `path` (replaced if present); returns its size in bytes. */
  writeFile(table: ColumnTable, path: string, compression: Compression): Promise<number> {
    const run = this.queue.then(() => this.write(table, path, compression));
    this.queue = run.catch(() => {});
    return run;
  }

  private async write(table: ColumnTable, path: string, compression: Compression): Promise<number> {
    const select = table.columns.map((col, i) => `${outputExpression(col, `c${i}`)} AS ${ident(col.name)}`).join(", ");
    const kv = Object.entries(table.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const options = [
      "FORMAT parquet",
      `COMPRESSION ${compression}`,
      ...(kv.length ? [`KV_METADATA {${kv.map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(", ")}}`] : []),
    ];
    // The statement names the served types too: a prepared COPY is only ever run on tables of its own shape.
    const sql = `COPY (SELECT ${select} FROM argo_lake_stage()) TO ${sqlString(this.scratchFile)} (${options.join(", ")})`;
    const key = `${table.columns.map((c) => c.type).join(",")}\n${sql}`;
    this.current = table;
    try {
      await (await this.statement(key, sql)).run();
    } finally {
      this.current = null;
    }
    await moveFile(this.scratchFile, path);
    return (await stat(path)).size;
  }

  /**
   * The prepared COPY for `sql`: parsed, bound and planned once, run for
   * every table of the same shape and metadata (most files of a table),
   * which saves a third of a small file's cost. The file name is fixed in
   * it, so every write goes to the writer's scratch file, then is renamed.
   */
  private async statement(key: string, sql: string): Promise<DuckDBPreparedStatement> {
    const cached = this.prepared.get(key);
    if (cached) {
      // Most recently used last: the first entry is the one to drop.
      this.prepared.delete(key);
      this.prepared.set(key, cached);
      return cached;
    }
    const fresh = await this.conn.prepare(sql);
    this.prepared.set(key, fresh);
    if (this.prepared.size > PREPARED_COPIES) {
      const [oldest, statement] = this.prepared.entries().next().value!;
      this.prepared.delete(oldest);
      statement.destroySync();
    }
    return fresh;
  }

  /** Closes DuckDB and removes the scratch folder. */
  async close(): Promise<void> {
    for (const statement of this.prepared.values()) statement.destroySync();
    this.prepared.clear();
    this.conn.closeSync();
    this.instance.closeSync();
    await rm(dirname(this.scratchFile), { recursive: true, force: true });
  }
}
