/**
 * Run records: what one run of a job did, kept in the lake as
 * `runs/<YYYY-MM-DD>/<run_id>.json` plus `runs/latest.json` (or
 * `runs/latest-shard-<i>-of-<n>.json` for a shard), and in Postgres's
 * job_runs table when DATABASE_URL is set. Run ids start with the UTC start
 * time, so keys sort by time.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type JobRun, recordJobRunAt } from "../db/postgres.ts";
import { latestRunKey, parseRunKey, RUNS_PREFIX, runKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";

/** The pipeline stages, in the order a cycle runs them. */
export const STAGE_NAMES = ["sync", "parse", "load"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** Jobs a run can be: one stage, a whole cycle, or a cycle limited to named floats. */
export const JOB_NAMES = ["sync", "parse", "load", "cycle", "run-float"] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** The stages each job runs, in order. */
export const JOB_STAGES: Record<JobName, readonly StageName[]> = {
  sync: ["sync"],
  parse: ["parse"],
  load: ["load"],
  cycle: STAGE_NAMES,
  "run-float": STAGE_NAMES,
};

/** How one stage of a run ended; "skipped" when an earlier stage failed or the run was stopped first. */
export const StageResultSchema = z.object({
  stage: z.enum(STAGE_NAMES),
  status: z.enum(["succeeded", "failed", "aborted", "skipped"]),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
  /** What the stage returned (its own stats shape), or null. */
  stats: z.unknown().nullable(),
  error: z.string().nullable(),
});
export type StageResult = z.infer<typeof StageResultSchema>;

/** One run, start to end. */
export const RunRecordSchema = z.object({
  run_id: z.string(),
  job: z.enum(JOB_NAMES),
  /** What started it: a cron tick, `--once`, or a handler call. */
  trigger: z.enum(["schedule", "once", "handler"]),
  /** "all" or "shard-i-of-n": what the run's lock covered. */
  scope: z.string(),
  shard: z.object({ index: z.number().int(), count: z.number().int() }).nullable(),
  float_ids: z.array(z.string()),
  host: z.string(),
  pid: z.number().int(),
  runtime: z.string(),
  /** The lock held during the run, or null when the run took none. */
  lock: z.string().nullable(),
  started_at: z.string(),
  finished_at: z.string(),
  duration_ms: z.number(),
  /** succeeded: every stage did; failed: one threw; aborted: stopped by shutdown or a lost lock. */
  status: z.enum(["succeeded", "failed", "aborted"]),
  error: z.string().nullable(),
  stages: z.array(StageResultSchema),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** A new run id: UTC start time to the millisecond, then random hex, e.g. 20250101T120000.123Z-1a2b3c4d. */
export function newRunId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, "")}-${randomBytes(4).toString("hex")}`;
}

/** The job_runs row for a record: its status vocabulary has no "aborted", so that is a failure whose error says so. */
export function toJobRun(record: RunRecord): JobRun {
  return {
    run_id: record.run_id,
    job: record.job,
    status: record.status === "succeeded" ? "succeeded" : "failed",
    started_at: new Date(record.started_at),
    ended_at: new Date(record.finished_at),
    stats: record as unknown as Record<string, unknown>,
    error: record.status === "aborted" ? `aborted: ${record.error ?? "stopped"}` : record.error,
  };
}

/**
 * Saves a finished run: the lake record, the scope's latest pointer and, with
 * a database, the job_runs row. A failure to record is logged, not thrown:
 * the run's own outcome stands, and the lake copy is still written when only
 * Postgres is down (and the reverse).
 */
export async function saveRunRecord(store: LakeStore, databaseUrl: string | undefined, record: RunRecord, log: Logger): Promise<void> {
  const body = new TextEncoder().encode(JSON.stringify(record, null, 1));
  try {
    await store.put(runKey(record.started_at, record.run_id), body);
    await store.put(latestRunKey(record.scope), body);
  } catch (err) {
    log.error("cannot write the run record to the lake", { error: (err as Error).message });
  }
  if (databaseUrl) {
    try {
      await recordJobRunAt(databaseUrl, toJobRun(record));
    } catch (err) {
      log.error("cannot record the run in job_runs", { error: (err as Error).message });
    }
  }
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
