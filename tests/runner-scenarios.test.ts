/**
 * One table of scenarios through every entry point: the jobs as processes
 * (sync, parse, load, run-float, run-batch), `schedule --once --job X` as a
 * process (cycle included), and `handler(event)` in-process. Each entry
 * point gets its own lake, prepared the same way, and runs the same sequence
 * of jobs; every run must give the same verdict, exit code and run record
 * (stage verdicts and the floats and files that failed) whatever the entry
 * point. The expected verdicts are written in the table.
 */
import { copyFile, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../lib/handler.ts";
import { RunVerdictError } from "../lib/runner.ts";
import { type RunRecord, RunRecordSchema } from "../lib/schedule/runs.ts";
import { fixturesDir, tempDir, type TempDir } from "./support/fixtures.ts";
import { INDEX_FILES, startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { spawnJobProcess } from "./support/jobs.ts";
import { createTestDatabase, startTcpProxy, type TcpProxy, PG_PORT, type TestDatabase } from "./support/postgres.ts";

type Entry = "cli" | "once" | "handler";
type Job = "sync" | "parse" | "load" | "run-float" | "run-batch" | "cycle";
type V = "succeeded" | "partial" | "failed" | "skipped";

const A = "13857"; // aoml, 6 files
const B = "2902696"; // csio, 4 files
const SLOW = "5900865"; // csiro, 82 files: a sync long enough to interrupt
const GHOST = "9999999"; // in no index

/** One run of the sequence: the job, the float run-float is given, and the verdict every entry point must give. */
interface Step {
  job: Job;
  float?: string;
  verdict: V;
  /** Stage verdicts, in order. */
  stages: V[];
}

interface Scenario {
  name: string;
  floats: string[];
  /** Changes to the mirror before any run. */
  mirror?: (root: string) => Promise<void>;
  /** LAKE_URL points at a path that does not exist. */
  missingLake?: boolean;
  /** Postgres is cut when the load stage starts. */
  pgCutAtLoad?: boolean;
  /** The run is stopped 1.5 s in (SIGTERM for processes, the Lambda deadline for the handler). */
  interrupt?: boolean;
  /** The failures every entry point must name (stage, float, file), per step index. */
  failures?: Record<number, Array<[string, string | null, string | null]>>;
  steps: Step[];
}

const S: V = "succeeded", P: V = "partial", F: V = "failed", K: V = "skipped";

const SCENARIOS: Scenario[] = [
  {
    name: "all good",
    floats: [A, B],
    steps: [
      { job: "sync", verdict: S, stages: [S] },
      { job: "parse", verdict: S, stages: [S] },
      { job: "load", verdict: S, stages: [S] },
      { job: "run-float", float: A, verdict: S, stages: [S, S, S] },
      { job: "run-batch", verdict: S, stages: [S, S, S] },
      { job: "cycle", verdict: S, stages: [S, S, S] },
    ],
  },
  {
    name: "one file 404",
    floats: [A, B],
    mirror: async (root) => {
      await rm(join(root, "dac/aoml/13857/profiles/R13857_003.nc"));
    },
    failures: { 0: [["sync", A, "aoml/13857/profiles/R13857_003.nc"]] },
    steps: [
      { job: "sync", verdict: P, stages: [P] },
      { job: "parse", verdict: S, stages: [S] },
      { job: "load", verdict: S, stages: [S] },
      { job: "run-float", float: A, verdict: P, stages: [P, S, S] },
      { job: "run-batch", verdict: P, stages: [P, S, S] },
      { job: "cycle", verdict: P, stages: [P, S, S] },
    ],
  },
  {
    name: "a float not in the index",
    floats: [A, GHOST],
    failures: { 0: [["sync", GHOST, null]], 3: [["sync", GHOST, null]] },
    steps: [
      { job: "sync", verdict: P, stages: [P] },
      { job: "parse", verdict: P, stages: [P] },
      { job: "load", verdict: S, stages: [S] },
      { job: "run-float", float: GHOST, verdict: F, stages: [F, K, K] },
      { job: "run-batch", verdict: P, stages: [P, P, S] },
      { job: "cycle", verdict: P, stages: [P, P, S] },
    ],
  },
  {
    name: "a corrupt NetCDF",
    floats: [A, B],
    mirror: async (root) => {
      // A NetCDF-3 header that starts right and then breaks off: it passes sync's magic check, not the parser.
      const path = join(root, "dac/aoml/13857/profiles/R13857_002.nc");
      const bytes = await readFile(path);
      await rm(path);
      await writeFile(path, bytes.subarray(0, 300));
    },
    failures: { 1: [["parse", A, "raw/dac=aoml/wmo=13857/profiles/R13857_002.nc"]] },
    steps: [
      { job: "sync", verdict: S, stages: [S] },
      { job: "parse", verdict: P, stages: [P] },
      { job: "load", verdict: S, stages: [S] },
      { job: "run-float", float: A, verdict: S, stages: [S, S, S] },
      { job: "run-batch", verdict: S, stages: [S, S, S] },
      { job: "cycle", verdict: S, stages: [S, S, S] },
    ],
  },
  {
    name: "Postgres down during load",
    floats: [A, B],
    pgCutAtLoad: true,
    steps: [
      { job: "run-float", float: A, verdict: F, stages: [S, S, F] },
    ],
  },
  {
    name: "SIGTERM mid-run",
    floats: [SLOW],
    interrupt: true,
    steps: [
      { job: "sync", verdict: F, stages: [F] },
      { job: "run-float", float: SLOW, verdict: F, stages: [F, K, K] },
    ],
  },
  {
    name: "a lake path that does not exist",
    floats: [A, B],
    missingLake: true,
    steps: [
      { job: "sync", verdict: F, stages: [F] },
      { job: "parse", verdict: F, stages: [F] },
      { job: "load", verdict: F, stages: [F] },
      { job: "run-float", float: A, verdict: F, stages: [F, K, K] },
      { job: "run-batch", verdict: F, stages: [F, K, K] },
      { job: "cycle", verdict: F, stages: [F, K, K] },
    ],
  },
];

const ENTRIES: Entry[] = ["cli", "once", "handler"];

let work: TempDir;
let server: TestHttpsServer;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  work = await tempDir("scenarios");
  // The slow float comes over HTTPS with latency, one request at a time: about 25 s of sync to interrupt.
  server = await startHttpsServer({ latencyMs: 300 });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await server?.stop();
  await work?.cleanup();
});

