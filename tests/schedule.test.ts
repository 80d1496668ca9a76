/**
 * The scheduler as operators run it: jobs/schedule.ts as a child process,
 * on a once-a-second schedule, against the fixture GDAC served over HTTPS
 * with added latency (so a cycle outlasts a second) and a temporary lake.
 * Run intervals come from the run records the processes write; skips from
 * their JSON log lines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { lockKey } from "../lib/lake/layout.ts";
import { type RunRecord, RunRecordSchema } from "../lib/schedule/runs.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { jsonLines, type JobHandle, spawnJobProcess } from "./support/jobs.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

/** Two small floats: a cycle is a few dozen requests, each slowed by the server's latency. */
const FLOATS = "13857,2902696";

let server: TestHttpsServer;
let db: TestDatabase;
const dirs: TempDir[] = [];

beforeAll(async () => {
  server = await startHttpsServer({ latencyMs: 120 });
  db = await createTestDatabase("schedule");
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
  for (const d of dirs) await d.cleanup();
});

async function newLake(): Promise<string> {
  const d = await tempDir("schedule-lake");
  dirs.push(d);
  return d.path;
}

/** The environment of a scheduler process on a once-a-second cycle. */
function schedulerEnv(lake: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GDAC_BASE_URL: server.url,
    GDAC_CA_FILE: server.caFile,
    LAKE_URL: lake,
    FLOAT_IDS: FLOATS,
    SCHEDULE_CRON: "* * * * * *",
    SHUTDOWN_TIMEOUT: "20",
    LOG_FORMAT: "json",
    ...extra,
  };
}

