/**
 * The Parquet writer and the lake views on hand-made tables: exact types,
 * NULLs from sentinels, key/value metadata, deterministic bytes, atomic puts,
 * and Hive partitions (including the NULL-year partition) as DuckDB reads them.
 */
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { type Column, type ColumnTable, NULL_I16, NULL_I32, NULL_I8, stringColumn, takeRows } from "../lib/lake/columns.ts";
import { ParquetWriter } from "../lib/lake/parquet.ts";
import { HIVE_NULL_PARTITION, MEASUREMENT_COLUMNS, standardColumns, TABLES } from "../lake/schema.ts";
import { tableViewName } from "../lake/views.ts";
import { partitionFileKey } from "../lib/lake/layout.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";

/** 5000 rows (more than two DuckDB vectors) with NULLs of every kind. */
function sample(): ColumnTable {
  const n = 5000;
  return {
    rowCount: n,
    metadata: { "temp.units": "degree_Celsius", "psal.long_name": "Practical salinity", "quote'd": "it's" },
    columns: [
      stringColumn("float_id", Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : `69019${i % 3}`))),
      { name: "cycle_number", type: "INTEGER", data: Int32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? NULL_I32 : i)) },
      { name: "profile_index", type: "SMALLINT", data: Int16Array.from({ length: n }, (_, i) => (i % 13 === 0 ? NULL_I16 : i % 4)) },
      { name: "temp", type: "FLOAT", data: Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? NaN : i / 3)) },
      { name: "mtime", type: "DOUBLE", data: Float64Array.from({ length: n }, (_, i) => (i % 6 === 0 ? NaN : i / 3)) },
      { name: "temp_qc", type: "TINYINT", data: Int8Array.from({ length: n }, (_, i) => (i % 4 === 0 ? NULL_I8 : i % 10)) },
      // Microseconds, with a sub-millisecond part that must survive.
      { name: "time", type: "TIMESTAMPTZ", data: Float64Array.from({ length: n }, (_, i) => (i % 9 === 0 ? NaN : (Date.UTC(2020, 0, 1) + i * 1000) * 1000 + 7)) },
      { name: "parameters", type: "json", sqlType: "VARCHAR[]", json: Array.from({ length: n }, (_, i) => (i % 2 ? JSON.stringify(["pres", "temp"]) : null)) },
    ],
  };
}

describe("Parquet writer", () => {
  let dir: TempDir;
  let writer: ParquetWriter;
  let db: DuckSession;
  beforeAll(async () => {
    dir = await tempDir("lake-parquet");
    writer = await ParquetWriter.open();
    db = await openDuckDB({ threads: 1 });
  });
  afterAll(async () => {
    db?.close();
    await writer?.close();
    await dir?.cleanup();
  });

  it("keeps exact types and turns sentinels into NULLs", async () => {
    const path = join(dir.path, "a.parquet");
    await writer.writeFile(sample(), path, "zstd");
    const types = (await db.all(`DESCRIBE SELECT * FROM '${path}'`)).map((r) => `${r.column_name} ${r.column_type}`);
    expect(types).toEqual([
      "float_id VARCHAR", "cycle_number INTEGER", "profile_index SMALLINT", "temp FLOAT", "mtime DOUBLE", "temp_qc TINYINT",
      "time TIMESTAMP WITH TIME ZONE", "parameters VARCHAR[]",
    ]);
    const [c] = await db.all(
      `SELECT count(*) AS n, count(float_id) AS f, count(cycle_number) AS c, count(profile_index) AS p, count(temp) AS t, count(mtime) AS m,
              count(temp_qc) AS q, count(time) AS ts, count(parameters) AS l, sum(temp)::DOUBLE AS st FROM '${path}'`,
    );
    const nonNull = (k: number) => String(5000 - Math.ceil(5000 / k));
    expect(c).toMatchObject({ n: "5000", f: nonNull(7), c: nonNull(11), p: nonNull(13), t: nonNull(5), m: nonNull(6), q: nonNull(4), ts: nonNull(9), l: "2500" });
    let sum = 0;
    for (let i = 0; i < 5000; i++) if (i % 5) sum += Math.fround(i / 3);
    expect(c!.st).toBeCloseTo(sum, 6);
    const [row] = await db.all(`SELECT float_id, cycle_number, temp, temp_qc, time::VARCHAR AS time, epoch_us(time) AS us, parameters FROM '${path}' WHERE cycle_number = 1`);
    expect(row).toEqual({
      float_id: "690191", cycle_number: 1, temp: Math.fround(1 / 3), temp_qc: 1, time: "2020-01-01 00:00:01.000007+00",
      us: String((Date.UTC(2020, 0, 1) + 1000) * 1000 + 7), parameters: ["pres", "temp"],
    });
  });

  it("writes units and long names as key/value metadata, and the same bytes every time", async () => {
    const a = join(dir.path, "b1.parquet");
    const b = join(dir.path, "b2.parquet");
    await writer.writeFile(sample(), a, "zstd");
    const other = await ParquetWriter.open();
    await other.writeFile(sample(), b, "zstd");
    await other.close();
    expect(Buffer.compare(await readFile(a), await readFile(b))).toBe(0);
    const kv = await db.all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${a}') ORDER BY 1`);
    expect(kv).toEqual([{ k: "psal.long_name", v: "Practical salinity" }, { k: "quote'd", v: "it's" }, { k: "temp.units", v: "degree_Celsius" }]);
  });

  it("compresses as ARROW_COMPRESSION says", async () => {
    for (const codec of ["zstd", "snappy", "uncompressed"] as const) {
      const path = join(dir.path, `c-${codec}.parquet`);
      await writer.writeFile(sample(), path, codec);
      const codecs = await db.all(`SELECT DISTINCT compression FROM parquet_metadata('${path}')`);
      expect(codecs.map((r) => String(r.compression).toLowerCase())).toEqual([codec]);
    }
  });

  it("splits rows by partition with takeRows", () => {
    const t = sample();
    const part = takeRows(t, Int32Array.of(10, 3));
    expect(part.rowCount).toBe(2);
    const cyc = part.columns.find((c) => c.name === "cycle_number")!;
    expect(cyc.type === "INTEGER" && Array.from(cyc.data)).toEqual([10, 3]);
  });
});