/** A local GDAC mirror holding the index files and the scenario's floats. */
async function makeMirror(s: Scenario, dir: string): Promise<string> {
  const root = join(dir, "gdac");
  await mkdir(root, { recursive: true });
  for (const name of INDEX_FILES) await copyFile(join(fixturesDir, name), join(root, name));
  for (const [dac, wmo] of [["aoml", A], ["csio", B]]) await cp(join(fixturesDir, "dac", dac, wmo), join(root, "dac", dac, wmo), { recursive: true });
  await s.mirror?.(root);
  return root;
}

/** What every entry point must agree on, from a record. */
function essence(r: RunRecord) {
  return {
    verdict: r.verdict,
    exit_code: r.exit_code,
    stages: r.stages.map((s) => s.verdict),
    failures: r.failures.map((f) => [f.stage, f.float_id, f.file] as [string, string | null, string | null]).sort(),
  };
}

interface Outcome {
  code: number;
  record: RunRecord;
}

/** Runs one step through one entry point. */
async function runStep(entry: Entry, step: Step, env: Record<string, string>, db: TestDatabase | null, cut: () => Promise<void>, s: Scenario): Promise<Outcome> {
  const stepEnv = step.job === "run-float" ? { ...env, FLOAT_IDS: step.float! } : env;
  if (entry === "handler") return await runHandler(step, stepEnv, cut, s);
  const [script, args] = entry === "once"
    ? ["schedule", ["--once", "--job", step.job, "--json"]]
    : [step.job, step.job === "run-float" ? [step.float!, "--json"] : ["--json"]];
  if (entry === "cli" && step.job === "cycle") throw new Error("no cycle job on the command line");
  const proc = spawnJobProcess(script, args, { env: stepEnv, timeoutMs: 90_000 });
  if (s.interrupt) {
    await proc.waitFor(/"msg":"run started"/, "stderr", 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    proc.kill("SIGTERM");
  }
  if (s.pgCutAtLoad) {
    await proc.waitFor(/"msg":"stage load started"/, "stderr", 60_000);
    await cut();
  }
  const result = await proc.done;
  const runId = /"run_id":"([^"]+)"[^\n]*"msg":"run started"/.exec(result.stderr)?.[1];
  expect(runId, result.stderr.slice(-2000)).toBeTruthy();
  return { code: result.code ?? -1, record: await recordOf(runId!, env, db) };
}

/** The run's record: from job_runs when the scenario has a database (the lake may not exist), else from the lake. */
async function recordOf(runId: string, env: Record<string, string>, db: TestDatabase | null): Promise<RunRecord> {
  if (db && !env.__PG_CUT) {
    const row = (await db.pool.query("SELECT stats FROM job_runs WHERE run_id = $1", [runId])).rows[0];
    expect(row, `job_runs row of ${runId}`).toBeTruthy();
    return RunRecordSchema.parse(row.stats);
  }
  const date = `${runId.slice(0, 4)}-${runId.slice(4, 6)}-${runId.slice(6, 8)}`;
  return RunRecordSchema.parse(JSON.parse(await readFile(join(env.LAKE_URL, "runs", date, `${runId}.json`), "utf8")));
}

