/**
 * Run records: what one run of anything did, written by the runner
 * (lib/runner.ts) to the lake (keys: lib/lake/layout.ts runKey, latestRunKey)
 * and to Postgres's job_runs table when DATABASE_URL is set. Run ids start
 * with the UTC start time, so keys sort by time.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type JobRun, recordJobRunAt } from "../db/postgres.ts";
import { latestRunKey, parseRunKey, RUNS_PREFIX, runKey } from "../lake/layout.ts";
import { lakeExists } from "../lake/guard.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { FailureSchema, STAGE_NAMES, type StageName, VerdictSchema } from "../stages.ts";

/** Jobs a run can be: one stage, a whole cycle, or every stage for named floats (run-float) or a selection (run-batch). */
export const JOB_NAMES = ["sync", "parse", "compact", "load", "cycle", "run-float", "run-batch"] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** The stages each job runs, in order. */
export const JOB_STAGES: Record<JobName, readonly StageName[]> = {
  sync: ["sync"],
  parse: ["parse"],
  compact: ["compact"],
  load: ["load"],
  // Compaction is its own job (COMPACT_CRON): it takes its own lock and rewrites files of many floats,
  // so a one-float run stays cheap and a load target's outage stays the load's.
  cycle: ["sync", "parse", "load"],
  "run-float": ["sync", "parse", "load"],
  "run-batch": ["sync", "parse", "load"],
};

/** What started a run. */
export const TRIGGERS = ["cli", "schedule", "once", "handler"] as const;
export type Trigger = (typeof TRIGGERS)[number];

/**
 * Whether a run's parse finds its floats from the raw change journal the
 * syncs before it wrote, instead of listing the raw zone (lib/parse/discover.ts;
 * at GDAC size a listing is minutes every run): the cycle and run-batch, and
 * the parse job when the scheduler starts it (PARSE_CRON after SYNC_CRON's
 * syncs, or `schedule --once --job parse`). The parse job started by hand
 * (`deno task parse`, handler) lists everything, so files put in the raw zone
 * by hand are seen; a journal parse sees them on its full check.
 */
export function parseReadsJournal(job: JobName, trigger: Trigger): boolean {
  if (job === "cycle" || job === "run-batch") return true;
  return job === "parse" && (trigger === "schedule" || trigger === "once");
}

/** How one stage of a run ended. */
export const StageResultSchema = z.object({
  stage: z.enum(STAGE_NAMES),
  verdict: VerdictSchema,
  /** Why it is not plainly succeeded (or why it was skipped); null otherwise. */
  reason: z.string().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
  /** The stage's own stats (its zod schema in lib/stages.ts), or null when it did not run or threw before any. */
  stats: z.unknown().nullable(),
  failures: z.array(FailureSchema),
});
export type StageResult = z.infer<typeof StageResultSchema>;

/** One run, start to end. */
export const RunRecordSchema = z.object({
  run_id: z.string(),
  job: z.enum(JOB_NAMES),
  trigger: z.enum(TRIGGERS),
  /** "all" or "shard-i-of-n": what the run's lock covered. */
  scope: z.string(),
  shard: z.object({ index: z.number().int(), count: z.number().int() }).nullable(),
  float_ids: z.array(z.string()),
  lake: z.string(),
  host: z.string(),
  pid: z.number().int(),
  runtime: z.string(),
  /** argo-lake's version, the runtime's version and the lake schema version the run wrote. */
  versions: z.object({ argo_lake: z.string(), runtime: z.string(), lake_schema: z.number().int() }),
  /** The lock held during the run, or null when the run took none. */
  lock: z.string().nullable(),
  started_at: z.string(),
  finished_at: z.string(),
  duration_ms: z.number(),
  /** The worst of the stages' verdicts (lib/stages.ts). */
  verdict: VerdictSchema,
  /** The exit code every entry point gives this verdict. */
  exit_code: z.union([z.literal(0), z.literal(1)]),
  /** The first failed or partial stage's reason, null when none. */
  error: z.string().nullable(),
  stages: z.array(StageResultSchema),
  /** Every float and file that failed, with why (all stages). */
  failures: z.array(FailureSchema),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** A new run id: UTC start time to the millisecond, then random hex, e.g. 20250101T120000.123Z-1a2b3c4d. */
export function newRunId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, "")}-${randomBytes(4).toString("hex")}`;
}

/** The job_runs row of a record (the whole record is its stats). */
function toJobRun(record: RunRecord): JobRun {
  return {
    run_id: record.run_id,
    job: record.job,
    status: record.verdict,
    started_at: new Date(record.started_at),
    ended_at: new Date(record.finished_at),
    stats: record as unknown as Record<string, unknown>,
    error: record.error,
  };
}

/**
 * Saves a finished run: the lake record, the scope's latest pointer and, with
 * a database, the job_runs row. A failure to record is logged, not thrown:
 * the run's own outcome stands, and the lake copy is still written when only
 * Postgres is down (and the reverse). Returns the problems, for the caller to report.
 */
export async function saveRunRecord(store: LakeStore, databaseUrl: string | undefined, record: RunRecord, log: Logger): Promise<string[]> {
  const problems: string[] = [];
  const body = new TextEncoder().encode(JSON.stringify(record, null, 1));
  if (!lakeExists(store)) {
    // Writing the record would create the mistyped lake; the record still goes to job_runs and stdout.
    problems.push(`lake: ${store.description} does not exist`);
  } else {
    try {
      await store.put(runKey(record.started_at, record.run_id), body);
      await store.put(latestRunKey(record.scope), body);
    } catch (err) {
      problems.push(`lake: ${(err as Error).message}`);
      log.error("cannot write the run record to the lake", { error: (err as Error).message });
    }
  }
  if (databaseUrl) {
    try {
      await recordJobRunAt(databaseUrl, toJobRun(record));
    } catch (err) {
      problems.push(`job_runs: ${(err as Error).message}`);
      log.error("cannot record the run in job_runs", { error: (err as Error).message });
    }
  }
  return problems;
}

/** Marks a run as running in job_runs (so status shows runs in flight); best effort. */
export async function markRunStarted(databaseUrl: string | undefined, run: { run_id: string; job: JobName; started_at: string }, log: Logger): Promise<void> {
  if (!databaseUrl) return;
  try {
    await recordJobRunAt(databaseUrl, { run_id: run.run_id, job: run.job, status: "running", started_at: new Date(run.started_at) });
  } catch (err) {
    log.warn("cannot record the run start in job_runs", { error: (err as Error).message });
  }
}

/** Reads a run record from the lake; null when absent or not a run record. */
export async function readRunRecord(store: LakeStore, key: string): Promise<RunRecord | null> {
  const bytes = await store.get(key);
  if (!bytes) return null;
  try {
    const parsed = RunRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The newest `limit` run records in the lake, newest first (keys sort by start time). */
export async function listRunRecords(store: LakeStore, limit: number): Promise<RunRecord[]> {
  const keys = (await store.list(RUNS_PREFIX))
    .map((o) => ({ key: o.key, run: parseRunKey(o.key) }))
    .filter((k) => k.run !== null)
    .sort((a, b) => (a.run!.runId < b.run!.runId ? 1 : -1))
    .map((k) => k.key)
    .slice(0, limit);
  const out: RunRecord[] = [];
  for (const k of keys) {
    const r = await readRunRecord(store, k);
    if (r) out.push(r);
  }
  return out;
}