describe("lake views over Hive partitions", () => {
  let dir: TempDir;
  let db: DuckSession;
  beforeAll(async () => {
    dir = await tempDir("lake-views");
    const w = await ParquetWriter.open();
    const put = async (key: string, table: ColumnTable) => {
      const path = join(dir.path, ...key.split("/"));
      await mkdir(dirname(path), { recursive: true });
      await w.writeFile(table, path, "zstd");
    };
    // A measurements file of the table's one schema: every column NULL but float_id and temp.
    const t = (rows: number, temp: number): ColumnTable => ({
      rowCount: rows,
      metadata: {},
      columns: MEASUREMENT_COLUMNS.map((c): Column => {
        if (c.name === "float_id") return stringColumn(c.name, Array(rows).fill("1234567"));
        if (c.name === "temp") return { name: c.name, type: "FLOAT", data: new Float32Array(rows).fill(temp) };
        switch (c.type) {
          case "FLOAT":
            return { name: c.name, type: "FLOAT", data: new Float32Array(rows).fill(NaN) };
          case "DOUBLE":
          case "TIMESTAMPTZ":
            return { name: c.name, type: c.type, data: new Float64Array(rows).fill(NaN) };
          case "TINYINT":
            return { name: c.name, type: "TINYINT", data: new Int8Array(rows).fill(NULL_I8) };
          case "SMALLINT":
            return { name: c.name, type: "SMALLINT", data: new Int16Array(rows).fill(NULL_I16) };
          case "INTEGER":
            return { name: c.name, type: "INTEGER", data: new Int32Array(rows).fill(NULL_I32) };
          default:
            return stringColumn(c.name, Array(rows).fill(null));
        }
      }),
    });
    await put(partitionFileKey("measurements", "aoml", 2001, "1234567"), t(3, 1));
    await put(partitionFileKey("measurements", "aoml", null, "1234567"), t(2, 2));
    await put(partitionFileKey("measurements", "bodc", 2002, "7654321"), t(4, 3));
    await w.close();
    db = await openDuckDB({ threads: 1 });
    await createLakeViews(db, dir.path);
  });
  afterAll(async () => {
    db?.close();
    await dir?.cleanup();
  });

  it("reads a missing time's partition as a NULL year, with year typed INTEGER", async () => {
    expect(partitionFileKey("measurements", "aoml", null, "1234567")).toContain(`year=${HIVE_NULL_PARTITION}/`);
    const rows = await db.all("SELECT dac, year, typeof(year) AS t, count(*) AS n, min(temp) AS temp FROM measurements GROUP BY ALL ORDER BY dac, year NULLS LAST");
    expect(rows).toEqual([
      { dac: "aoml", year: 2001, t: "INTEGER", n: "3", temp: 1 },
      { dac: "aoml", year: null, t: "INTEGER", n: "2", temp: 2 },
      { dac: "bodc", year: 2002, t: "INTEGER", n: "4", temp: 3 },
    ]);
  });

  it("has the standard columns of every table, typed, even with no file for a table", async () => {
    const duckType = (t: string) => (t === "TIMESTAMPTZ" ? "TIMESTAMP WITH TIME ZONE" : t);
    for (const table of TABLES) {
      // DuckDB quotes struct fields that are keywords ("mode"): compare without quotes.
      const got = (await db.all(`DESCRIBE ${tableViewName(table)}`)).map((r) => [r.column_name, String(r.column_type).replace(/"/g, "")]);
      expect(got, table).toEqual(standardColumns(table).map((c) => [c.name, duckType(c.type)]));
    }
    expect((await db.all("SELECT count(*) AS n FROM profiles"))[0]!.n).toBe("0");
  });
});
