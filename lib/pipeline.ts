/**
 * The whole pipeline for named floats: sync, then parse, then load.
 * run-float does it for one float; run-batch for FLOAT_IDS (or every float
 * of ARGO_DAC) in batches of BATCH_SIZE floats. A stage that fails stops
 * its float's (or batch's) pipeline there: the lake keeps what earlier
 * stages wrote, and a re-run picks up from it (every stage is incremental
 * and idempotent).
 */
import { z } from "zod";
import type { Config } from "./config.ts";
import { describeError } from "./cli.ts";
import { recordJobRunAt } from "./db/postgres.ts";
import { runSync, type SyncStats, SyncStatsSchema } from "./gdac/sync.ts";
import type { LakeStore } from "./lake/store.ts";
import { LoadStatsSchema, runLoad } from "./load/run.ts";
import type { Logger } from "./log.ts";
import { discoverFloats, type ParseStats, ParseStatsSchema, runParse } from "./parse/run.ts";
import { runtimeName } from "./runtime.ts";

/** The pipeline's stages, in order. */
export const PIPELINE_STAGES = ["sync", "parse", "load"] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** What one pipeline run (one float, or one batch of floats) did. */
export const PipelineStatsSchema = z.object({
  float_ids: z.array(z.string()),
  status: z.enum(["succeeded", "failed"]),
  /** The stage that failed, null on success. */
  failed_stage: z.enum(PIPELINE_STAGES).nullable(),
  error: z.string().nullable(),
  /** The sync's own stats object (the original worker's fields first); null when skipped or not reached. */
  sync: SyncStatsSchema.nullable(),
  parse: ParseStatsSchema.nullable(),
  load: LoadStatsSchema.nullable(),
  /** Wall time of each stage run, and of the whole pipeline. */
  timings_ms: z.object({
    sync: z.number().nullable(),
    parse: z.number().nullable(),
    load: z.number().nullable(),
    total: z.number(),
  }),
  skip_download: z.boolean(),
  runtime: z.enum(["deno", "node"]),
  lake: z.string(),
  start_time: z.string(),
  end_time: z.string(),
});
export type PipelineStats = z.infer<typeof PipelineStatsSchema>;

/** What a run-float prints with --json: one pipeline run, for one float. */
export type RunFloatStats = PipelineStats & { float_id: string };

export interface PipelineOptions {
  /** Parse and load what the raw zone holds, without syncing. */
  skipDownload?: boolean;
  /** Stops between files and floats; the run then fails at the stage it stopped in. */
  signal?: AbortSignal;
}

const ms = (t0: number) => Math.round(performance.now() - t0);

/** Why a stage that returned counts as failed, or null when it did its work. */
function syncProblem(s: SyncStats, floatIds: string[]): string | null {
  if (s.aborted) return "aborted";
  if (s.errors > 0) {
    const d = s.error_details[0];
    return `${s.errors} error(s)${d ? `; first: ${d.message}${d.file ? ` (${d.file})` : ""}` : ""}`;
  }
  if (s.total_floats < floatIds.length) {
    return `${floatIds.length - s.total_floats} of ${floatIds.length} float(s) are not in the GDAC's index`;
  }
  return null;
}

function parseProblem(s: ParseStats, floatIds: string[]): string | null {
  if (s.aborted) return "aborted";
  if (s.errors > 0) {
    const d = s.error_details[0];
    return `${s.errors} float(s) failed to parse${d ? `; first: float ${d.float_id}: ${d.message}` : ""}`;
  }
  const seen = s.floats_parsed + s.floats_skipped + s.floats_removed;
  if (seen < floatIds.length) return `${floatIds.length - seen} of ${floatIds.length} float(s) have no raw files in the lake`;
  return null;
}

/**
 * Runs sync, parse and load for the given floats. Never throws for a stage
 * failure: the stats say which stage failed and why (exit code 1 for the
 * jobs); configuration errors (exit code 2) are thrown.
 */
