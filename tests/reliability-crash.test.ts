/**
 * Crashes: run-float is killed with SIGKILL at seeded random moments in its
 * sync, parse and load stages (at least MIN_KILLS times that land while the
 * job runs), over two floats of the fixture mirror served by the HTTPS test
 * server, and re-run each time. Some runs are told to do their work again
 * (the float's parse state deleted, or ENABLE_INCREMENTAL_SYNC=false) so that
 * kills keep landing in real work rather than in no-op re-runs.
 *
 * After every kill: every manifest entry marked present names a raw object
 * with its SHA-256 (the manifest never runs ahead of the raw zone), and no
 * temporary object is visible to readers.
 *
 * At the end, after one run per float that is not killed: the lake (every
 * object but the tables' files, byte for byte; JSON without its timestamps;
 * every table's rows as its views read them, whichever commits compacted them), Postgres (every row of
 * every loaded table) and Redis (every key and value) equal those of one
 * clean run on fresh targets; manifests match the raw zone both ways; no
 * key is doubled in the lake's tables.
 */
import { readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runFloat } from "../lib/runner.ts";
import {
  diffSnapshots,
  hiddenFiles,
  lakeDuplicates,
  manifestProblems,
  type PipelineSnapshot,
  snapshot,
  visibleTempKeys,
} from "./support/compare.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { stagesOf } from "./support/runs.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { spawnJobProcess } from "./support/jobs.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";
import { seededRandom } from "./support/random.ts";

const FLOATS = ["2902269", "6903247"];
const DACS: Record<string, string> = { "2902269": "incois", "6903247": "coriolis" };
/** Kills that must land while the job runs (RELIABILITY_KILLS raises it). */
const MIN_KILLS = Math.max(20, Number(process.env.RELIABILITY_KILLS ?? 20));
const MAX_ITERATIONS = MIN_KILLS * 4;
const SEED = Number(process.env.RELIABILITY_SEED ?? 8);

/** Where each stage announces itself on stderr (JSON log lines), and how long after that we may kill. */
const STAGES = [
  { stage: "sync", marker: /"msg":"sync started"/, windowMs: 400 },
  { stage: "parse", marker: /"msg":"parse: floats found"/, windowMs: 900 },
  { stage: "load", marker: /"msg":"loading into Postgres"/, windowMs: 700 },
] as const;


let srv: TestHttpsServer;
let lake: TempDir;
let jobTmp: TempDir;
let db: TestDatabase;
let redis: TestRedis;
let cleanLake: TempDir;
let cleanDb: TestDatabase;
let cleanRedis: TestRedis;
let clean: PipelineSnapshot;

beforeAll(async () => {
  // Latency stretches the sync (dozens of small files) so kills can land inside it.
  srv = await startHttpsServer({ latencyMs: 15 });
  [lake, jobTmp, db, redis, cleanLake, cleanDb, cleanRedis] = await Promise.all([
    tempDir("crash-lake"), tempDir("crash-tmp"), createTestDatabase("crash"), testRedis("crash"),
    tempDir("crash-clean"), createTestDatabase("crash_clean"), testRedis("crash-clean"),
  ]);
  // The reference: one clean run per float, on fresh targets, from the same server.
  const config = loadConfig({
    env: {
      GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: cleanLake.path,
      DATABASE_URL: cleanDb.url, REDIS_URL: cleanRedis.url, REDIS_PREFIX: cleanRedis.prefix, REDIS_TTL: "3600",
    },
    envFile: "/nonexistent/.env",
  });
  const quiet = createLogger({ level: "error", write: () => {} });
  const store = new LocalLakeStore(cleanLake.path);
  for (const wmo of FLOATS) {
    const s = await runFloat(config, store, quiet, wmo);
    expect(s.verdict, s.error ?? "").toBe("succeeded");
  }
  clean = await snapshot(store, cleanDb.pool, cleanRedis.client, cleanRedis.prefix);
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  for (const r of [redis, cleanRedis]) await r?.cleanup();
  for (const d of [db, cleanDb]) await d?.drop();
  for (const d of [lake, jobTmp, cleanLake]) await d?.cleanup();
});

const jobEnv = (extra: Record<string, string> = {}) => ({
  GDAC_BASE_URL: srv.url,
  GDAC_CA_FILE: srv.caFile,
  LAKE_URL: lake.path,
  DATABASE_URL: db.url,
  REDIS_URL: redis.url,
  REDIS_PREFIX: redis.prefix,
  REDIS_TTL: "3600",
  MAX_WORKERS: "2",
  LOG_FORMAT: "json",
  // The job's own temporary files (parse output before it is put in the lake) go where we can see them.
  TMPDIR: jobTmp.path,
  ...extra,
});

