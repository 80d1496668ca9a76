/**
 * Outages through the whole pipeline, each on its own lake and targets, each
 * ending with a run that completes and leaves exactly what one clean run
 * leaves (lake objects, Postgres rows, Redis keys): nothing lost, nothing
 * doubled.
 *
 * - Postgres and Redis go away in the middle of the load (TCP proxy cut):
 *   run-float exits 1 naming the load stage and the target.
 * - Redis hangs (TCP proxy stalled: connections open, nothing answered):
 *   run-float must not wait for ever; it exits 1 naming the load stage.
 * - S3 (the lake, on s3rver) answers 503 SlowDown / 500 InternalError for a
 *   while: a short spell is ridden out by retries; a spell that outlasts them
 *   fails the job with the stage named, and the next run completes.
 * - The GDAC times out (HTTPS server stalls bodies or never answers): a
 *   one-off stall is retried; a lasting one fails the sync stage by name.
 */
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import type { LakeStore } from "../lib/lake/store.ts";
import { createLogger } from "../lib/log.ts";
import { runFloat } from "../lib/runner.ts";
import { S3LakeStore } from "../lib/lake/s3.ts";
import { diffSnapshots, manifestProblems, type PipelineSnapshot, snapshot, visibleTempKeys } from "./support/compare.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { stagesOf } from "./support/runs.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { type JobResult, spawnJobProcess } from "./support/jobs.ts";
import { createTestDatabase, PG_PORT, startTcpProxy, type TestDatabase } from "./support/postgres.ts";
import { REDIS_PORT, redisUrl, type TestRedis, testRedis } from "./support/redis.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const WMO = "2902269";

let srv: TestHttpsServer;
let clean: PipelineSnapshot;
const cleanups: (() => Promise<void>)[] = [];

/** A lake directory, a database and a Redis prefix, dropped after the file. */
interface Targets {
  lake: TempDir;
  tmp: TempDir;
  db: TestDatabase;
  redis: TestRedis;
}

async function targets(name: string): Promise<Targets> {
  const [lake, tmp, db, redis] = await Promise.all([tempDir(`outage-${name}`), tempDir(`outage-${name}-tmp`), createTestDatabase(`out_${name}`), testRedis(`out-${name}`)]);
  cleanups.push(async () => {
    await redis.cleanup();
    await db.drop();
    await lake.cleanup();
    await tmp.cleanup();
  });
  return { lake, tmp, db, redis };
}