export async function runPipeline(
  config: Config,
  store: LakeStore,
  log: Logger,
  floatIds: string[],
  opts: PipelineOptions = {},
): Promise<PipelineStats> {
  const t0 = performance.now();
  const start = new Date().toISOString();
  // The floats are named: a DAC filter or another FLOAT_IDS from the environment must not narrow or widen them.
  const scoped: Config = { ...config, FLOAT_IDS: floatIds, ARGO_DAC: [] };
  const stats: PipelineStats = {
    float_ids: floatIds,
    status: "succeeded",
    failed_stage: null,
    error: null,
    sync: null,
    parse: null,
    load: null,
    timings_ms: { sync: null, parse: null, load: null, total: 0 },
    skip_download: opts.skipDownload ?? false,
    runtime: runtimeName,
    lake: store.description,
    start_time: start,
    end_time: start,
  };
  const stageOpts = { floatIds, signal: opts.signal };
  const fail = (stage: PipelineStage, reason: string) => {
    stats.status = "failed";
    stats.failed_stage = stage;
    stats.error = reason;
    log.error(`${stage} stage failed`, { stage, float_ids: floatIds, error: reason });
  };
  const done = () => {
    stats.timings_ms.total = ms(t0);
    stats.end_time = new Date().toISOString();
    return stats;
  };

  if (!opts.skipDownload) {
    const ts = performance.now();
    try {
      stats.sync = await runSync(scoped, store, log.child({ stage: "sync" }), stageOpts);
    } catch (err) {
      fail("sync", describeError(err));
    }
    stats.timings_ms.sync = ms(ts);
    const problem = stats.sync && syncProblem(stats.sync, floatIds);
    if (problem) fail("sync", problem);
    if (stats.status === "failed") return done();
  }

  const tp = performance.now();
  try {
    stats.parse = await runParse(scoped, store, log.child({ stage: "parse" }), stageOpts);
  } catch (err) {
    fail("parse", describeError(err));
  }
  stats.timings_ms.parse = ms(tp);
  const parseIssue = stats.parse && parseProblem(stats.parse, floatIds);
  if (parseIssue) fail("parse", parseIssue);
  if (stats.status === "failed") return done();

  const tl = performance.now();
  try {
    stats.load = await runLoad(scoped, store, log, stageOpts);
    if (stats.load.aborted) fail("load", "aborted");
  } catch (err) {
    fail("load", describeError(err));
  }
  stats.timings_ms.load = ms(tl);
  return done();
}

/** Runs sync, parse and load for one float. */
export async function runFloat(config: Config, store: LakeStore, log: Logger, wmo: string, opts: PipelineOptions = {}): Promise<RunFloatStats> {
  const stats = await runPipeline(config, store, log.child({ float_id: wmo }), [wmo], opts);
  return { float_id: wmo, ...stats };
}

/** What run-batch did. */
export interface RunBatchStats {
  floats_total: number;
  floats_succeeded: number;
  floats_failed: number;
  batches_total: number;
  batches_failed: number;
  /** The sync of every float of ARGO_DAC, when run-batch was given DACs rather than floats. */
  dac_sync: SyncStats | null;
  /** Why that sync counts as failed (files that failed to download); its batches still run on what landed. */
  dac_sync_error: string | null;
  batches: PipelineStats[];
  runtime: "deno" | "node";
  start_time: string;
  end_time: string;
  duration_ms: number;
}

/**
 * Runs the pipeline for FLOAT_IDS in batches of BATCH_SIZE, one batch after
 * the other (each stage runs its own workers: HTTP_CONCURRENCY requests,
 * MAX_WORKERS parse threads). Without FLOAT_IDS, takes every float of
 * ARGO_DAC: one sync for the DACs (it reads the index once), then parse and
 * load batch by batch over the floats the raw zone holds. A failed batch
 * does not stop the next.
 */