describe("run-float killed with SIGKILL at random moments", () => {
  test(`${MIN_KILLS}+ kills across sync, parse and load, then one run each: the same lake, Postgres and Redis as one clean run`, async () => {
    const random = seededRandom(SEED);
    const store = new LocalLakeStore(lake.path);
    const kills: { iteration: number; wmo: string; stage: string; afterMs: number; redo: string }[] = [];
    const completed: string[] = [];
    // A stage that finished before its kill gets a shorter window next time, so the
    // loop adapts to how fast this machine runs each stage.
    const windowMs: Record<string, number> = Object.fromEntries(STAGES.map((s) => [s.stage, s.windowMs]));
    const enough = () => kills.length >= MIN_KILLS && STAGES.every((s) => kills.filter((k) => k.stage === s.stage).length >= 3);
    for (let i = 0; !enough() && i < MAX_ITERATIONS; i++) {
      const wmo = FLOATS[i % FLOATS.length]!;
      const target = STAGES[i % STAGES.length]!;
      // Give the run work to do in the stage aimed at: files to fetch again, or a float to parse again.
      const r = random();
      let redo = "none";
      const extra: Record<string, string> = {};
      if ((target.stage === "parse" && r < 0.8) || (target.stage === "load" && r < 0.3)) {
        await rm(`${lake.path}/parquet/_state/dac=${DACS[wmo]}/wmo=${wmo}.json`, { force: true });
        redo = "parse";
      } else if (target.stage === "sync" && r < 0.5) {
        extra.ENABLE_INCREMENTAL_SYNC = "false";
        redo = "sync";
      }
      const delay = Math.floor(random() * windowMs[target.stage]);
      const job = spawnJobProcess("run-float", [wmo], { env: jobEnv(extra), timeoutMs: 60_000 });
      const killed = job.waitFor(target.marker, "stderr", 30_000).then(
        () => new Promise<boolean>((resolve) => setTimeout(() => {
          const running = job.child.exitCode === null && job.child.signalCode === null;
          if (running) job.kill("SIGKILL");
          resolve(running);
        }, delay)),
        () => false, // exited before reaching the stage
      );
      const [result, didKill] = await Promise.all([job.done, killed]);
      if (didKill && result.signal === "SIGKILL") {
        // The stage the job had reached when it died: the last marker on its stderr.
        const reached = [...STAGES].reverse().find((s) => s.marker.test(result.stderr))!.stage;
        kills.push({ iteration: i, wmo, stage: reached, afterMs: delay, redo });
        // Invariants that hold at any moment, crash or not.
        const problems = (await manifestProblems(store)).filter((p) => !/in the raw zone but in no manifest/.test(p));
        expect(problems, `after kill ${kills.length} (${wmo}, ${reached} +${delay} ms)`).toEqual([]);
        expect(await visibleTempKeys(store)).toEqual([]);
      } else {
        expect(result.code, `iteration ${i} (${wmo}) ended without being killed:\n${result.stderr.slice(-3000)}`).toBe(0);
        completed.push(wmo);
        windowMs[target.stage] = Math.max(10, Math.floor(windowMs[target.stage] / 2));
      }
    }
    const byStage = (s: string) => kills.filter((k) => k.stage === s).length;
    expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS);
    for (const s of STAGES) expect(byStage(s.stage), `kills in ${s.stage}`).toBeGreaterThanOrEqual(3);

    // Recovery: one run per float, not killed.
    for (const wmo of FLOATS) {
      const r = await spawnJobProcess("run-float", [wmo, "--json"], { env: jobEnv(), timeoutMs: 60_000 }).done;
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      expect(stagesOf(JSON.parse(r.stdout))).toMatchObject({ verdict: "succeeded", sync: { errors: 0 }, parse: { errors: 0, quarantined: 0 } });
    }

    expect(await manifestProblems(store)).toEqual([]);
    expect(await visibleTempKeys(store)).toEqual([]);
    const { duplicates, rows } = await lakeDuplicates(lake.path);
    expect(duplicates).toEqual([]);
    expect(rows.profiles).toBe(57 + 11);
    const after = await snapshot(store, db.pool, redis.client, redis.prefix);
    expect(diffSnapshots(after, clean)).toEqual([]);
    // Postgres holds each profile once (its primary key says so) and the counts agree with the lake.
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles")).rows[0].n).toBe(rows.profiles);

    const leftovers = hiddenFiles(lake.path);
    const tmpLeft = readdirSync(jobTmp.path).filter((n) => n.startsWith("argo-lake-parse-")).length;
    console.info(
      `crash loop (seed ${SEED}): ${kills.length} kills (sync ${byStage("sync")}, parse ${byStage("parse")}, load ${byStage("load")}), ` +
        `${completed.length} runs finished before their kill; hidden temporary files left in the lake: ${leftovers.length}; ` +
        `parse output directories left in the jobs' TMPDIR: ${tmpLeft}`,
    );
  }, 540_000);
});