beforeAll(async () => {
  srv = await startHttpsServer();
  const t = await targets("clean");
  const config = loadConfig({
    env: {
      GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: t.lake.path,
      DATABASE_URL: t.db.url, REDIS_URL: t.redis.url, REDIS_PREFIX: t.redis.prefix, REDIS_TTL: "3600",
    },
    envFile: "/nonexistent/.env",
  });
  const store = new LocalLakeStore(t.lake.path);
  const s = await runFloat(config, store, createLogger({ level: "error", write: () => {} }), WMO);
  expect(s.verdict, s.error ?? "").toBe("succeeded");
  clean = await snapshot(store, t.db.pool, t.redis.client, t.redis.prefix);
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The environment of a run-float on `t`, with `extra` on top. */
function env(t: Targets, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GDAC_BASE_URL: srv.url,
    GDAC_CA_FILE: srv.caFile,
    LAKE_URL: t.lake.path,
    DATABASE_URL: t.db.url,
    REDIS_URL: t.redis.url,
    REDIS_PREFIX: t.redis.prefix,
    REDIS_TTL: "3600",
    LOG_FORMAT: "json",
    TMPDIR: t.tmp.path,
    ...extra,
  };
}

/** The run that follows an outage: exit 0, and the same lake, rows and keys as the clean run. */
async function recoversLikeClean(t: Targets, store: LakeStore, extra: Record<string, string> = {}): Promise<JobResult> {
  const r = await spawnJobProcess("run-float", [WMO, "--json"], { env: env(t, extra) }).done;
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  expect(await manifestProblems(store)).toEqual([]);
  expect(await visibleTempKeys(store)).toEqual([]);
  const after = await snapshot(store, t.db.pool, t.redis.client, t.redis.prefix);
  expect(diffSnapshots(after, clean)).toEqual([]);
  return r;
}

/** Runs run-float and calls `at` when `marker` shows on its stderr. */
async function runWith(t: Targets, marker: RegExp, at: () => void | Promise<void>, extra: Record<string, string> = {}, timeoutMs = 50_000): Promise<JobResult> {
  const job = spawnJobProcess("run-float", [WMO, "--json"], { env: env(t, extra), timeoutMs });
  const fired = job.waitFor(marker, "stderr", timeoutMs).then(at);
  const result = await job.done;
  await fired; // the marker did appear: the outage happened while the job ran
  return result;
}

describe("a load target goes away in the middle of the load", () => {
  test("Postgres cut (connections reset, new ones refused): exit 1 naming the load stage; the next run completes like a clean one", async () => {
    const t = await targets("pgcut");
    const proxy = await startTcpProxy(PG_PORT);
    cleanups.push(() => proxy.close());
    const via = { DATABASE_URL: t.db.urlVia(proxy.port) };
    // Cut once the load has connected to both targets and migrated, before it writes the float's rows.
    const r = await runWith(t, /"msg":"loading into Redis"/, () => proxy.cut(), via);
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`run-float: load stage failed for float ${WMO}: .*Postgres at 127\\.0\\.0\\.1:${proxy.port}/`));
    const stats = stagesOf(JSON.parse(r.stdout));
    expect(stats).toMatchObject({ verdict: "failed", failed_stage: "load", sync: { errors: 0 }, parse: { errors: 0 } });
    // Nothing of the float reached Postgres; the lake has all of it.
    expect((await t.db.pool.query("SELECT count(*)::int AS n FROM profiles")).rows[0].n).toBe(0);
    await proxy.restore();
    const again = stagesOf(JSON.parse((await recoversLikeClean(t, new LocalLakeStore(t.lake.path), via)).stdout));
    expect(again).toMatchObject({ sync: { files_downloaded: 0 }, parse: { floats_parsed: 0 }, load: { profiles_inserted: 57 } });
  });

  test("Redis cut after Postgres committed: exit 1 naming Redis; the next run completes like a clean one, Postgres untouched by it", async () => {
    const t = await targets("rediscut");
    const proxy = await startTcpProxy(REDIS_PORT);
    cleanups.push(() => proxy.close());
    const via = { REDIS_URL: redisUrl(proxy.port) };
    const r = await runWith(t, /"msg":"loading into Redis"/, () => proxy.cut(), via);
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`run-float: load stage failed for float ${WMO}: .*Redis at 127\\.0\\.0\\.1:${proxy.port}`));
    expect(await t.redis.keys()).toEqual([]);
    await proxy.restore();
    const again = stagesOf(JSON.parse((await recoversLikeClean(t, new LocalLakeStore(t.lake.path), via)).stdout));
    // Postgres had the float whole already (its transaction committed before Redis failed): the re-run changes no row.
    expect(again.load).toMatchObject({ profiles_inserted: 0, profiles_unchanged: 57, redis_floats_written: 1 });
  });

  test("Redis hangs (connection open, no answer): the job gives up with exit 1 naming the load stage instead of waiting for ever", async () => {
    const t = await targets("redishang");
    const proxy = await startTcpProxy(REDIS_PORT);
    cleanups.push(() => proxy.close());
    const via = { REDIS_URL: redisUrl(proxy.port) };
    const started = Date.now();
    // Within 45 s, where ioredis without a command timeout waits for ever.
    const r = await runWith(t, /"msg":"loading into Redis"/, () => proxy.stall(), via, 45_000).catch((err: Error) => {
      throw new Error(`run-float still waiting on a hung Redis after ${Math.round((Date.now() - started) / 1000)} s: ${err.message.slice(0, 300)}`);
    });
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`run-float: load stage failed for float ${WMO}: .*Redis`));
    await proxy.restore();
    await proxy.cut(); // drop the held connections; the proxy listens again on restore
    await proxy.restore();
    await recoversLikeClean(t, new LocalLakeStore(t.lake.path), via);
  }, 90_000);
});

