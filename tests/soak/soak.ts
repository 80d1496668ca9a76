/**
 * The soak: the reliability tests' crash and outage cases, mixed at random
 * for a while over the whole fixture mirror, then one final run compared with
 * a clean run. Not part of `npm test` (vitest includes tests/**\/*.test.ts
 * only); run it by hand or in a nightly job:
 *
 *   npx tsx tests/soak/soak.ts [--minutes 10] [--seed 1] [--floats all|WMO,WMO] [--lake local|s3]
 *
 * Each round runs run-batch over a random subset of the mirror's floats
 * (some rounds first forget those floats' parse state, or sync with
 * ENABLE_INCREMENTAL_SYNC=false, so there is work to interrupt) and does one
 * of: nothing; SIGKILL at a random moment; cut Postgres or Redis (TCP proxy)
 * at a random moment and restore it a little later; make S3 (the lake, with
 * --lake s3) answer SlowDown/InternalError for a spell. The HTTPS
 * GDAC answers 5% of requests with 503, 429, a reset or a truncated body all
 * along. After the time is up, faults stop, run-batch runs over every float
 * until it exits 0 (at most 3 times), and the lake, Postgres and Redis are
 * compared with a clean run on fresh targets.
 *
 * Needs Postgres on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, like the
 * tests; touches only its own database, key prefix and temporary directories.
 * Prints one line per round and the figures at the end; exits 0 when the
 * final state equals the clean run's, 1 otherwise.
 */
import { readdirSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { LocalLakeStore } from "../../lib/lake/local.ts";
import { S3LakeStore } from "../../lib/lake/s3.ts";
import type { LakeStore } from "../../lib/lake/store.ts";
import { diffSnapshots, hiddenFiles, manifestProblems, snapshot, visibleTempKeys } from "../support/compare.ts";
import { fixturesDir, tempDir } from "../support/fixtures.ts";
import { startHttpsServer } from "../support/https-server.ts";
import { type JobResult, spawnJobProcess } from "../support/jobs.ts";
import { createTestDatabase, PG_PORT, startTcpProxy } from "../support/postgres.ts";
import { REDIS_PORT, redisUrl, testRedis } from "../support/redis.ts";
import { startS3 } from "../support/s3.ts";
import { seededRandom } from "../support/random.ts";

const { values: opts } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
    floats: { type: "string", default: "all" },
    lake: { type: "string", default: "local" },
  },
});
const minutes = Number(opts.minutes);
const seed = Number(opts.seed);
if (!(minutes > 0) || !Number.isInteger(seed) || !["local", "s3"].includes(opts.lake!)) {
  process.stderr.write("usage: npx tsx tests/soak/soak.ts [--minutes N] [--seed N] [--floats all|WMO,...] [--lake local|s3]\n");
  process.exit(2);
}

const random = seededRandom(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const allFloats = readdirSync(`${fixturesDir}/dac`).flatMap((dac) => readdirSync(`${fixturesDir}/dac/${dac}`)).sort();
const floats = opts.floats === "all" ? allFloats : opts.floats!.split(",");

const t0 = Date.now();
const log = (msg: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);

const srv = await startHttpsServer({ failureRate: 0.05, retryAfter: "1", seed });
const s3 = opts.lake === "s3" ? await startS3({ faults: true }) : null;
const [lakeDir, tmp, db, redis, cleanLakeDir, cleanDb, cleanRedis] = await Promise.all([
  tempDir("soak-lake"), tempDir("soak-tmp"), createTestDatabase("soak"), testRedis("soak"),
  tempDir("soak-clean"), createTestDatabase("soak_clean"), testRedis("soak-clean"),
]);
const pgProxy = await startTcpProxy(PG_PORT);
const redisProxy = await startTcpProxy(REDIS_PORT);

const lakeUrl = s3 ? s3.url("soak") : lakeDir.path;
const store: LakeStore = s3 ? new S3LakeStore(s3.client, s3.bucket, "soak") : new LocalLakeStore(lakeDir.path);

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  GDAC_BASE_URL: srv.url,
  GDAC_CA_FILE: srv.caFile,
  LAKE_URL: lakeUrl,
  DATABASE_URL: db.urlVia(pgProxy.port),
  REDIS_URL: redisUrl(redisProxy.port),
  REDIS_PREFIX: redis.prefix,
  REDIS_TTL: "86400",
  HTTP_RETRY_DELAY: "0.2",
  HTTP_TIMEOUT: "5",
  BATCH_SIZE: "4",
  MAX_WORKERS: "2",
  LOG_FORMAT: "json",
  TMPDIR: tmp.path,
  ...(s3?.env ?? {}),
  ...extra,
});

