/**
 * argopy's standard and research user modes (shared/ARGO.md) as the views
 * measurements_standard and measurements_research: expectations computed by
 * hand, on real fixture levels and on a few hand-written rows that hit each
 * rule's edges.
 */
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { type Column, type ColumnTable, NULL_I8, stringColumn } from "../lib/lake/columns.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { ParquetWriter } from "../lib/lake/parquet.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";
import { LONG_COLUMNS, MEASUREMENT_COLUMNS } from "../lake/schema.ts";
import { partitionFileKey } from "../lib/lake/layout.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { landFixtures } from "./parse-job-support.ts";

describe("argopy user modes on fixture levels", () => {
  let dir: TempDir;
  let db: DuckSession;
  beforeAll(async () => {
    dir = await tempDir("modes");
    const store = new LocalLakeStore(dir.path);
    await landFixtures(store, ["1900857", "2901746", "5906072", "6901929", "6903247", "13857"]);
    const config = loadConfig({ env: { LAKE_URL: dir.path, MAX_WORKERS: "1", LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
    const stats = await runParse(config, store, createLogger({ level: "error" }));
    expect(stats.errors).toBe(0);
    db = await openDuckDB({ threads: 1 });
    await createLakeViews(db, dir.path);
  });
  afterAll(async () => {
    db?.close();
    await dir?.cleanup();
  });

  const count = async (view: string, where: string) => Number((await db.all(`SELECT count(*) AS n FROM ${view} WHERE ${where}`))[0]!.n);

  it("standard mode keeps points whose position, time and best PRES/TEMP/PSAL QC are 1 or 2", async () => {
    // Counted by hand from each file's QC flags (per float: data mode, POSITION_QC, JULD_QC, best PRES/TEMP/PSAL QC):
    // 1900857: 290 levels, all D; 4 have PSAL_ADJUSTED_QC 4 -> 286.
    expect(await count("measurements_standard", "float_id = '1900857'")).toBe(286);
    // 2901746: 82 D levels all good; its R file R2901746_001 has JULD_QC 4 -> its 50 levels go.
    expect(await count("measurements_standard", "float_id = '2901746'")).toBe(82);
    expect(await count("measurements_standard", "float_id = '2901746' AND cycle_number = 1")).toBe(0);
    // 5906072: 1019 A levels with POSITION_QC 1 are kept, the 509 A levels of R5906072_121 (no position,
    // POSITION_QC 9) are not; 1524 D levels are good and 4 have TEMP_ADJUSTED_QC 4 -> 1019 + 1524.
    expect(await count("measurements_standard", "float_id = '5906072'")).toBe(2543);
    expect(await count("measurements_standard", "float_id = '5906072' AND cycle_number = 121")).toBe(0);
    // 6901929: 927 D levels good, 2 D levels (cycle 2, both levels) with TEMP_ADJUSTED_QC 4, and every R
    // level has PSAL_QC 3 -> 927.
    expect(await count("measurements_standard", "float_id = '6901929'")).toBe(927);
    expect(await count("measurements_standard", "float_id = '6901929' AND cycle_number = 2")).toBe(0);
    // 6903247 (all R): 263 levels have PRES, TEMP and PSAL QC 1; the others have PSAL_QC 3, PRES_QC 4 or
    // no TEMP/PSAL at all (blank QC counts as 9). Levels whose BGC values pass their own rule are rows too,
    // with TEMP and PSAL NULL (tests/open-lake-bgc.test.ts checks those against the files).
    expect(await count("measurements_standard", "float_id = '6903247' AND temp IS NOT NULL")).toBe(263);
    expect(await count("measurements_standard", "float_id = '6903247' AND temp IS NULL")).toBeGreaterThan(0);
    // 13857 has no PSAL: it is judged on the QC variables it has, as argopy does, and keeps all its 440 points.
    expect(await count("measurements_standard", "float_id = '13857'")).toBe(440);
  });

  it("standard mode gives best values: adjusted in mode D, raw in mode R", async () => {
    // 1900857 cycle 0, profile 1, level 0: PSAL_ADJUSTED_QC 4 -> not a standard point.
    expect(await count("measurements_standard", "float_id = '1900857' AND cycle_number = 0 AND profile_index = 1 AND level = 0")).toBe(0);
    const [d] = await db.all(
      "SELECT s.temp, m.temp_adjusted, s.temp_error, m.temp_adjusted_error FROM measurements_standard s JOIN measurements m USING (float_id, cycle_number, direction, profile_index, level) " +
        "WHERE float_id = '1900857' AND cycle_number = 0 AND profile_index = 0 AND level = 0",
    );
    expect(d!.temp).toBe(d!.temp_adjusted);
    expect(d!.temp_error).toBe(d!.temp_adjusted_error);
    const [r] = await db.all(
      "SELECT s.temp, m.temp_raw, s.temp_error FROM measurements_standard s JOIN measurements m USING (float_id, cycle_number, direction, profile_index, level) " +
        "WHERE float_id = '6903247' LIMIT 1",
    );
    expect(r!.temp).toBe(r!.temp_raw);
    expect(r!.temp_error).toBeNull();
  });

  it("research mode keeps delayed-mode points with position, time and adjusted QC 1 and PRES error < 20", async () => {
    // Only D levels; every D level with all adjusted QC 1 has PRES_ADJUSTED_ERROR 2.4 dbar.
    expect(await count("measurements_research", "float_id = '1900857'")).toBe(286);
    expect(await count("measurements_research", "float_id = '2901746'")).toBe(82);
    expect(await count("measurements_research", "float_id = '5906072'")).toBe(1524);
    expect(await count("measurements_research", "float_id = '6901929'")).toBe(927);
    expect(await count("measurements_research", "float_id IN ('6903247', '13857')")).toBe(0);
    expect(await count("measurements_research", "float_id = '1900857' AND temp IS NULL")).toBe(0);
    expect(await count("measurements_research", "data_mode <> 'D'")).toBe(0);
  });
});

/** A measurements file and its bgc_measurements file of hand-written rows, one level per rule edge. */
function edgeRows(): { measurements: ColumnTable; bgc: ColumnTable } {
  type Row = {
    pos: number; juld: number; mode: string; pq: number | null; tq: number | null; sq: number | null;
    aq: number; perr: number; doxyMode: string | null; doxyQc: number | null; doxyAdjQc: number | null;
  };
  // level: what it tests
  const rows: Row[] = [
    /* 0 all good, D             */ { pos: 1, juld: 1, mode: "D", pq: 1, tq: 1, sq: 1, aq: 1, perr: 2.4, doxyMode: "D", doxyQc: 1, doxyAdjQc: 1 },
    /* 1 QC 2 everywhere, D      */ { pos: 2, juld: 2, mode: "D", pq: 2, tq: 2, sq: 2, aq: 2, perr: 2.4, doxyMode: "D", doxyQc: 2, doxyAdjQc: 2 },
    /* 2 blank PSAL QC           */ { pos: 1, juld: 1, mode: "D", pq: 1, tq: 1, sq: null, aq: 1, perr: 2.4, doxyMode: "A", doxyQc: 1, doxyAdjQc: 1 },
    /* 3 PRES error 20           */ { pos: 1, juld: 1, mode: "D", pq: 1, tq: 1, sq: 1, aq: 1, perr: 20, doxyMode: "A", doxyQc: 5, doxyAdjQc: 5 },
    /* 4 PRES error 19.9         */ { pos: 1, juld: 1, mode: "D", pq: 1, tq: 1, sq: 1, aq: 1, perr: 19.9, doxyMode: "D", doxyQc: 8, doxyAdjQc: 8 },
    /* 5 mode A, all QC 1        */ { pos: 1, juld: 1, mode: "A", pq: 1, tq: 1, sq: 1, aq: 1, perr: 2.4, doxyMode: "R", doxyQc: 1, doxyAdjQc: null },
    /* 6 position QC 8 (ice)     */ { pos: 8, juld: 1, mode: "D", pq: 1, tq: 1, sq: 1, aq: 1, perr: 2.4, doxyMode: "D", doxyQc: 4, doxyAdjQc: 4 },
    /* 7 mode R, TEMP QC 3       */ { pos: 1, juld: 1, mode: "R", pq: 1, tq: 3, sq: 1, aq: 1, perr: 2.4, doxyMode: "D", doxyQc: 3, doxyAdjQc: 3 },
  ];
  const n = rows.length;
  const f32 = (f: (r: Row, i: number) => number | null) => Float32Array.from(rows, (r, i) => f(r, i) ?? NaN);
  const f64 = (f: (r: Row, i: number) => number | null) => Float64Array.from(rows, (r, i) => f(r, i) ?? NaN);
  const i8 = (f: (r: Row) => number | null) => Int8Array.from(rows, (r) => f(r) ?? NULL_I8);
  const key: Record<string, Column> = {
    float_id: stringColumn("float_id", rows.map(() => "1234567")),
    cycle_number: { name: "cycle_number", type: "INTEGER", data: new Int32Array(n).fill(1) },
    direction: stringColumn("direction", rows.map(() => "A")),
    profile_index: { name: "profile_index", type: "SMALLINT", data: new Int16Array(n) },
    data_mode: stringColumn("data_mode", rows.map((r) => r.mode)),
    time: { name: "time", type: "TIMESTAMPTZ", data: new Float64Array(n).fill(Date.UTC(2020, 5, 1) * 1000) },
    juld_qc: { name: "juld_qc", type: "TINYINT", data: i8((r) => r.juld) },
    latitude: { name: "latitude", type: "DOUBLE", data: new Float64Array(n).fill(10) },
    longitude: { name: "longitude", type: "DOUBLE", data: new Float64Array(n).fill(20) },
    position_qc: { name: "position_qc", type: "TINYINT", data: i8((r) => r.pos) },
    level: { name: "level", type: "INTEGER", data: Int32Array.from(rows, (_, i) => i) },
    depth_m: { name: "depth_m", type: "DOUBLE", data: new Float64Array(n) },
    source_file: stringColumn("source_file", rows.map(() => "D1234567_001.nc")),
    bgc_source_file: stringColumn("bgc_source_file", rows.map(() => "BD1234567_001.nc")),
    date_update: { name: "date_update", type: "TIMESTAMPTZ", data: new Float64Array(n).fill(Date.UTC(2021, 0, 1) * 1000) },
  };
  const param = (p: string, qc: (r: Row) => number | null, mode: (r: Row) => string | null, adjQc: (r: Row) => number | null, err: (r: Row) => number | null) => {
    Object.assign(key, {
      [p]: { name: p, type: "FLOAT", data: f32((_, i) => 100 + i) },
      [`${p}_qc`]: { name: `${p}_qc`, type: "TINYINT", data: i8(qc) },
      [`${p}_raw`]: { name: `${p}_raw`, type: "FLOAT", data: f32((_, i) => 100 + i) },
      [`${p}_raw_qc`]: { name: `${p}_raw_qc`, type: "TINYINT", data: i8(qc) },
      [`${p}_adjusted`]: { name: `${p}_adjusted`, type: "FLOAT", data: f32((r, i) => (adjQc(r) === null ? null : 100 + i)) },
      [`${p}_adjusted_qc`]: { name: `${p}_adjusted_qc`, type: "TINYINT", data: i8(adjQc) },
      [`${p}_adjusted_error`]: { name: `${p}_adjusted_error`, type: "FLOAT", data: f32(err) },
      [`${p}_mode`]: stringColumn(`${p}_mode`, rows.map(mode)),
    });
  };
  param("pres", (r) => r.pq, (r) => r.mode, (r) => (r.mode === "R" ? null : r.pq), (r) => r.perr);
  param("temp", (r) => r.tq, (r) => r.mode, (r) => (r.mode === "R" ? null : r.tq), () => 0.002);
  param("psal", (r) => r.sq, (r) => r.mode, (r) => (r.mode === "R" ? null : r.sq), () => 0.01);
  const measurements = { rowCount: n, columns: MEASUREMENT_COLUMNS.map((c) => key[c.name]!), metadata: {} };
  // DOXY as a long row per level: best value/QC adjusted in mode A/D, raw in R.
  const best = (r: Row) => (r.doxyMode === "R" ? r.doxyQc : r.doxyAdjQc);
  const long: Record<string, Column> = {
    ...key,
    pres: { name: "pres", type: "FLOAT", data: f32((_, i) => 100 + i) },
    parameter: stringColumn("parameter", rows.map(() => "DOXY")),
    value: { name: "value", type: "DOUBLE", data: f64((_, i) => 200 + i) },
    qc: { name: "qc", type: "TINYINT", data: i8(best) },
    raw: { name: "raw", type: "DOUBLE", data: f64((_, i) => 200 + i) },
    raw_qc: { name: "raw_qc", type: "TINYINT", data: i8((r) => r.doxyQc) },
    adjusted: { name: "adjusted", type: "DOUBLE", data: f64((r, i) => (r.doxyAdjQc === null ? null : 200 + i)) },
    adjusted_qc: { name: "adjusted_qc", type: "TINYINT", data: i8((r) => r.doxyAdjQc) },
    adjusted_error: { name: "adjusted_error", type: "DOUBLE", data: f64(() => 5) },
    mode: stringColumn("mode", rows.map((r) => r.doxyMode)),
    value_type: stringColumn("value_type", rows.map(() => "float")),
    dpres: { name: "dpres", type: "FLOAT", data: f32(() => null) },
    source_file: stringColumn("source_file", rows.map(() => "BD1234567_001.nc")),
  };
  return { measurements, bgc: { rowCount: n, columns: LONG_COLUMNS.map((c) => long[c.name]!), metadata: {} } };
}

describe("argopy user modes on hand-written rows", () => {
  let dir: TempDir;
  let db: DuckSession;
  beforeAll(async () => {
    dir = await tempDir("modes-edge");
    const w = await ParquetWriter.open();
    const tables = edgeRows();
    for (const [table, t] of [["measurements", tables.measurements], ["bgc_measurements", tables.bgc]] as const) {
      const path = join(dir.path, ...partitionFileKey(table, "aoml", 2020, "1234567").split("/"));
      await mkdir(dirname(path), { recursive: true });
      await w.writeFile(t, path, "zstd");
    }
    await w.close();
    db = await openDuckDB({ threads: 1 });
    await createLakeViews(db, dir.path);
  });
  afterAll(async () => {
    db?.close();
    await dir?.cleanup();
  });

  it("standard: core rule on TEMP/PSAL, each BGC value on its own mode and QC and its level's position, time and PRES QC", async () => {
    const rows = await db.all("SELECT level, temp, doxy, doxy_qc, doxy_mode FROM measurements_standard ORDER BY level");
    // Level 6 (POSITION_QC 8) fails for everything; level 7 (TEMP_QC 3, DOXY QC 3) keeps nothing.
    // Level 2 (blank PSAL QC) is no core point, but its DOXY (A, QC 1) is kept on its own.
    expect(rows).toEqual([
      { level: 0, temp: 100, doxy: 200, doxy_qc: 1, doxy_mode: "D" }, // D, QC 1
      { level: 1, temp: 101, doxy: 201, doxy_qc: 2, doxy_mode: "D" }, // D, QC 2
      { level: 2, temp: null, doxy: 202, doxy_qc: 1, doxy_mode: "A" }, // A, QC 1; core point fails
      { level: 3, temp: 103, doxy: 203, doxy_qc: 5, doxy_mode: "A" }, // A, QC 5
      { level: 4, temp: 104, doxy: 204, doxy_qc: 8, doxy_mode: "D" }, // D, QC 8
      { level: 5, temp: 105, doxy: null, doxy_qc: null, doxy_mode: "R" }, // R: not kept in standard mode
    ]);
  });

  it("research: D only, QC 1 everywhere, PRES error < 20; BGC values only in mode D with QC 1, 5 or 8", async () => {
    const rows = await db.all("SELECT level, pres_error, doxy, doxy_qc FROM measurements_research ORDER BY level");
    // Level 1 has QC 2, 2 a blank PSAL QC, 3 a PRES error of 20, 5 mode A, 6 POSITION_QC 8, 7 mode R.
    expect(rows.map((r) => r.level)).toEqual([0, 4]);
    expect(rows[0]).toMatchObject({ level: 0, doxy: 200, doxy_qc: 1 });
    expect(rows[1]).toMatchObject({ level: 4, doxy: 204, doxy_qc: 8 });
    expect(rows[1]!.pres_error).toBeCloseTo(19.9, 5);
  });
});