describe("the S3 lake answers errors for a while", () => {
  let s3: TestS3 & { faults: NonNullable<TestS3["faults"]> };
  beforeAll(async () => {
    s3 = await startS3({ faults: true });
    cleanups.push(() => s3.stop());
  });

  test("a short spell of 503 SlowDown and 500 InternalError is ridden out by retries: exit 0, same result as a clean run", async () => {
    const t = await targets("s3short");
    const lakeUrl = s3.url("short");
    const extra = { ...s3.env, LAKE_URL: lakeUrl, HTTP_MAX_RETRIES: "5" };
    const seen = s3.faults.requests.length;
    // Once the sync has begun landing files, the next 3 requests get SlowDown, then 2 get InternalError.
    const r = await runWith(t, /"msg":"plan ready"/, () => {
      s3.faults.failNext(3, "SlowDown");
      setTimeout(() => s3.faults.failNext(2, "InternalError"), 150);
    }, extra);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const faulted = s3.faults.requests.slice(seen).filter((q) => q.fault !== null);
    expect(faulted.length).toBeGreaterThanOrEqual(3);
    const store = new S3LakeStore(s3.client, s3.bucket, "short");
    await recoversLikeClean(t, store, extra);
  });

  test("503 SlowDown for longer than the retries last: exit 1 naming the stage; the next run completes like a clean one", async () => {
    const t = await targets("s3long");
    const extra = { ...s3.env, LAKE_URL: s3.url("long"), HTTP_MAX_RETRIES: "1" };
    const r = await runWith(t, /"msg":"plan ready"/, () => s3.faults.failFor(Infinity, "SlowDown"), extra);
    s3.faults.clear();
    expect(r.code, r.stderr.slice(-3000)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`run-float: sync stage failed for float ${WMO}: .*(SlowDown|reduce your request rate)`));
    const store = new S3LakeStore(s3.client, s3.bucket, "long");
    // Whatever landed before the outage is recorded consistently.
    expect((await manifestProblems(store)).filter((p) => !/in no manifest/.test(p))).toEqual([]);
    await recoversLikeClean(t, store, extra);
  });
});

describe("the GDAC times out", () => {
  test("a body that stalls once is retried after HTTP_TIMEOUT: exit 0, same result as a clean run", async () => {
    const t = await targets("gdacstall");
    srv.setFaults({ rules: [{ path: `/dac/incois/${WMO}/profiles/R${WMO}_010.nc`, fault: { kind: "stall", fraction: 0.3 }, times: 1 }] });
    try {
      const r = await spawnJobProcess("run-float", [WMO, "--json"], { env: env(t, { HTTP_TIMEOUT: "1", HTTP_RETRY_DELAY: "0.1" }) }).done;
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      expect(stagesOf(JSON.parse(r.stdout)).sync.retries).toBeGreaterThanOrEqual(1);
    } finally {
      srv.setFaults({ rules: [] });
    }
    await recoversLikeClean(t, new LocalLakeStore(t.lake.path));
  });

  test("files that never answer make the sync partial, named (exit 1); parse and load take what landed; the next run completes like a clean one", async () => {
    const t = await targets("gdachang");
    srv.setFaults({ rules: [{ path: new RegExp(`^/dac/incois/${WMO}/profiles/R${WMO}_00[0-4]\\.nc$`), fault: { kind: "hang" } }] });
    let r: JobResult;
    try {
      r = await spawnJobProcess("run-float", [WMO, "--json"], { env: env(t, { HTTP_TIMEOUT: "1", HTTP_MAX_RETRIES: "1", HTTP_RETRY_DELAY: "0.1" }) }).done;
    } finally {
      srv.setFaults({ rules: [] });
    }
    expect(r.code, r.stderr.slice(-3000)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`run-float: sync stage partial for float ${WMO}: 5 .*incois/${WMO}/profiles/R${WMO}_00[0-4]\\.nc: .*[Tt]imeout`));
    const stats = stagesOf(JSON.parse(r.stdout));
    expect(stats).toMatchObject({ verdict: "partial", failed_stage: "sync", sync: { errors: 5, files_downloaded: 53 }, parse: { floats_parsed: 1, errors: 0 } });
    expect(stats.record.failures.filter((f) => f.stage === "sync").map((f) => f.file).sort()).toEqual(
      [0, 1, 2, 3, 4].map((c) => `incois/${WMO}/profiles/R${WMO}_00${c}.nc`),
    );
    const store = new LocalLakeStore(t.lake.path);
    // The files that did land are recorded; the failed ones are neither in the raw zone nor in the manifest.
    expect(await manifestProblems(store)).toEqual([]);
    expect((await store.list(`raw/dac=incois/wmo=${WMO}/profiles/`)).length).toBe(57 - 5);
    const again = stagesOf(JSON.parse((await recoversLikeClean(t, store)).stdout));
    expect(again.sync).toMatchObject({ files_downloaded: 5, files_skipped: 53 });
    expect(readdirSync(t.tmp.path).filter((n) => n.startsWith("argo-lake-parse-"))).toEqual([]);
  });
});