/** Every run record in the lake, oldest first. */
async function runRecords(lake: string): Promise<RunRecord[]> {
  const store = new LocalLakeStore(lake);
  const keys = (await store.list("runs/")).map((o) => o.key).filter((k) => /^runs\/\d{4}-\d{2}-\d{2}\//.test(k));
  const out: RunRecord[] = [];
  for (const k of keys) out.push(RunRecordSchema.parse(JSON.parse(new TextDecoder().decode((await store.get(k))!))));
  return out.sort((a, b) => a.started_at.localeCompare(b.started_at));
}

/** Waits until `check` is true, polling; fails after `ms`. */
async function until(check: () => Promise<boolean> | boolean, ms: number, what: string, procs: JobHandle[]): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${procs.map((p) => p.stderr()).join("\n----\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Asserts no two runs overlap in time: each starts after the previous one ended. */
function expectNoOverlap(runs: RunRecord[]): void {
  for (let i = 1; i < runs.length; i++) {
    expect(Date.parse(runs[i].started_at), `${runs[i].run_id} starts before ${runs[i - 1].run_id} ends`)
      .toBeGreaterThanOrEqual(Date.parse(runs[i - 1].finished_at));
  }
}

const skippedBusy = (stderr: string) => jsonLines(stderr).filter((l) => String(l.msg).startsWith("tick skipped: the previous run"));
const skippedLocked = (stderr: string) => jsonLines(stderr).filter((l) => String(l.msg).startsWith("tick skipped: another process"));

describe("scheduler process", () => {
  it("runs slow cycles one at a time, skipping ticks, and stops on SIGTERM with exit 0 and the lock released", async () => {
    const lake = await newLake();
    const proc = spawnJobProcess("schedule", [], { env: schedulerEnv(lake), timeoutMs: 120_000 });
    await until(async () => {
      const n = (await runRecords(lake)).length;
      return (n >= 3 && skippedBusy(proc.stderr()).length >= 1) || n >= 6;
    }, 45_000, "3 runs and a skipped tick", [proc]);
    const signalled = Date.now();
    proc.kill("SIGTERM");
    const result = await proc.done;
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(20_000);

    const runs = await runRecords(lake);
    expectNoOverlap(runs);
    expect(skippedBusy(result.stderr).length).toBeGreaterThanOrEqual(1);
    // Every cycle outlasted the 1 s period (which is why ticks were skipped).
    expect(runs.filter((r) => r.duration_ms > 1000).length).toBeGreaterThanOrEqual(1);
    expect(runs[0].verdict).toBe("succeeded");
    // No DATABASE_URL or REDIS_URL: the load has nothing to do (skipped), the cycle still succeeded.
    expect(runs[0].stages.map((s) => [s.stage, s.verdict])).toEqual([["sync", "succeeded"], ["parse", "succeeded"], ["load", "skipped"]]);
    for (const r of runs) expect(["succeeded", "failed"]).toContain(r.verdict);
    expect(runs.every((r) => r.lock?.endsWith("locks/scheduler.json"))).toBe(true);
    // Released: no lock object is left for the next process to wait out.
    expect(await new LocalLakeStore(lake).get(lockKey("scheduler"))).toBeNull();
    const logs = jsonLines(result.stderr);
    expect(logs.some((l) => l.msg === "stopping" && l.signal === "SIGTERM")).toBe(true);
  }, 90_000);

  it("without SCHEDULE_CRON runs sync, parse and load on their own crons, still one at a time", async () => {
    const lake = await newLake();
    const env = {
      ...schedulerEnv(lake),
      SCHEDULE_CRON: "",
      SYNC_CRON: "* * * * * *",
      PARSE_CRON: "* * * * * *",
      LOAD_CRON: "*/2 * * * * *",
    };
    const proc = spawnJobProcess("schedule", [], { env, timeoutMs: 90_000 });
    const jobsSeen = async () => new Set((await runRecords(lake)).map((r) => r.job));
    await until(async () => (await jobsSeen()).size === 3, 45_000, "a sync, a parse and a load run", [proc]);
    proc.kill("SIGTERM");
    const result = await proc.done;
    expect(result.code, result.stderr).toBe(0);
    const runs = await runRecords(lake);
    expectNoOverlap(runs);
    for (const r of runs) expect(r.stages.map((s) => s.stage)).toEqual([r.job]);
    expect(jsonLines(result.stderr).filter((l) => l.msg === "scheduled").map((l) => [l.job, l.cron])).toEqual([
      ["sync", "* * * * * *"],
      ["parse", "* * * * * *"],
      ["compact", "40 */6 * * *"],
      ["load", "*/2 * * * * *"],
    ]);
  }, 90_000);

  it("--once stopped by SIGTERM mid-sync exits 1, with the run recorded as failed (interrupted) and the lock released (under Deno)", async () => {
    const lake = await newLake();
    // 81 files at 120 ms each, one at a time: about 10 s of sync to interrupt.
    const env = schedulerEnv(lake, { HTTP_CONCURRENCY: "1" });
    const proc = spawnJobProcess("schedule", ["--once", "--float", "5900865"], { runtime: "deno", env, timeoutMs: 60_000 });
    await proc.waitFor(/"msg":"run started"/);
    await new Promise((r) => setTimeout(r, 1500));
    proc.kill("SIGTERM");
    const result = await proc.done;
    expect(result.code, result.stderr).toBe(1);
    const runs = await runRecords(lake);
    expect(runs).toHaveLength(1);
    expect(runs[0].runtime).toBe("deno");
    expect(runs[0].verdict).toBe("failed");
    expect(runs[0].error).toBe("interrupted (stopped by SIGTERM)");
    expect(runs[0].stages.map((s) => s.verdict)).toEqual(["failed", "skipped", "skipped"]);
    const landed = await new LocalLakeStore(lake).list("raw/dac=csiro/wmo=5900865/");
    expect(landed.length).toBeLessThan(81);
    expect(await new LocalLakeStore(lake).get(lockKey("scheduler"))).toBeNull();
  });

  it("lets only one of two processes on the same lake and database run at a time", async () => {
    const lake = await newLake();
    const env = schedulerEnv(lake, { DATABASE_URL: db.url });
    const a = spawnJobProcess("schedule", [], { env, timeoutMs: 120_000 });
    const b = spawnJobProcess("schedule", [], { env, timeoutMs: 120_000 });
    await until(async () => {
      const n = (await runRecords(lake)).length;
      return (n >= 4 && skippedLocked(a.stderr() + b.stderr()).length >= 1) || n >= 8;
    }, 45_000, "4 runs and a tick refused by the lock", [a, b]);
    a.kill("SIGTERM");
    b.kill("SIGTERM");
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);

    const runs = await runRecords(lake);
    expectNoOverlap(runs);
    // They did contend: some tick found the other process holding the lock.
    expect(skippedLocked(ra.stderr + rb.stderr).length).toBeGreaterThanOrEqual(1);
    expect(runs.every((r) => r.lock === "postgres advisory lock argo-lake:scheduler")).toBe(true);
    // The database saw the same runs, and no advisory lock outlives the processes.
    const rows = await db.pool.query("SELECT run_id, status FROM job_runs");
    const ids = new Set(rows.rows.map((r) => r.run_id));
    for (const r of runs) expect(ids.has(r.run_id)).toBe(true);
    const locks = await db.pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    expect(locks.rows[0].n).toBe(0);
  }, 90_000);
});
