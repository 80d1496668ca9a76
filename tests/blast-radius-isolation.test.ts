/**
 * Blast radius, per-float isolation: whatever is wrong with one float's data
 * is recorded for that float, its last good state stays, and every other
 * float is processed exactly as in a clean run; exit 1 names the float.
 *
 * - two files claiming one cycle (R and D of cycle 2): parse refuses the float;
 * - a float whose raw files sit under two DACs: parse refuses it;
 * - a float whose Parquet files sit under two DACs, two lake rows for one
 *   profile, a damaged Parquet file: load refuses that float alone;
 * - a file whose content contradicts its name (cycle 190 inside a file named
 *   191), which used to stop the load for every float: quarantined by parse,
 *   and the load goes on.
 */
import { cp, copyFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { PipelineSnapshot } from "./support/compare.ts";
import { dumpPostgresRows, dumpRedisPrefix } from "./support/compare.ts";
import { type Bed, expectSame, lastLine, rawSideOf, statsOf, withCleanRun } from "./support/blast.ts";
import { createTestDatabase } from "./support/postgres.ts";
import { testRedis } from "./support/redis.ts";

let bed: Bed;
let clean: PipelineSnapshot;

withCleanRun("isolation", (b, c) => {
  bed = b;
  clean = c;
});

/**
 * Runs a full load, expecting exit 1 naming `wmo` and `why`; the others are
 * loaded. (The lake is damaged by hand, not by parse: no journal entry names
 * the float, so only a full pass reads it.)
 */
async function loadRefuses(wmo: string, why: RegExp, extra: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const r = await bed.run("load", extra, ["--full"]);
  expect(r.code).toBe(1);
  expect(lastLine(r.stderr)).toMatch(new RegExp(`1 of 5 floats failed to load; first: float ${wmo}: `));
  const stats = statsOf(r);
  expect(stats).toMatchObject({ floats_loaded: 4, floats_failed: 1 });
  expect((stats.errors as { float_id: string; error: string }[])[0]).toMatchObject({ float_id: wmo });
  expect((stats.errors as { error: string }[])[0]!.error).toMatch(why);
  return stats;
}

/**
 * The same refusal into an empty database and Redis prefix: the other four
 * floats land exactly as a clean run lands them, the refused one is absent.
 */
async function othersLandAsClean(wmo: string, why: RegExp): Promise<void> {
  const db = await createTestDatabase("isolation_fresh");
  const redis = await testRedis("isolation-fresh");
  try {
    await loadRefuses(wmo, why, { DATABASE_URL: db.url, REDIS_PREFIX: redis.prefix });
    const pgRows = await dumpPostgresRows(db.pool);
    const cleanRows = clean.postgres;
    for (const table of ["floats", "profiles", "climatology_contrib"]) {
      const others = (rows: string[] | null) => (rows ?? []).filter((r) => !r.includes(`"float_id": "${wmo}"`));
      expect(others(pgRows[table]!)).toEqual(others(cleanRows[table]!));
      expect(pgRows[table]!.some((r) => r.includes(`"float_id": "${wmo}"`))).toBe(false);
    }
    const keys = await dumpRedisPrefix(redis.client, redis.prefix);
    for (const [k, v] of Object.entries(clean.redis)) {
      if (k.startsWith(`float:${wmo}`)) expect(keys[k]).toBeUndefined();
      else if (k.startsWith("float:")) expect(keys[k]).toEqual(v);
    }
  } finally {
    await redis.cleanup();
    await db.drop();
  }
}

describe("parse", () => {
  test("two files claiming one cycle: the float is refused by name, its tables stay, the others are parsed", async () => {
    await bed.putFile("aoml/13857/profiles/D13857_002.nc", bed.fixture("aoml/13857/profiles/R13857_002.nc"), "20250101000000");
    expect((await bed.run("sync")).code).toBe(0);
    const r = await bed.run("parse", {}, ["--force"]);
    expect(r.code).toBe(1);
    const stats = statsOf(r);
    expect(stats).toMatchObject({ floats_parsed: 4, errors: 1 });
    expect(stats.error_details).toEqual([
      expect.objectContaining({ float_id: "13857", message: expect.stringMatching(/D13857_002\.nc and R13857_002\.nc both claim cycle 2 \(ascending\).*last good tables stay/) }),
    ]);
    expect((await bed.run("load")).code).toBe(0);
    expectSame(await bed.snap(), clean, rawSideOf("13857"));
    // Withdrawn again, the float parses as before.
    await bed.removeFile("aoml/13857/profiles/D13857_002.nc");
    expect((await bed.run("sync")).code).toBe(0);
    expect((await bed.run("parse")).code).toBe(0);
  });

  test("a float with raw files under two DACs is refused; the other floats are parsed", async () => {
    await cp(join(bed.lake, "raw/dac=jma/wmo=4902252"), join(bed.lake, "raw/dac=kma/wmo=4902252"), { recursive: true });
    try {
      const r = await bed.run("parse", {}, ["--force"]);
      expect(r.code).toBe(1);
      const stats = statsOf(r);
      expect(stats).toMatchObject({ floats_parsed: 4, errors: 1 });
      expect(stats.error_details).toEqual([
        expect.objectContaining({ float_id: "4902252", message: expect.stringMatching(/raw files under 2 DACs \(jma, kma\): expected one/) }),
      ]);
      expect((await bed.run("load")).code).toBe(0);
      expectSame(await bed.snap(), clean, [...rawSideOf("13857"), /^raw\/dac=kma\//]);
    } finally {
      await rm(join(bed.lake, "raw/dac=kma"), { recursive: true });
    }
  });
});

describe("load", () => {
  const profilesOf13857 = async () => {
    const dir = join(bed.lake, "parquet/profiles/dac=aoml");
    const years = (await readdir(dir)).filter((y) => y.startsWith("year="));
    return { dir, years };
  };

  test("two lake rows for one profile refuse that float alone; Postgres and Redis keep its last good rows", async () => {
    const { dir, years } = await profilesOf13857();
    const dup = join(dir, "year=2099", "13857.parquet");
    await cp(join(dir, years[0]!, "13857.parquet"), dup);
    try {
      await loadRefuses("13857", /the lake has two profiles 13857\/\d+\/A\/0/);
      expectSame(await bed.snap(), clean, [...rawSideOf("13857"), /^parquet\/profiles\/dac=aoml\/year=2099\//]);
      await othersLandAsClean("13857", /two profiles/);
    } finally {
      await rm(join(dir, "year=2099"), { recursive: true });
    }
  });

  test("a damaged Parquet file refuses that float alone", async () => {
    const file = join(bed.lake, "parquet/measurements/dac=nmdis");
    const [year] = (await readdir(file)).filter((y) => y.startsWith("year="));
    const path = join(file, year!, "2901623.parquet");
    const aside = join(bed.root.path, "2901623.parquet");
    await copyFile(path, aside);
    await writeFile(path, "PAR1 this is not a Parquet file PAR1");
    try {
      await loadRefuses("2901623", /2901623/);
      expectSame(await bed.snap(), clean, [...rawSideOf("13857"), /^parquet\/measurements\/dac=nmdis\//]);
    } finally {
      await copyFile(aside, path);
    }
  });

  test("a float whose Parquet files sit under two DACs is refused; the others load", async () => {
    const from = join(bed.lake, "parquet/floats/dac=bodc/6901929.parquet");
    const to = join(bed.lake, "parquet/floats/dac=meds/6901929.parquet");
    await cp(from, to);
    try {
      await loadRefuses("6901929", /Parquet files under 2 DACs \(bodc, meds\)/);
      expectSame(await bed.snap(), clean, [...rawSideOf("13857"), /^parquet\/floats\/dac=meds\//]);
    } finally {
      await rm(join(bed.lake, "parquet/floats/dac=meds"), { recursive: true });
    }
  });
});

describe("the case from the issue", () => {
  test("a file whose content contradicts its name no longer stops the load for every other float", async () => {
    // Cycle 190's bytes under the name of cycle 191: the same profile twice, if it were believed.
    await bed.putFile("bodc/6901929/profiles/R6901929_191.nc", bed.fixture("bodc/6901929/profiles/R6901929_190.nc"), "20250101000000");
    expect((await bed.run("sync")).code).toBe(0);
    const parse = await bed.run("parse");
    // Partial (exit 1): one file quarantined, every other float and file landed (README "Runs, verdicts and health").
    expect(parse.code, parse.stderr).toBe(1);
    expect(statsOf(parse)).toMatchObject({ quarantined: 1, errors: 0 });
    const rec = JSON.parse(new TextDecoder().decode((await bed.store.get("quarantine/dac=bodc/wmo=6901929/R6901929_191.nc.json"))!));
    expect(rec).toMatchObject({ where: "CYCLE_NUMBER", kept_previous: false });
    expect(rec.reason).toMatch(/CYCLE_NUMBER 190 \(profile 0\), but the file name says cycle 191/);
    // The load after it takes the float parse rewrote; a full pass takes every float, none stopped by the bad file.
    expect(statsOf(await bed.run("load"))).toMatchObject({ mode: "incremental", floats_loaded: 1, floats_failed: 0 });
    const load = await bed.run("load", {}, ["--full"]);
    expect(load.code, load.stderr).toBe(0);
    expect(statsOf(load)).toMatchObject({ floats_loaded: 5, floats_failed: 0 });
    expectSame(await bed.snap(), clean, [...rawSideOf("13857"), ...rawSideOf("6901929")]);
  });
});
