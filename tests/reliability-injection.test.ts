/**
 * Injection: SQL-looking values through every entry point that takes a WMO,
 * a DAC or a date (job arguments and flags, environment variables, the
 * Lambda-style handler's event) are refused with exit code 2 (a ConfigError)
 * before any work; values that are data (a key prefix, a lake path, strings
 * inside a NetCDF file, an output file name) are stored and used literally.
 * The database's tables and rows, and Redis keys outside the test's own, are
 * the same afterwards.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConfigError } from "../lib/errors.ts";
import { handler } from "../lib/handler.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { dumpPostgresRows } from "./support/compare.ts";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { type JobResult, runJobProcess } from "./support/jobs.ts";
import { argoProfileFile, writeNetcdf3 } from "./support/netcdf3-writer.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";

const WMO = "6903247";
const HOSTILE = [
  "1'; DROP TABLE profiles;--",
  "aoml' OR '1'='1",
  "2902269) UNION SELECT float_id FROM floats --",
  "2902269; DELETE FROM floats",
  "coriolis\"; DROP TABLE floats; --",
];
/** A platform type (32 characters at most in the file) that would end a quoted SQL string. */
const HOSTILE_TEXT = "x'); DROP TABLE profiles;--";

let root: TempDir;
let lake: string;
let db: TestDatabase;
let redis: TestRedis;
let before: Record<string, string[] | null>;
const SENTINEL = "injection-sentinel";

const env = (extra: Record<string, string> = {}) => ({
  GDAC_BASE_URL: fixturesDir,
  LAKE_URL: lake,
  DATABASE_URL: db.url,
  REDIS_URL: redis.url,
  REDIS_PREFIX: redis.prefix,
  TMPDIR: root.path,
  ...extra,
});

beforeAll(async () => {
  [root, db, redis] = await Promise.all([tempDir("injection"), createTestDatabase("injection"), testRedis("injection")]);
  // The lake's own path is data too: a quote in it must reach DuckDB's SQL escaped.
  lake = join(root.path, "lake'; DROP TABLE profiles;--");
  await mkdir(lake);
  await redis.client.set(`${redis.prefix}${SENTINEL}`, "still here");
}, 30_000);

afterAll(async () => {
  await redis?.cleanup();
  await db?.drop();
  await root?.cleanup();
});