const figures = { rounds: 0, ok: 0, failed: 0, killed: 0, pg_cuts: 0, redis_cuts: 0, s3_spells: 0, manifest_checks: 0 };
const failedStages = new Map<string, number>();
let exitCode = 1;

try {
  const deadline = t0 + minutes * 60_000;
  // Ctrl-C ends the rounds early; the final run, the comparison and the clean-up still happen.
  let stop = false;
  process.once("SIGINT", () => {
    stop = true;
    log("SIGINT: stopping after this round");
  });
  while (Date.now() < deadline && !stop) {
    figures.rounds++;
    const subset = floats.filter(() => random() < 0.5);
    if (subset.length === 0) subset.push(pick(floats));
    const action = pick(["none", "kill", "kill", "pg", "redis", ...(s3 ? ["s3"] : [])] as const);
    // Most re-runs would have nothing to do: give some of them work again, so faults land in real work.
    const redo = pick(["none", "none", "sync", "parse"] as const);
    if (redo === "parse") {
      for (const o of await store.list("parquet/_state/")) {
        if (subset.some((wmo) => o.key.endsWith(`/wmo=${wmo}.json`))) await store.delete(o.key);
      }
    }
    const delay = Math.floor(random() * 3000);
    const job = spawnJobProcess("run-batch", ["--float", subset.join(",")], {
      env: env(redo === "sync" ? { ENABLE_INCREMENTAL_SYNC: "false" } : {}),
      timeoutMs: 300_000,
    });
    // The fault, when its moment comes while the job still runs; `fault` settles when it is over (outages restored).
    let fault: Promise<void> = Promise.resolve();
    const timer = setTimeout(() => {
      if (job.child.exitCode !== null || job.child.signalCode !== null) return;
      fault = (async () => {
        if (action === "kill") job.kill("SIGKILL");
        else if (action === "pg" || action === "redis") {
          const proxy = action === "pg" ? pgProxy : redisProxy;
          await proxy.cut();
          figures[action === "pg" ? "pg_cuts" : "redis_cuts"]++;
          await sleep(500 + random() * 2000);
          await proxy.restore();
        } else if (action === "s3" && s3) {
          s3.faults.failFor(500 + random() * 3000, pick(["SlowDown", "InternalError"] as const));
          figures.s3_spells++;
        }
      })();
    }, delay);
    const r: JobResult = await job.done;
    clearTimeout(timer);
    await fault;
    s3?.faults.clear();
    let outcome: string;
    if (r.signal === "SIGKILL") {
      figures.killed++;
      outcome = "killed";
    } else if (r.code === 0) {
      figures.ok++;
      outcome = "ok";
    } else {
      figures.failed++;
      const failures = [...r.stderr.matchAll(/run-batch: (\w+) stage failed for [^:]*: (.*)/g)];
      for (const s of new Set(failures.map((m) => m[1]!))) failedStages.set(s, (failedStages.get(s) ?? 0) + 1);
      const first = failures[0];
      // No stage named: the process itself failed (an uncaught error); show its first error line.
      const crash = r.stderr.split("\n").find((l) => /Error\b|error:/.test(l)) ?? r.stderr.trim().split("\n").pop();
      outcome = `exit ${r.code} (${first ? `${first[1]}: ${first[2]!.slice(0, 160)}` : `no stage named: ${crash?.slice(0, 200)}`})`;
    }
    // The manifest never runs ahead of the raw zone, crash or not.
    const ahead = (await manifestProblems(store)).filter((p) => !/in no manifest/.test(p));
    figures.manifest_checks++;
    if (ahead.length) throw new Error(`round ${figures.rounds}: manifest ahead of the raw zone: ${ahead.slice(0, 3).join("; ")}`);
    const visible = await visibleTempKeys(store);
    if (visible.length) throw new Error(`round ${figures.rounds}: temporary objects visible: ${visible.slice(0, 3).join(", ")}`);
    log(`round ${figures.rounds}: ${subset.length} float(s), redo ${redo}, ${action} at ${delay} ms -> ${outcome} in ${(r.durationMs / 1000).toFixed(1)} s`);
  }

  // Faults off; finish the work.
  srv.setFaults({ failureRate: 0 });
  let final: JobResult | null = null;
  for (let i = 0; i < 3 && final?.code !== 0; i++) {
    final = await spawnJobProcess("run-batch", ["--float", floats.join(",")], { env: env(), timeoutMs: 600_000 }).done;
    log(`final run ${i + 1}: exit ${final.code} in ${(final.durationMs / 1000).toFixed(1)} s`);
  }

  // The clean reference, on fresh targets, from the same server without faults.
  const clean = await spawnJobProcess("run-batch", ["--float", floats.join(",")], {
    env: env({ LAKE_URL: cleanLakeDir.path, DATABASE_URL: cleanDb.url, REDIS_URL: cleanRedis.url, REDIS_PREFIX: cleanRedis.prefix, ...(s3 ? { S3_ENDPOINT: "" } : {}) }),
    timeoutMs: 600_000,
  }).done;
  log(`clean run: exit ${clean.code} in ${(clean.durationMs / 1000).toFixed(1)} s`);
  if (clean.code !== 0) throw new Error(`the clean run failed:\n${clean.stderr.slice(-2000)}`);

  const cleanStore = new LocalLakeStore(cleanLakeDir.path);
  const after = await snapshot(store, db.pool, redis.client, redis.prefix);
  const expected = await snapshot(cleanStore, cleanDb.pool, cleanRedis.client, cleanRedis.prefix);
  // The soak's lake also holds index files fetched conditionally and removed/ nothing; compare everything.
  const diff = diffSnapshots(after, expected);
  const problems = await manifestProblems(store);
  const hidden = s3 ? 0 : hiddenFiles(lakeDir.path).length;
  const tmpLeft = readdirSync(tmp.path).filter((n) => n.startsWith("argo-lake-parse-")).length;
  log(
    `figures: ${JSON.stringify({ ...figures, failed_stages: Object.fromEntries(failedStages), floats: floats.length, minutes, seed, lake: opts.lake })}`,
  );
  log(`final: exit ${final?.code}; ${Object.keys(after.lake).length} lake objects, ${after.postgres.profiles?.length ?? 0} Postgres profiles, ${Object.keys(after.redis).length} Redis keys`);
  log(`differences from the clean run: ${diff.length}; manifest problems: ${problems.length}; hidden temporary files left in the lake: ${hidden}; parse temp dirs left in TMPDIR: ${tmpLeft}`);
  for (const d of [...diff, ...problems].slice(0, 20)) log(`  ${d}`);
  exitCode = final?.code === 0 && diff.length === 0 && problems.length === 0 ? 0 : 1;
  log(exitCode === 0 ? "SOAK PASSED" : "SOAK FAILED");
} catch (err) {
  log(`SOAK FAILED: ${(err as Error).stack ?? err}`);
} finally {
  await pgProxy.close();
  await redisProxy.close();
  await srv.stop();
  await redis.cleanup();
  await cleanRedis.cleanup();
  await db.drop();
  await cleanDb.drop();
  await s3?.stop();
  for (const d of [lakeDir, tmp, cleanLakeDir]) await d.cleanup();
}
process.exit(exitCode);
