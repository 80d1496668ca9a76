/**
 * Times in the lake: every time column is a UTC-adjusted Parquet timestamp in
 * microseconds, JULD's resolution is kept (checked against JULD read with
 * netcdfjs), and a DuckDB session in another time zone returns the same instants.
 */
import { readFileSync } from "node:fs";
import { parquetMetadata } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLakeViews, openDuckDB } from "../lib/duckdb.ts";
import { TABLE_COLUMNS, TABLES, TIME_TYPE } from "../lake/schema.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { parsedLake, tableFiles } from "./open-lake-support.ts";
import { type FixtureFile, ncDim, ncVar, openNc } from "./parse-job-support.ts";

/** Microseconds since 1970 of 1950-01-01T00:00:00Z, Argo's JULD epoch. */
const JULD_EPOCH_US = BigInt(Date.UTC(1950, 0, 1)) * 1000n;

describe("time columns", () => {
  let dir: TempDir;
  let fixtures: FixtureFile[];
  beforeAll(async () => {
    dir = await tempDir("open-lake-time");
    fixtures = await parsedLake(dir.path, [{ floats: ["13857", "6903247", "2902269"] }]);
  }, 240_000);
  afterAll(async () => {
    await dir?.cleanup();
  });

  it("are TIMESTAMP(isAdjustedToUTC=true, MICROS) in every file of every table", async () => {
    const files = await tableFiles(dir.path);
    let seen = 0;
    for (const t of TABLES) {
      const timeColumns = TABLE_COLUMNS[t].filter((c) => c.type === TIME_TYPE).map((c) => c.name);
      for (const f of files[t]) {
        const b = readFileSync(f);
        const schema = parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer).schema;
        for (const name of timeColumns) {
          const el = schema.find((s) => s.name === name)!;
          expect(el.type, `${f} ${name}`).toBe("INT64");
          expect(el.logical_type, `${f} ${name}`).toEqual({ type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" });
          seen++;
        }
      }
    }
    expect(seen).toBeGreaterThan(20);
  });

  it("keep JULD to the microsecond, and a non-UTC DuckDB session returns the same instants", async () => {
    // JULD of every core profile, read with netcdfjs, as exact microseconds.
    const expected = new Map<string, bigint>();
    for (const f of fixtures.filter((x) => /^profiles\/[RD]\d/.test(x.rest))) {
      const r = openNc(f.file);
      const juld = ncVar(r, "JULD")!;
      const cycles = ncVar(r, "CYCLE_NUMBER")!.values as number[];
      const dirs = ncVar(r, "DIRECTION")!.values as string[];
      for (let p = 0; p < ncDim(r, "N_PROF"); p++) {
        const d = juld.values[p] as number;
        if (d === juld.fill || d >= 999999) continue;
        const days = Math.floor(d);
        expected.set(`${f.wmo}/${cycles[p]}/${dirs[p]}/${p}`, JULD_EPOCH_US + BigInt(days) * 86_400_000_000n + BigInt(Math.round((d - days) * 86_400_000_000)));
      }
    }
    const instants = async (zone: string) => {
      const db = await openDuckDB({ threads: 1 });
      try {
        await db.run(`SET TimeZone = '${zone}'`);
        await createLakeViews(db, dir.path);
        const rows = await db.all(
          `SELECT float_id || '/' || cycle_number || '/' || direction || '/' || profile_index AS k, epoch_us(time) AS us, CAST(time AS VARCHAR) AS shown
           FROM profiles WHERE time IS NOT NULL ORDER BY k`,
        );
        const m = await db.all("SELECT DISTINCT epoch_us(time) AS us FROM measurements WHERE time IS NOT NULL ORDER BY us");
        return { rows, measurementTimes: m.map((r) => String(r.us)) };
      } finally {
        db.close();
      }
    };
    const utc = await instants("UTC");
    const kathmandu = await instants("Asia/Kathmandu");
    expect(utc.rows.length).toBe(expected.size);
    for (const r of utc.rows) expect(BigInt(String(r.us)), String(r.k)).toBe(expected.get(String(r.k)));
    // Sub-millisecond parts are there (13857's JULD is not on a whole millisecond).
    expect(utc.rows.some((r) => BigInt(String(r.us)) % 1000n !== 0n)).toBe(true);
    // Same instants, shown in the session's zone.
    expect(kathmandu.rows.map((r) => [r.k, r.us])).toEqual(utc.rows.map((r) => [r.k, r.us]));
    expect(kathmandu.measurementTimes).toEqual(utc.measurementTimes);
    expect(String(utc.rows[0]!.shown)).toMatch(/\+00$/);
    expect(String(kathmandu.rows[0]!.shown)).toMatch(/\+05:45$/);
  });
});