export async function runBatch(config: Config, store: LakeStore, log: Logger, opts: PipelineOptions = {}): Promise<RunBatchStats> {
  const t0 = performance.now();
  const stats: RunBatchStats = {
    floats_total: 0,
    floats_succeeded: 0,
    floats_failed: 0,
    batches_total: 0,
    batches_failed: 0,
    dac_sync: null,
    dac_sync_error: null,
    batches: [],
    runtime: runtimeName,
    start_time: new Date().toISOString(),
    end_time: "",
    duration_ms: 0,
  };
  let floatIds = [...new Set(config.FLOAT_IDS)];
  let skipDownload = opts.skipDownload ?? false;
  if (floatIds.length === 0) {
    if (!skipDownload) {
      stats.dac_sync = await runSync({ ...config, FLOAT_IDS: [] }, store, log.child({ stage: "sync" }), { signal: opts.signal });
      stats.dac_sync_error = syncProblem(stats.dac_sync, []);
      skipDownload = true;
    }
    floatIds = [...new Set((await discoverFloats(store, config.ARGO_DAC)).map((f) => f.wmo))];
  }
  stats.floats_total = floatIds.length;
  for (let i = 0; i < floatIds.length && !opts.signal?.aborted; i += config.BATCH_SIZE) {
    const batch = floatIds.slice(i, i + config.BATCH_SIZE);
    const blog = log.child({ batch: stats.batches.length + 1 });
    blog.info("batch started", { float_ids: batch });
    const r = await runPipeline(config, store, blog, batch, { ...opts, skipDownload });
    stats.batches.push(r);
    stats.batches_total++;
    if (r.status === "succeeded") stats.floats_succeeded += batch.length;
    else {
      stats.batches_failed++;
      stats.floats_failed += batch.length;
    }
  }
  stats.end_time = new Date().toISOString();
  stats.duration_ms = ms(t0);
  return stats;
}

/**
 * Records a job's run in Postgres's job_runs when DATABASE_URL is set. Best
 * effort: a database that is down is the load stage's failure to report,
 * not a second one.
 */
export async function recordRun(
  config: Config,
  log: Logger,
  job: string,
  started: Date,
  status: "succeeded" | "failed",
  stats: unknown,
  error: string | null,
): Promise<void> {
  if (!config.DATABASE_URL) return;
  try {
    await recordJobRunAt(config.DATABASE_URL, {
      run_id: log.runId,
      job,
      status,
      started_at: started,
      ended_at: new Date(),
      stats: (stats ?? {}) as Record<string, unknown>,
      error,
    });
  } catch (err) {
    log.warn("could not record the run in job_runs", { error: describeError(err) });
  }
}

const secs = (v: number | null) => (v === null ? "-" : `${(v / 1000).toFixed(2)} s`);
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;

/** The lines a person reads after a pipeline run: what each stage did and its time. */
export function formatPipelineReport(s: PipelineStats, title: string): string {
  const lines = [`${title}: ${s.status}${s.failed_stage ? ` (${s.failed_stage} stage: ${s.error})` : ""} in ${secs(s.timings_ms.total)} [${s.runtime}]`];
  if (s.skip_download) lines.push("  sync   skipped (--skip-download)");
  else if (s.sync) {
    const y = s.sync;
    lines.push(`  sync   ${secs(s.timings_ms.sync)}  ${y.files_downloaded} file(s) downloaded (${mb(y.bytes_downloaded)}), ${y.files_skipped} skipped as up to date, ${y.files_removed} removed, ${y.errors} error(s)`);
  } else lines.push(`  sync   ${s.failed_stage === "sync" ? "failed" : "not run"}`);
  if (s.parse) {
    const p = s.parse;
    lines.push(`  parse  ${secs(s.timings_ms.parse)}  ${p.floats_parsed} float(s) parsed, ${p.floats_skipped} unchanged; ${p.files_parsed} file(s), ${p.profiles} profiles, ${p.measurement_rows} measurement rows, ${p.parquet_files_written} Parquet file(s) written (${mb(p.bytes_out)}), ${p.quarantined} quarantined`);
  } else lines.push(`  parse  ${s.failed_stage === "parse" ? "failed" : "not run"}`);
  if (s.load) {
    const l = s.load;
    const pgText = l.postgres === "skipped"
      ? "Postgres skipped (no DATABASE_URL)"
      : `Postgres ${l.profiles_read} profiles read: ${l.profiles_inserted} inserted, ${l.profiles_updated} updated, ${l.profiles_unchanged} unchanged, ${l.profiles_deleted} deleted; ${l.climatology_cells_changed} climatology cell(s) changed`;
    const redisText = l.redis === "skipped"
      ? "Redis skipped (no REDIS_URL)"
      : `Redis ${l.redis_floats_written} float(s), ${l.redis_latest_profiles} latest profile(s) with ${l.redis_levels_written} levels`;
    lines.push(`  load   ${secs(s.timings_ms.load)}  ${pgText}; ${redisText}`);
  } else lines.push(`  load   ${s.failed_stage === "load" ? "failed" : "not run"}`);
  return lines.join("\n");
}

/** The report of a run-float. */
export function formatRunReport(s: RunFloatStats): string {
  return formatPipelineReport(s, `run-float ${s.float_id}`);
}