describe("values that are data are used literally", () => {
  test("a lake path with a quote: run-float syncs, parses (DuckDB) and loads", async () => {
    const r = await runJobProcess("run-float", [WMO, "--json"], { env: env() });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles WHERE float_id = $1", [WMO])).rows[0].n).toBe(11);
  });

  test("SQL in a NetCDF string variable is stored as text in Postgres and Redis", async () => {
    const file = writeNetcdf3(argoProfileFile([{
      platformNumber: "6900001", cycleNumber: 1, juld: 25000.5, latitude: 10, longitude: 20, platformType: HOSTILE_TEXT,
      parameters: { PRES: { raw: [5, 10], rawQc: "11" }, TEMP: { raw: [20, 19], rawQc: "11" } },
    }]));
    await new LocalLakeStore(lake).put("raw/dac=aoml/wmo=6900001/profiles/R6900001_001.nc", file);
    const r = await runJobProcess("run-float", ["6900001", "--skip-download", "--json"], { env: env() });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rows = (await db.pool.query("SELECT platform_type FROM profiles WHERE float_id = '6900001'")).rows;
    expect(rows).toEqual([{ platform_type: HOSTILE_TEXT }]);
    expect(JSON.parse((await redis.client.get(`${redis.prefix}float:6900001:latest`))!).metadata.platform_type).toBe(HOSTILE_TEXT);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles")).rows[0].n).toBe(12);
    before = await dumpPostgresRows(db.pool);
  });

  test("REDIS_PREFIX with quotes, globs and a Redis command is a literal key prefix", async () => {
    const prefix = `${redis.prefix}x'; FLUSHALL; --*?[a]:`;
    const r = await runJobProcess("run-float", [WMO, "--skip-download"], { env: env({ REDIS_PREFIX: prefix }) });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(await redis.client.smembers(`${prefix}floats`)).toEqual([WMO]);
    expect(await redis.client.exists(`${prefix}float:${WMO}:latest`)).toBe(1);
    expect(await redis.client.get(`${redis.prefix}${SENTINEL}`)).toBe("still here");
    // The main prefix still has both floats loaded before.
    expect((await redis.client.smembers(`${redis.prefix}floats`)).sort()).toEqual(["6900001", WMO]);
  });

  test("an output file name with a quote: the query job writes exactly that file", async () => {
    const out = join(root.path, "out'; DROP TABLE x;--.csv");
    const r = await runJobProcess("query", ["SELECT count(*) AS n FROM profiles", "--out", out], { env: env() });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});

describe("identifiers from input are refused before any work (exit 2)", () => {
  /** [description, job, args, env] */
  const cases: [string, string, string[], Record<string, string>][] = [];
  for (const v of HOSTILE.slice(0, 3)) {
    cases.push([`run-float positional ${v}`, "run-float", [v], {}]);
    cases.push([`run-float --float ${v}`, "run-float", [WMO, "--float", v], {}]);
    cases.push([`run-batch --dac ${v}`, "run-batch", ["--dac", v], {}]);
    cases.push([`FLOAT_IDS=${v} (load)`, "load", [], { FLOAT_IDS: v }]);
    cases.push([`ARGO_DAC=${v} (sync)`, "sync", [], { ARGO_DAC: v }]);
    cases.push([`SYNC_DATE_FROM=${v} (sync)`, "sync", [WMO], { SYNC_DATE_FROM: `2024-01-01${v}` }]);
  }
  cases.push(["sync positional", "sync", [HOSTILE[0]!], {}]);
  cases.push(["run-batch --float", "run-batch", ["--float", HOSTILE[2]!], {}]);
  cases.push(["parse --float", "parse", ["--float", HOSTILE[1]!], {}]);
  cases.push(["parse --dac", "parse", ["--dac", HOSTILE[1]!], {}]);
  cases.push(["SYNC_DATE_TO (run-float)", "run-float", [WMO], { SYNC_DATE_TO: "2024-12-31' OR '1'='1" }]);
  cases.push(["SHARD (schedule)", "schedule", ["--once", "--job", "load"], { SHARD: "0/4; DROP TABLE profiles" }]);

  test(`${cases.length} hostile flags, arguments and variables: each exit 2 naming the value's variable or argument; the database unchanged`, async () => {
    const results: { name: string; r: JobResult }[] = [];
    // Four at a time: each is a short-lived process.
    for (let i = 0; i < cases.length; i += 4) {
      results.push(...await Promise.all(cases.slice(i, i + 4).map(async ([name, job, args, extra]) => ({
        name,
        r: await runJobProcess(job, args, { env: env(extra) }),
      }))));
    }
    for (const { name, r } of results) {
      expect(r.code, `${name}:\n${r.stderr}`).toBe(2);
      expect(r.stderr, name).toMatch(/WMO|DAC|FLOAT_IDS|ARGO_DAC|SYNC_DATE|SHARD|expected/);
    }
    expect(await dumpPostgresRows(db.pool)).toEqual(before);
    expect(await redis.client.get(`${redis.prefix}${SENTINEL}`)).toBe("still here");
  }, 120_000);

  test("the handler refuses hostile events with a ConfigError before running anything", async () => {
    const handlerEnv = env();
    const events: unknown[] = [
      ...HOSTILE.map((v) => ({ job: "run-float", float_id: v })),
      ...HOSTILE.map((v) => ({ job: "sync", floatIds: [WMO, v] })),
      ...HOSTILE.map((v) => ({ job: "load", config: { ARGO_DAC: v } })),
      { job: "sync", config: { SYNC_DATE_FROM: "2024-01-01'; DROP TABLE profiles;--" } },
      { job: "load", config: { "DATABASE_URL; DROP TABLE profiles": "x" } },
      { job: "run-float'; DROP TABLE profiles;--" },
      { job: "load", shard: "0/2) OR (1=1" },
    ];
    for (const ev of events) {
      const err = await handler(ev, {}, { env: handlerEnv }).then(() => null, (e) => e);
      expect(err, JSON.stringify(ev)).toBeInstanceOf(ConfigError);
    }
    expect(await dumpPostgresRows(db.pool)).toEqual(before);
    const runs = (await db.pool.query("SELECT count(*)::int AS n FROM job_runs WHERE job NOT IN ('run-float')")).rows[0].n;
    expect(runs).toBe(0);
  });
});
