/**
 * Scale-out test bed: N shard workers (`schedule --once --shard i/N`, real
 * processes) sharing one lake (s3rver or a local directory), one Postgres
 * database and one Redis prefix, over the fixture GDAC read in place; a
 * single-process run to compare them with; and the lake's Parquet rows
 * compared table by table with DuckDB. Used by tests/scale-out-*.test.ts and
 * bench/scale-out.ts.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { loadConfig } from "../../lib/config.ts";
import { createLakeViews, openDuckDB } from "../../lib/duckdb.ts";
import { TABLES } from "../../lake/schema.ts";
import { tableViewName } from "../../lake/views.ts";
import { isTableObject } from "./compare.ts";
import { openLake } from "../../lib/lake/open.ts";
import type { LakeStore } from "../../lib/lake/store.ts";
import { type RunRecord, RunRecordSchema } from "../../lib/schedule/runs.ts";
import { fixturesDir, type TempDir, tempDir } from "./fixtures.ts";
import { type JobHandle, type JobResult, type Runtime, spawnJobProcess } from "./jobs.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";
import { type TestRedis, testRedis } from "./redis.ts";
import type { TestS3 } from "./s3.ts";

/** One lake, database and Redis prefix that a set of workers shares. */
export interface Targets {
  name: string;
  lakeUrl: string;
  /** The lake, opened with the jobs' own store, for dumps. */
  store: LakeStore;
  db: TestDatabase;
  redis: TestRedis;
  /** Environment every worker of these targets gets. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Settings of every worker: the fixture GDAC as a local source, small batches, one parse thread each. */
export const WORKER_SETTINGS = {
  GDAC_BASE_URL: fixturesDir,
  BATCH_SIZE: "2",
  MAX_WORKERS: "1",
  REDIS_TTL: "3600",
  LOG_FORMAT: "json",
  LOG_LEVEL: "info",
};

/** Fresh targets: a local lake directory or an s3rver prefix, a new database and a new Redis prefix. */
export async function makeTargets(name: string, lake: "local" | TestS3, settings: Record<string, string> = {}): Promise<Targets> {
  const dirs: TempDir[] = [];
  let lakeUrl: string;
  let s3env: Record<string, string> = {};
  if (lake === "local") {
    const d = await tempDir(`scale-${name}`);
    dirs.push(d);
    lakeUrl = d.path;
  } else {
    lakeUrl = lake.url(`${name}/lake`);
    s3env = lake.env;
  }
  const [db, redis] = await Promise.all([createTestDatabase(`scale_${name}`), testRedis(`scale-${name}`)]);
  const env = {
    ...WORKER_SETTINGS,
    ...settings,
    ...s3env,
    LAKE_URL: lakeUrl,
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
  };
  const store = openLake(loadConfig({ env, envFile: "/nonexistent/.env" }));
  return {
    name,
    lakeUrl,
    store,
    db,
    redis,
    env,
    async cleanup() {
      await store.close();
      await db.drop();
      await redis.cleanup();
      for (const d of dirs) await d.cleanup();
    },
  };
}

/** How one worker ended: its last process's result and run record, and whether an earlier one was killed mid-run. */
export interface WorkerOutcome {
  shard: number;
  result: JobResult;
  record: RunRecord;
  /** Set when this shard's first process was SIGKILLed while it ran, then started again. */
  killed?: { marker: string; afterMs: number };
}

/** Starts one `schedule --once` worker (a shard, or all floats with `shard` null), under Node unless told. */
export function startWorker(
  t: Targets,
  shard: { index: number; count: number } | null,
  extra: Record<string, string> = {},
  runtime: Runtime = "node",
): JobHandle {
  const args = ["--once", "--json", ...(shard ? ["--shard", `${shard.index}/${shard.count}`] : [])];
  return spawnJobProcess("schedule", args, { env: { ...t.env, ...extra }, timeoutMs: 240_000, runtime });
}

/** Waits for a worker and reads its run record from stdout (the job prints it with --json). */
async function finish(h: JobHandle, label: string): Promise<{ result: JobResult; record: RunRecord }> {
  const result = await h.done;
  if (result.code !== 0) throw new Error(`${label} exited ${result.code ?? result.signal}\nstderr:\n${result.stderr.slice(-4000)}`);
  const record = RunRecordSchema.parse(JSON.parse(result.stdout));
  return { result, record };
}

/** Runs the single-process reference: one `schedule --once` over every float (`extra` settings on top of the targets'). */
export async function runSingle(t: Targets, extra: Record<string, string> = {}): Promise<{ result: JobResult; record: RunRecord }> {
  return await finish(startWorker(t, null, extra), "single-process run");
}

export interface RunWorkersOptions {
  /** Shard indexes in the order their processes are started; 0..count-1 by default. */
  order?: number[];
  /** Milliseconds between two starts; 0 (all at once) by default. */
  staggerMs?: number;
  /** SIGKILL this shard's process `afterMs` after `marker` appears on its stderr, then start it again at once. */
  kill?: { shard: number; marker: RegExp; afterMs: number };
  /** Shards that run under Deno (the others under Node). */
  deno?: number[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `count` shard workers at the same time on the targets; resolves when all have finished. */
export async function runWorkers(t: Targets, count: number, opts: RunWorkersOptions = {}): Promise<WorkerOutcome[]> {
  const order = opts.order ?? Array.from({ length: count }, (_, i) => i);
  const runs: Promise<WorkerOutcome>[] = [];
  for (const [n, index] of order.entries()) {
    if (n > 0 && opts.staggerMs) await sleep(opts.staggerMs);
    const shard = { index, count };
    const label = `shard ${index}/${count}`;
    const runtime: Runtime = opts.deno?.includes(index) ? "deno" : "node";
    const first = startWorker(t, shard, {}, runtime);
    const kill = opts.kill?.shard === index ? opts.kill : null;
    runs.push((async () => {
      if (!kill) return { shard: index, ...(await finish(first, label)) };
      await first.waitFor(kill.marker);
      await sleep(kill.afterMs);
      first.kill("SIGKILL");
      const killedRun = await first.done;
      if (killedRun.signal !== "SIGKILL") {
        throw new Error(`${label} ended (${killedRun.code}) before it could be killed at ${kill.marker} + ${kill.afterMs} ms`);
      }
      const again = await finish(startWorker(t, shard, {}, runtime), `${label} (restarted)`);
      return { shard: index, ...again, killed: { marker: String(kill.marker), afterMs: kill.afterMs } };
    })());
  }
  return await Promise.all(runs);
}

/** A local directory holding the lake's tables (Parquet files, live list, tombstones): the lake itself when local, else a copy of them. */
export async function localParquet(store: LakeStore): Promise<{ root: string; cleanup(): Promise<void> }> {
  if (store.localRoot) return { root: store.localRoot, cleanup: async () => {} };
  const d = await tempDir("scale-copy");
  for (const o of await store.list("parquet/")) {
    if (!isTableObject(o.key)) continue;
    const bytes = await store.get(o.key);
    if (!bytes) continue;
    const path = join(d.path, ...o.key.split("/"));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
  return { root: d.path, cleanup: d.cleanup };
}

/** Row counts per table, and the differences between two lakes' tables (empty when every table holds the same rows). */
export interface LakeRowsComparison {
  rows: Record<string, number>;
  differences: string[];
}

/**
 * Compares the tables of two lakes row for row with DuckDB, each read
 * through the lake's own views (one snapshot: live segments plus staging
 * files), so a compacted lake and one of staging files compare equal when
 * they hold the same rows: the same columns and the same multiset of rows
 * (EXCEPT ALL both ways) in every table. Up to 3 differing rows per table are shown.
 */
export async function compareLakeRows(actual: LakeStore, expected: LakeStore): Promise<LakeRowsComparison> {
  const [a, e] = [await localParquet(actual), await localParquet(expected)];
  const session = await openDuckDB({ threads: 2 });
  const out: LakeRowsComparison = { rows: {}, differences: [] };
  const id = (s: string) => `"${s.replace(/"/g, '""')}"`;
  try {
    // Lake A's tables are materialised before lake E's views take the same names.
    await createLakeViews(session, a.root);
    for (const table of TABLES) await session.run(`CREATE TEMP TABLE lake_a_${table} AS SELECT * FROM ${tableViewName(table)}`);
    await createLakeViews(session, e.root);
    for (const table of TABLES) {
      const [av, ev] = [`lake_a_${table}`, tableViewName(table)];
      const cols = async (v: string) => (await session.all(`DESCRIBE ${v}`)).map((r) => `${r.column_name}\t${r.column_type}`).sort();
      const [ca, ce] = [await cols(av), await cols(ev)];
      if (JSON.stringify(ca) !== JSON.stringify(ce)) {
        out.differences.push(`${table} columns differ: ${ca.filter((c) => !ce.includes(c)).join(", ")} | ${ce.filter((c) => !ca.includes(c)).join(", ")}`);
        continue;
      }
      const list = ce.map((c) => id(c.split("\t")[0])).join(", ");
      const [n] = await session.all(`SELECT (SELECT count(*) FROM ${av}) AS na, (SELECT count(*) FROM ${ev}) AS ne`);
      out.rows[table] = Number(n.ne);
      if (n.na !== n.ne) out.differences.push(`${table}: ${n.na} rows != ${n.ne} rows`);
      for (const [from, other, label] of [[av, ev, "only in actual"], [ev, av, "only in expected"]]) {
        const extra = await session.all(`SELECT ${list} FROM ${from} EXCEPT ALL SELECT ${list} FROM ${other} LIMIT 3`);
        for (const r of extra) out.differences.push(`${table} ${label}: ${JSON.stringify(r).slice(0, 400)}`);
      }
    }
  } finally {
    session.close();
    await a.cleanup();
    await e.cleanup();
  }
  return out;
}
