/**
 * Writes columnar tables to Parquet through DuckDB: a table function
 * registered from JavaScript hands DuckDB the typed arrays one vector at a
 * time (each column slice copied whole, no per-value JavaScript call), and
 * `COPY (SELECT ... FROM argo_lake_stage()) TO ... (FORMAT parquet)` turns the
 * NULL sentinels into NULLs and streams the rows into the file. Nothing is
 * staged in a DuckDB table (appending to one cost more than the COPY itself).
 * bench/lake.ts compares this path with apache-arrow + parquet-wasm on the
 * same data; DuckDB was both faster and smaller, and needs no extra package.
 *
 * Output is deterministic: one DuckDB thread per writer, rows in the order
 * given, no timestamp in the footer, so the same table gives the same bytes.
 */
import { stat } from "node:fs/promises";
import duckdb from "@duckdb/node-bindings";
import {
  DOUBLE,
  type DuckDBConnection,
  type DuckDBDataChunk,
  DuckDBInstance,
  DuckDBTableFunction,
  type DuckDBTableFunctionInfo,
  type DuckDBType,
  DuckDBVarCharVector,
  FLOAT,
  INTEGER,
  SMALLINT,
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

/** The DuckDB type a column is served as before the final SELECT shapes it. */
function stagingType(col: Column): DuckDBType {
  switch (col.type) {
    case "FLOAT":
      return FLOAT;
    case "DOUBLE":
    case "TIMESTAMPTZ":
      return DOUBLE;
    case "TINYINT":
      return TINYINT;
    case "SMALLINT":
      return SMALLINT;
    case "INTEGER":
    case "VARCHAR":
      return INTEGER;
    case "json":
      return VARCHAR;
  }
}

/**
 * The SELECT expression that turns served column `c` into the output column.
 * Served columns hold the typed arrays as they are, sentinels included: the
 * NULLs are made here, vectorised in DuckDB, so JavaScript only copies memory.
 * (DuckDB compares NaN equal to NaN, so nullif works for it.)
 */
function outputExpression(col: Column, c: string): string {
  switch (col.type) {
    case "FLOAT":
    case "DOUBLE":
      return `nullif(${c}, 'NaN')`;
    case "TIMESTAMPTZ":
      // Microseconds to an instant; the writer's session is UTC, so the cast shifts nothing.
      return `CAST(make_timestamp(CAST(nullif(${c}, 'NaN') AS BIGINT)) AS TIMESTAMPTZ)`;
    case "TINYINT":
      return `nullif(${c}, ${NULL_I8})`;
    case "SMALLINT":
      return `nullif(${c}, ${NULL_I16})`;
    case "INTEGER":
      return `nullif(${c}, ${NULL_I32})`;
    case "VARCHAR":
      // Codes are 0-based, lists 1-based; code -1 gives index 0, which is NULL.
      return col.dict.length === 0
        ? "CAST(NULL AS VARCHAR)"
        : `CAST([${col.dict.map(sqlString).join(", ")}] AS VARCHAR[])[${c} + 1]`;
    case "json":
      return `CAST(CAST(${c} AS JSON) AS ${col.sqlType})`;
  }
}

/** Writes Parquet files; one DuckDB instance (one thread) per writer, one file at a time. */
export class ParquetWriter {
  /** The table the stage function is serving, while a COPY runs. */
  private current: ColumnTable | null = null;
  /** Writes queue here: the stage function serves one table at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {
    conn.registerTableFunction(DuckDBTableFunction.create({
      name: "argo_lake_stage",
      bindFunction: (bind) => {
        const t = this.current;
        if (!t) return bind.setError("argo_lake_stage: no table to serve");
        t.columns.forEach((col, i) => bind.addResultColumn(`c${i}`, stagingType(col)));
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
    return new ParquetWriter(instance, conn);
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
        const data = col.type === "VARCHAR" ? col.codes.subarray(off, off + len) : col.data.subarray(off, off + len);
        duckdb.copy_data_to_vector(duckdb.data_chunk_get_vector(out.chunk, ci), 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
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
    this.current = table;
    try {
      await this.conn.run(`COPY (SELECT ${select} FROM argo_lake_stage()) TO ${sqlString(path)} (${options.join(", ")})`);
    } finally {
      this.current = null;
    }
    return (await stat(path)).size;
  }

  /** Closes DuckDB. */
  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