async function runHandler(step: Step, env: Record<string, string>, cut: () => Promise<void>, s: Scenario): Promise<Outcome> {
  const { PATH, __PG_CUT: _cut, ...config } = env;
  const context = s.interrupt ? { getRemainingTimeInMillis: () => Number(env.SHUTDOWN_TIMEOUT) * 1000 + 1500 } : {};
  // The handler logs to this process's stderr: watch it for the load stage's start, as the processes are watched.
  const write = process.stderr.write.bind(process.stderr);
  let cutDone: Promise<void> | null = null;
  if (s.pgCutAtLoad) {
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (!cutDone && String(chunk).includes('"msg":"stage load started"')) cutDone = cut();
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
  }
  try {
    const r = await handler({ job: step.job, config }, context, { env: { PATH } }).then(
      (rec) => rec as RunRecord,
      (err) => {
        if (err instanceof RunVerdictError) return err.record;
        throw err;
      },
    );
    await cutDone;
    return { code: r.exit_code, record: r };
  } finally {
    process.stderr.write = write;
  }
}

describe("one verdict, one exit code, one record, whatever the entry point", () => {
  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const dir = join(work.path, s.name.replace(/\W+/g, "-"));
      await mkdir(dir, { recursive: true });
      const mirror = await makeMirror(s, dir);
      const db = s.pgCutAtLoad ? null : await createTestDatabase("scen");
      if (db) cleanups.push(() => db.drop());
      let proxy: TcpProxy | null = null;
      let pgDb: TestDatabase | null = null;
      if (s.pgCutAtLoad) {
        pgDb = await createTestDatabase("scen_cut");
        cleanups.push(() => pgDb!.drop());
      }
      const seen = new Map<Entry, Outcome[]>();
      for (const entry of ENTRIES) {
        const lake = s.missingLake ? join(dir, `missing-${entry}`, "lake") : join(dir, `lake-${entry}`);
        if (!s.missingLake) await mkdir(lake, { recursive: true });
        if (s.pgCutAtLoad) {
          proxy = await startTcpProxy(PG_PORT);
          cleanups.push(() => proxy!.close());
        }
        const env: Record<string, string> = {
          PATH: process.env.PATH ?? "",
          GDAC_BASE_URL: s.interrupt ? server.url : mirror,
          ...(s.interrupt ? { GDAC_CA_FILE: server.caFile, HTTP_CONCURRENCY: "1", SHUTDOWN_TIMEOUT: "10" } : {}),
          LAKE_URL: lake,
          FLOAT_IDS: s.floats.join(","),
          LOG_FORMAT: "json",
          LOG_LEVEL: "info",
          ...(db ? { DATABASE_URL: db.url } : {}),
          ...(pgDb && proxy ? { DATABASE_URL: pgDb.urlVia(proxy.port), __PG_CUT: "1" } : {}),
        };
        const outcomes: Outcome[] = [];
        for (const step of s.steps) {
          if (entry === "cli" && step.job === "cycle") continue;
          const o = await runStep(entry, step, env, db, async () => await proxy!.cut(), s);
          outcomes.push(o);
          const e = essence(o.record);
          const where = `${s.name} / ${entry} / ${step.job}: ${o.record.error}`;
          expect(e.verdict, where).toBe(step.verdict);
          expect(e.stages, where).toEqual(step.stages);
          expect(o.code, where).toBe(step.verdict === S || step.verdict === K ? 0 : 1);
          expect(o.record.exit_code, where).toBe(o.code);
          const wanted = s.failures?.[s.steps.indexOf(step)];
          if (wanted) expect(e.failures.map((f) => [f[0], f[1], f[2]]), where).toEqual(expect.arrayContaining(wanted));
        }
        seen.set(entry, outcomes);
        if (s.missingLake) expect(existsSync(lake), `${entry} made the missing lake`).toBe(false);
        if (proxy) await proxy.restore();
      }
      // Same record, whatever the entry point (interrupted runs stop at different files: verdicts only).
      const cmp = (o: Outcome) => (s.interrupt || s.pgCutAtLoad ? { ...essence(o.record), failures: [] } : essence(o.record));
      const once = seen.get("once")!.map(cmp);
      expect(seen.get("handler")!.map(cmp)).toEqual(once);
      const cliJobs = s.steps.filter((st) => st.job !== "cycle").length;
      expect(seen.get("cli")!.map(cmp)).toEqual(once.slice(0, cliJobs));
    }, 600_000);
  }
});
