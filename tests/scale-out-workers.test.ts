/**
 * Scale-out: 4 shard workers (`schedule --once --shard i/4`, real processes)
 * started at the same time on one lake, one Postgres database and one Redis
 * prefix, over the whole fixture GDAC (read in place as a local source), end
 * with exactly what one single-process run leaves:
 *
 * - the lake: the rows of every Parquet table (DuckDB, row for row), and every
 *   other object but run records and locks (raw files and index copies by
 *   content, manifests and parse state as JSON without their timestamps);
 * - every Postgres table the load writes (climatology and its contributions
 *   included), row for row, with no climatology cell left waiting;
 * - every Redis key, its type, value and expiry.
 *
 * On an S3 lake (s3rver) and on a local lake; with the workers started all at
 * once in shard order, and started in another order, staggered, with one of
 * them killed (SIGKILL) in the middle of a stage and started again while the
 * others run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffSnapshots, dumpLake, dumpPostgresRows, dumpRedisPrefix, hiddenFiles, type PipelineSnapshot, visibleTempKeys } from "./support/compare.ts";
import { compareLakeRows, makeTargets, runSingle, runWorkers, type RunWorkersOptions, type Targets, type WorkerOutcome } from "./support/scale-out.ts";
import { startS3, type TestS3 } from "./support/s3.ts";
import { readManifest as readFixtureManifest } from "./support/fixtures.ts";
import { INDEX_FILES } from "./support/https-server.ts";
import { jsonLines } from "./support/jobs.ts";

const WORKERS = 4;
/** Run records, locks and the index copies' sidecars' fetch times differ by run; everything else must not. */
const LAKE_EXCLUDE = ["runs/", "locks/"];
const fixtureFloats = [...new Set(readFixtureManifest().map((r) => r.wmo).filter((w): w is string => !!w))].sort();

let s3: TestS3;
let reference: Targets;
let expected: PipelineSnapshot;
const targets: Targets[] = [];

/** Everything a run leaves, but the lake's Parquet files (compared by rows) and run records. */
async function snapshotOf(t: Targets): Promise<PipelineSnapshot> {
  const lake = await dumpLake(t.store, { exclude: LAKE_EXCLUDE });
  for (const k of Object.keys(lake)) if (k.endsWith(".parquet")) delete lake[k];
  return { lake, postgres: await dumpPostgresRows(t.db.pool), redis: await dumpRedisPrefix(t.redis.client, t.redis.prefix) };
}

beforeAll(async () => {
  s3 = await startS3({ bucket: "argo-scale-out" });
  reference = await makeTargets("single", "local");
  targets.push(reference);
  const { record } = await runSingle(reference);
  expect(record.verdict).toBe("succeeded");
  expected = await snapshotOf(reference);
  // The reference did real work on every fixture float.
  expect(expected.postgres.floats).toHaveLength(fixtureFloats.length);
  expect(expected.postgres.climatology!.length).toBeGreaterThan(100);
}, 240_000);

afterAll(async () => {
  for (const t of targets) await t.cleanup().catch(() => {});
  await s3?.stop();
});

/** Starts the workers on fresh targets and checks that they did one run's work between them, and nothing twice. */
async function scenario(name: string, lake: "local" | "s3", opts: RunWorkersOptions): Promise<void> {
  const t = await makeTargets(name, lake === "s3" ? s3 : "local");
  targets.push(t);
  const outcomes = await runWorkers(t, WORKERS, opts);
  checkOutcomes(outcomes, opts);

  const rows = await compareLakeRows(t.store, reference.store);
  expect(rows.differences).toEqual([]);
  expect(rows.rows.measurements).toBeGreaterThan(1000);
  expect(diffSnapshots(await snapshotOf(t), expected)).toEqual([]);
  expect((await t.db.pool.query("SELECT count(*)::int AS n FROM climatology_dirty")).rows[0].n).toBe(0);

  // Each shard's runs are recorded under its own keys and rows; none is left half-written.
  const runs = (await t.db.pool.query("SELECT run_id, status FROM job_runs WHERE job = 'cycle'")).rows;
  for (const o of outcomes) {
    expect(runs).toContainEqual({ run_id: o.record.run_id, status: "succeeded" });
    const latest = await t.store.get(`runs/latest-shard-${o.shard}-of-${WORKERS}.json`);
    expect(JSON.parse(new TextDecoder().decode(latest!)).run_id).toBe(o.record.run_id);
  }
  expect(await visibleTempKeys(t.store)).toEqual([]);
  if (lake === "local" && !opts.kill) expect(hiddenFiles(t.lakeUrl)).toEqual([]);
  if (!opts.kill) expectIndexFetchedOnce(outcomes);
}

/** Across the workers, each index file was downloaded by one of them; the others were told it had not changed. */
function expectIndexFetchedOnce(outcomes: WorkerOutcome[]): void {
  const lines = outcomes.flatMap((o) => jsonLines(o.result.stderr));
  const count = (msg: string) => {
    const by: Record<string, number> = {};
    for (const l of lines) if (l.msg === msg) by[String(l.index)] = (by[String(l.index)] ?? 0) + 1;
    return by;
  };
  const fetched = count("index fetched");
  expect(Object.keys(fetched).sort()).toEqual([...INDEX_FILES].sort());
  for (const name of INDEX_FILES) {
    expect(fetched[name], `${name} downloads`).toBe(1);
    expect(count("index not modified: using the cached copy")[name], `${name} 304s`).toBe(WORKERS - 1);
  }
}

function checkOutcomes(outcomes: WorkerOutcome[], opts: RunWorkersOptions): void {
  expect(outcomes.map((o) => o.shard).sort()).toEqual([0, 1, 2, 3]);
  const synced: string[] = [];
  for (const o of outcomes) {
    expect(o.record.verdict, o.result.stderr.slice(-2000)).toBe("succeeded");
    expect(o.record.shard).toEqual({ index: o.shard, count: WORKERS });
    expect(o.record.stages.map((s) => s.verdict)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const sync = o.record.stages[0].stats as { total_floats: number };
    synced.push(String(sync.total_floats));
  }
  // The shards split the floats: each has some, and together they have every float once.
  expect(synced.map(Number).every((n) => n > 0)).toBe(true);
  expect(synced.map(Number).reduce((a, b) => a + b, 0)).toBe(fixtureFloats.length);
  if (opts.kill) expect(outcomes.find((o) => o.shard === opts.kill!.shard)!.killed).toBeTruthy();
  for (const o of outcomes) expect(o.record.runtime).toBe(opts.deno?.includes(o.shard) ? "deno" : "node");
}

describe.each(["s3", "local"] as const)("4 shard workers at once on a %s lake, one Postgres and one Redis", (lake) => {
  it("started together in shard order: the lake, every table and every key equal one single-process run", async () => {
    await scenario(`${lake}-together`, lake, {});
  }, 240_000);

  it("started in another order (one under Deno), one killed in the middle of a stage and started again: the same result", async () => {
    await scenario(`${lake}-killed`, lake, {
      order: [3, 1, 0, 2],
      staggerMs: 300,
      // One source, two runtimes: shard 2 runs under Deno beside the others under Node.
      deno: [2],
      // Kill shard 1 inside its parse on S3 and inside its load on the local lake.
      kill: lake === "s3"
        ? { shard: 1, marker: /"msg":"parse: floats found"/, afterMs: 150 }
        : { shard: 1, marker: /"msg":"loading into Postgres"/, afterMs: 100 },
    });
  }, 240_000);
});
