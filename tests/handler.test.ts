/**
 * The Lambda-style handler, called as Lambda would call it: an event in, the
 * run's record out, with the real stages against the fixture GDAC, a
 * temporary lake and (for run-float) a database of this file's own.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArgoLakeError, ConfigError } from "../lib/errors.ts";
import { readManifest } from "../lib/gdac/manifest.ts";
import { handler } from "../lib/handler.ts";
import { RunVerdictError } from "../lib/runner.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { LakeLock } from "../lib/schedule/lock.ts";
import { type RunRecord, RunRecordSchema } from "../lib/schedule/runs.ts";
import { fixturesDir, readManifest as readFixtureManifest, tempDir, type TempDir } from "./support/fixtures.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

let db: TestDatabase;
const dirs: TempDir[] = [];
// Handler runs read .env from the working directory: point them at none.
const env = { PATH: process.env.PATH, LOG_LEVEL: "warn" };

beforeAll(async () => {
  db = await createTestDatabase("handler");
});
afterAll(async () => {
  await db?.drop();
  for (const d of dirs) await d.cleanup();
});

async function newLake(): Promise<string> {
  const d = await tempDir("handler-lake");
  dirs.push(d);
  return d.path;
}

/** Fixture files sync takes for a float by default (meta and single-profile files; prof only with SYNC_FILES). */
function fixtureFiles(wmo: string): string[] {
  return readFixtureManifest().filter((r) => r.wmo === wmo && !r.path.endsWith("_prof.nc") && !r.path.endsWith("_Sprof.nc")).map((r) => r.path);
}

