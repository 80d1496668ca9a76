/**
 * The lake as an open dataset: every table of the fixture lake, and of a lake
 * of BGC floats, read by DuckDB's read_parquet without union_by_name and by an
 * independent Parquet reader (hyparquet), each taking one file's schema for
 * the whole table; and every value the NetCDF files hold at a level (what the
 * old wide layout had as columns) found in the new tables.
 */
import { readFileSync } from "node:fs";
import { parquetMetadata, parquetReadObjects, parquetSchema } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDuckDB } from "../lib/duckdb.ts";
import { literalPath, sqlString } from "../lake/views.ts";
import { CORE_PARAMETERS, HIVE_TYPES, PARTITION_KEYS, TABLE_COLUMNS, TABLES, type TableName } from "../lake/schema.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { BGC_SOURCES, coreOf, levelValues, parsedLake, presPredicate, tableFiles } from "./open-lake-support.ts";
import type { FixtureFile } from "./parse-job-support.ts";

type Row = Record<string, unknown>;

/** A file's bytes as the ArrayBuffer hyparquet reads. */
function arrayBuffer(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** A file's leaf columns as hyparquet sees them: name, physical and logical type. */
function leafSchema(path: string): string[] {
  return parquetMetadata(arrayBuffer(path)).schema.slice(1).map((s) =>
    [s.name, s.type ?? "group", s.converted_type ?? "", JSON.stringify(s.logical_type ?? null), s.repetition_type ?? ""].join(" ")
  );
}

/** The Hive partition values of a file's path. */
function partitions(path: string): Row {
  const out: Row = {};
  for (const m of path.matchAll(/\/(dac|year)=([^/]+)/g)) out[m[1]!] = m[1] === "year" ? (m[2] === "__HIVE_DEFAULT_PARTITION__" ? null : Number(m[2])) : m[2];
  return out;
}

/** Reads a whole table with hyparquet, every file with the column list of the first file's schema. */
async function hyparquetTable(files: string[]): Promise<Row[]> {
  const columns = parquetSchema(parquetMetadata(arrayBuffer(files[0]!))).children.map((c) => c.element.name);
  const out: Row[] = [];
  for (const f of files) {
    const rows = await parquetReadObjects({ file: arrayBuffer(f), columns, compressors }) as Row[];
    for (const r of rows) out.push({ ...r, ...partitions(f) });
  }
  return out;
}

/** Reads a whole table with DuckDB: read_parquet over the listed files, no union_by_name. */
async function duckTable(files: string[], table: TableName): Promise<{ rows: Row[]; columns: string[] }> {
  const db = await openDuckDB({ threads: 1 });
  try {
    const hive = `{${PARTITION_KEYS[table].map((k) => `'${k}': ${HIVE_TYPES[k]}`).join(", ")}}`;
    const src = `read_parquet([${files.map((f) => sqlString(literalPath(f))).join(", ")}], hive_partitioning = true, union_by_name = false, hive_types = ${hive})`;
    const r = await db.conn.runAndReadAll(`SELECT * FROM ${src}`);
    return { rows: r.getRowObjectsJS() as Row[], columns: r.columnNames() };
  } finally {
    db.close();
  }
}

/** Checks that every value the NetCDF files hold at a level is in the rows read back from the lake. */
function findEveryValue(fixtures: readonly FixtureFile[], measurements: Row[], bgc: Row[]): number {
  const key = (r: Row) => `${r.float_id}/${r.cycle_number}/${r.direction}/${r.profile_index}/${r.level}`;
  const m = new Map(measurements.map((r) => [key(r), r]));
  const b = new Map(bgc.map((r) => [`${key(r)}/${r.parameter}`, r]));
  const core = new Set(CORE_PARAMETERS.map((p) => p.toUpperCase()));
  let checked = 0;
  const missing: string[] = [];
  for (const f of fixtures) {
    const isCore = /^profiles\/[RD]\d/.test(f.rest);
    const isBgc = /^profiles\/B[RD]\d/.test(f.rest);
    if (!isCore && !isBgc) continue;
    const coreFile = isCore ? f : coreOf(f, fixtures);
    if (!coreFile) continue; // a B-file without its core file is not a measurement source
    for (const v of levelValues(f.file, f.wmo, presPredicate(coreFile.file))) {
      if (isBgc && v.parameter === "PRES") continue; // equal to the core PRES (checked by the parser), kept once
      const p = v.parameter.toLowerCase();
      const got = core.has(v.parameter) ? m.get(v.key)?.[`${p}_${v.field}`] : b.get(`${v.key}/${v.parameter}`)?.[v.field];
      checked++;
      if (got === undefined || got === null || Number(got) !== v.value) {
        if (missing.length < 10) missing.push(`${f.rest} ${v.key} ${v.parameter}.${v.field}: file ${v.value}, lake ${String(got)}`);
      }
    }
  }
  expect(missing).toEqual([]);
  return checked;
}

for (const [name, sources] of [["the fixture lake", [{}]], ["a lake of BGC floats (with the extra S-files)", BGC_SOURCES]] as const) {
  describe(`open dataset: ${name}`, () => {
    let dir: TempDir;
    let fixtures: FixtureFile[];
    let files: Record<TableName, string[]>;
    beforeAll(async () => {
      dir = await tempDir("open-lake-readers");
      fixtures = await parsedLake(dir.path, [...sources]);
      files = await tableFiles(dir.path);
    }, 240_000);
    afterAll(async () => {
      await dir?.cleanup();
    });

    it("has files in every table, each with the table's one schema (lake/schema.ts)", () => {
      for (const t of TABLES) {
        expect(files[t].length, t).toBeGreaterThan(0);
        const first = leafSchema(files[t][0]!);
        expect(first.filter((s) => !s.includes("REPEATED") && !s.startsWith("list ") && !s.startsWith("element ")).length).toBeGreaterThan(0);
        for (const f of files[t]) expect(leafSchema(f), f).toEqual(first);
      }
    });

    it("DuckDB read_parquet without union_by_name reads every table with every column and every row", async () => {
      for (const t of TABLES) {
        const { rows, columns } = await duckTable(files[t], t);
        expect(columns).toEqual([...TABLE_COLUMNS[t].map((c) => c.name), ...PARTITION_KEYS[t]]);
        const n = files[t].reduce((a, f) => a + Number(parquetMetadata(arrayBuffer(f)).num_rows), 0);
        expect(rows.length, t).toBe(n);
      }
    });

    it("hyparquet reads every table with the first file's schema, and both readers find every value the files hold", async () => {
      const read: Partial<Record<TableName, Row[]>> = {};
      for (const t of TABLES) {
        read[t] = await hyparquetTable(files[t]);
        const names = Object.keys(read[t]![0]!);
        expect(names).toEqual([...TABLE_COLUMNS[t].map((c) => c.name), ...PARTITION_KEYS[t]]);
      }
      const byHyparquet = findEveryValue(fixtures, read.measurements!, read.bgc_measurements!);
      const byDuck = findEveryValue(fixtures, (await duckTable(files.measurements, "measurements")).rows, (await duckTable(files.bgc_measurements, "bgc_measurements")).rows);
      expect(byHyparquet).toBe(byDuck);
      console.log(`${name}: ${byHyparquet} per-level values of the NetCDF files found by both readers`);
      expect(byHyparquet).toBeGreaterThan(name.startsWith("the fixture") ? 100_000 : 10_000);
    }, 240_000);
  });
}
