/**
 * One run of a job: take the scope's lock (or give up at once if another
 * process holds it), run the job's stages in order with one abort signal,
 * record what happened, release the lock. Shared by the scheduler, `--once`
 * and the Lambda-style handler.
 */
import { hostname } from "node:os";
import process from "node:process";
import { describeError } from "../cli.ts";
import type { Config } from "../config.ts";
import { ArgoLakeError, ConfigError } from "../errors.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { runtimeName } from "../runtime.ts";
import { type RunLock, stuckLock } from "./lock.ts";
import { JOB_STAGES, type JobName, markRunStarted, newRunId, type RunRecord, saveRunRecord, type StageName, type StageResult } from "./runs.ts";
import { type Shard, shardLabel, shardPredicate } from "./shard.ts";

/** What every stage receives besides config, lake and logger. */
export interface StageOptions {
  /** Fires on shutdown or a lost lock: start no new file, return or throw soon. */
  signal: AbortSignal;
  /** Keep only the floats this returns true for (sharding); absent means all. */
  shard?: (wmo: string) => boolean;
  /** Only these floats; absent means every float the config selects. */
  floatIds?: string[];
}

/** A pipeline stage: does its work and returns its stats (any JSON value). */
export type StageFn = (config: Config, store: LakeStore, log: Logger, opts: StageOptions) => Promise<unknown>;

/** The stage functions a run calls, by name. */
export type StageRegistry = Record<StageName, StageFn>;

/** Everything a run needs that does not change from run to run. */
export interface RunContext {
  config: Config;
  store: LakeStore;
  log: Logger;
  stages: StageRegistry;
  shard: Shard | null;
  /** The scope's lock; null to run without one. */
  lock: RunLock | null;
}

export interface RunRequest {
  job: JobName;
  trigger: RunRecord["trigger"];
  /** For run-float (required) or to narrow any other job. */
  floatIds?: string[];
  /** Shutdown: aborts the run between files. */
  signal?: AbortSignal;
}

/** A run either happened (and has a record) or was skipped before starting. */
export type RunOutcome = { ran: true; record: RunRecord } | { ran: false; reason: string };

/** The scope a run locks and records under: "all" or "shard-i-of-n". */
export const scopeOf = (shard: Shard | null): string => shardLabel(shard);

/**
 * Runs a job once. Returns `{ ran: false }` when the lock is held elsewhere or
 * the signal already fired; otherwise the run's record, whatever its status.
 * Stage errors end up in the record, not thrown; a lock that cannot even be
 * asked for (database down) throws.
 */
export async function executeRun(ctx: RunContext, req: RunRequest): Promise<RunOutcome> {
  const floatIds = req.floatIds?.length ? req.floatIds : ctx.config.FLOAT_IDS;
  if (req.job === "run-float" && floatIds.length === 0) {
    throw new ConfigError("job run-float needs float ids (FLOAT_IDS, --float or the event's floatIds)");
  }
  if (req.signal?.aborted) return { ran: false, reason: "stopping" };
  const scope = scopeOf(ctx.shard);
  if (ctx.lock) {
    let got: boolean;
    try {
      got = await ctx.lock.tryAcquire();
    } catch (err) {
      throw new ArgoLakeError(`cannot take the run lock (${ctx.lock.description}): ${(err as Error).message}`, { stage: "schedule", scope }, 1, { cause: err });
    }
    if (!got) {
      const stuck = await stuckLock(ctx.lock, ctx.config.LOCK_STUCK_AFTER * 1000);
      if (stuck) throw new ArgoLakeError(stuck, { stage: "schedule", scope });
      return { ran: false, reason: `${ctx.lock.description} is held by another process` };
    }
  }
  const started = new Date();
  const runId = newRunId(started);
  const log = ctx.log.child({ run: runId, job: req.job, scope });
  try {
    const signals = [req.signal, ctx.lock?.lost].filter((s): s is AbortSignal => s !== undefined);
    const signal = AbortSignal.any(signals);
    const config: Config = { ...ctx.config, FLOAT_IDS: floatIds };
    const opts: StageOptions = {
      signal,
      ...(ctx.shard ? { shard: shardPredicate(ctx.shard) } : {}),
      ...(floatIds.length ? { floatIds } : {}),
    };
    log.info("run started", { trigger: req.trigger, lock: ctx.lock?.description ?? null, float_ids: floatIds });
    await markRunStarted(config.DATABASE_URL, { run_id: runId, job: req.job, started_at: started.toISOString() }, log);

    const results: StageResult[] = [];
    let status: RunRecord["status"] = "succeeded";
    let error: string | null = null;
    for (const stage of JOB_STAGES[req.job]) {
      if (status !== "succeeded" || signal.aborted) {
        if (signal.aborted && status === "succeeded") {
          status = "aborted";
          error = reasonOf(signal);
        }
        results.push({ stage, status: "skipped", started_at: null, finished_at: null, duration_ms: null, stats: null, error: null });
        continue;
      }
      const t0 = new Date();
      const slog = log.child({ stage });
      let result: StageResult;
      try {
        const stats = await ctx.stages[stage](config, ctx.store, slog, opts);
        result = finish(stage, t0, signal.aborted ? "aborted" : "succeeded", stats ?? null, signal.aborted ? reasonOf(signal) : null);
      } catch (err) {
        // A stage that fails after doing part of its work (load) puts its stats in the error's context.
        const partial = err instanceof ArgoLakeError ? err.context.stats ?? null : null;
        result = finish(stage, t0, signal.aborted ? "aborted" : "failed", partial, signal.aborted ? reasonOf(signal) : describeError(err));
      }
      results.push(result);
      (result.status === "failed" ? slog.error : slog.info)(`stage ${result.status}`, {
        duration_ms: result.duration_ms,
        stats: result.stats,
        error: result.error,
      });
      if (result.status !== "succeeded") {
        status = result.status === "aborted" ? "aborted" : "failed";
        error = result.error;
      }
    }
    const finished = new Date();
    const record: RunRecord = {
      run_id: runId,
      job: req.job,
      trigger: req.trigger,
      scope,
      shard: ctx.shard,
      float_ids: floatIds,
      host: hostname(),
      pid: process.pid,
      runtime: runtimeName,
      lock: ctx.lock?.description ?? null,
      started_at: started.toISOString(),
      finished_at: finished.toISOString(),
      duration_ms: finished.getTime() - started.getTime(),
      status,
      error,
      stages: results,
    };
    // Recorded while the lock is still held, so records of one scope never interleave.
    await saveRunRecord(ctx.store, config.DATABASE_URL, record, log);
    log.info(`run ${status}`, { duration_ms: record.duration_ms, error });
    return { ran: true, record };
  } finally {
    if (ctx.lock) {
      await ctx.lock.release().catch((err) => log.error("cannot release the run lock", { lock: ctx.lock!.description, error: (err as Error).message }));
    }
  }
}

function finish(stage: StageName, t0: Date, status: StageResult["status"], stats: unknown, error: string | null): StageResult {
  const t1 = new Date();
  return { stage, status, started_at: t0.toISOString(), finished_at: t1.toISOString(), duration_ms: t1.getTime() - t0.getTime(), stats, error };
}

function reasonOf(signal: AbortSignal): string {
  const r = signal.reason;
  return r instanceof Error ? r.message : typeof r === "string" ? r : "stopped";
}