describe("handler(event)", () => {
  it("runs a sync for the event's float and returns its stats, as recorded in the lake", async () => {
    const lake = await newLake();
    const result = await handler({ job: "sync", config: { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake }, floatIds: ["13857"] }, {}, { env });
    const record = RunRecordSchema.parse(result);
    expect(record.verdict).toBe("succeeded");
    expect(record.trigger).toBe("handler");
    expect(record.float_ids).toEqual(["13857"]);
    expect(record.stages).toHaveLength(1);
    const stats = record.stages[0].stats as { total_floats: number; files_downloaded: number; errors: number };
    expect(stats.total_floats).toBe(1);
    expect(stats.files_downloaded).toBe(fixtureFiles("13857").length);
    expect(stats.errors).toBe(0);

    const store = new LocalLakeStore(lake);
    const manifest = await readManifest(store, "aoml", "13857");
    expect(Object.keys(manifest!.files).length).toBe(fixtureFiles("13857").length);
    expect((await store.list("raw/_manifest/")).length).toBe(1);
    const latest = JSON.parse(new TextDecoder().decode((await store.get("runs/latest.json"))!));
    expect(latest).toEqual(record);
    // The lock was taken for the run and given back.
    expect(record.lock).toMatch(/locks\/scheduler\.json$/);
    expect(await store.get("locks/scheduler.json")).toBeNull();
  });

  it("runs run-float (sync, parse, load) for float_id into Postgres and records it in job_runs", async () => {
    const lake = await newLake();
    const result = await handler(
      { job: "run-float", float_id: "2902696", config: { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake, DATABASE_URL: db.url } },
      {},
      { env },
    ) as RunRecord;
    expect(result.verdict).toBe("succeeded");
    expect(result.stages.map((s) => [s.stage, s.verdict])).toEqual([["sync", "succeeded"], ["parse", "succeeded"], ["load", "succeeded"]]);
    expect(result.lock).toBeNull();
    const load = result.stages.find((s) => s.stage === "load")!.stats as { floats_loaded: number; profiles_inserted: number };
    expect(load.floats_loaded).toBe(1);
    expect(load.profiles_inserted).toBeGreaterThan(0);
    const run = await db.pool.query("SELECT job, status, stats FROM job_runs WHERE run_id = $1", [result.run_id]);
    expect(run.rows[0]).toMatchObject({ job: "run-float", status: "succeeded" });
    expect(run.rows[0].stats.stages[0].stage).toBe("sync");
    const floats = await db.pool.query("SELECT float_id, dac FROM floats");
    expect(floats.rows).toEqual([{ float_id: "2902696", dac: "csio" }]);
  });

  it("skips a job whose lock another process holds", async () => {
    const lake = await newLake();
    const other = new LakeLock(new LocalLakeStore(lake), "scheduler", { settleMs: 10 });
    expect(await other.tryAcquire()).toBe(true);
    try {
      const result = await handler({ job: "parse", config: { LAKE_URL: lake } }, {}, { env });
      expect(result).toMatchObject({ verdict: "skipped", job: "parse", scope: "all" });
      await expect(new LocalLakeStore(lake).list("runs/")).resolves.toEqual([]);
    } finally {
      await other.release();
    }
  });

  it("records a failed run, then throws its error", async () => {
    const lake = await newLake();
    const empty = join(lake, "no-gdac");
    await mkdir(empty);
    const err = await handler({ job: "cycle", config: { GDAC_BASE_URL: empty, LAKE_URL: lake } }, {}, { env }).catch((e) => e);
    expect(err).toBeInstanceOf(ArgoLakeError);
    expect(String(err.message)).toMatch(/failed in sync: .*no profile index/);
    const latest = RunRecordSchema.parse(JSON.parse(new TextDecoder().decode((await new LocalLakeStore(lake).get("runs/latest.json"))!)));
    expect(latest.run_id).toBe(err.context.run_id);
    expect(latest.stages.map((s) => s.verdict)).toEqual(["failed", "skipped", "skipped"]);
  });

  it("fails before running when the lock's database cannot be reached", async () => {
    const lake = await newLake();
    const event = { job: "sync", config: { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake, DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" } };
    await expect(handler(event, {}, { env })).rejects.toThrow(/cannot take the run lock .*cannot reach Postgres at 127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
    await expect(new LocalLakeStore(lake).list("")).resolves.toEqual([]);
  });

  it("refuses a bad event with a ConfigError before doing anything", async () => {
    for (const event of [{ job: "explode" }, { config: { NOT_A_VARIABLE: "1" } }, { job: "run-float" }, { shard: "3/2" }, { surprise: true }]) {
      await expect(handler(event, {}, { env: { ...env, LAKE_URL: join(fixturesDir, "..", "never-written") } })).rejects.toBeInstanceOf(ConfigError);
    }
  });
});

describe("handler near the Lambda time limit", () => {
  let server: TestHttpsServer;
  beforeAll(async () => {
    server = await startHttpsServer({ latencyMs: 300 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("stops the run SHUTDOWN_TIMEOUT before the deadline: the run is failed (interrupted), recorded, and thrown", async () => {
    const lake = await newLake();
    // Lambda says 32 s are left and SHUTDOWN_TIMEOUT is 30: stop 2 s from now, mid-sync.
    const err = await handler(
      { job: "cycle", config: { GDAC_BASE_URL: server.url, GDAC_CA_FILE: server.caFile, LAKE_URL: lake, SHUTDOWN_TIMEOUT: 30 }, floatIds: ["5900865"] },
      { getRemainingTimeInMillis: () => 32_000 },
      { env },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(RunVerdictError);
    const result = (err as RunVerdictError).record;
    expect(result.verdict).toBe("failed");
    expect(result.error).toMatch(/interrupted \(Lambda time limit near\)/);
    expect(result.stages.map((s) => s.verdict)).toEqual(["failed", "skipped", "skipped"]);
    // Stopped wherever it was (index or files): 5900865 has 81 files at 300 ms each, far from all landed.
    const landed = await new LocalLakeStore(lake).list("raw/dac=csiro/wmo=5900865/");
    expect(landed.length).toBeLessThan(fixtureFiles("5900865").length);
    const sync = result.stages[0].stats as { aborted: boolean } | null;
    if (sync !== null) expect(sync.aborted).toBe(true);
  });
});
