/**
 * The one stage runner. Every entry point (the jobs, run-float, run-batch,
 * the scheduler's cycles and single jobs, `--once`, `handler(event)`) runs
 * through `executeRun`: check the lake, take the scope's lock when asked,
 * run the job's stages from the registry (lib/stages.ts) in order with one
 * abort signal, judge each by its stage's verdict rule, write one run record
 * (lake and job_runs), release the lock. Same input, same verdict, same exit
 * code, whatever the entry point.
 *
 * A partial stage lets the next stage work on what landed; a failed one
 * stops the run there (the stages after it are recorded as skipped). An
 * interrupted run (shutdown, lost lock) fails the stage it was in.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { describeError } from "./cli.ts";
import type { Config } from "./config.ts";
import { ArgoLakeError, ConfigError } from "./errors.ts";
import { lakeExists } from "./lake/guard.ts";
import { assertLakeExists } from "./removal-guard.ts";
import type { LakeStore } from "./lake/store.ts";
import type { Logger } from "./log.ts";
import { runtimeName } from "./runtime.ts";
import { type RunLock, stuckLock } from "./schedule/lock.ts";
import { JOB_STAGES, type JobName, markRunStarted, newRunId, parseReadsJournal, type RunRecord, saveRunRecord, type StageResult, type Trigger } from "./schedule/runs.ts";
import { type Shard, shardLabel, shardPredicate } from "./schedule/shard.ts";
import { combineVerdicts, exitCodeOfVerdict, type Failure, type StageInput, type StageName, type StageProgress, stageDef, STAGES, type StageStats } from "./stages.ts";
import { SCHEMA_VERSION } from "../lake/schema.ts";

/** Everything a run needs that does not change from run to run. */
export interface RunContext {
  config: Config;
  store: LakeStore;
  log: Logger;
  shard: Shard | null;
  /** The scope's lock; null to run without one. */
  lock: RunLock | null;
  /** Told of every stage as it ends and of every finished run (the scheduler's metrics). */
  observer?: RunObserver;
}

/** Hooks for whoever watches runs (metrics, progress). */
export interface RunObserver {
  stageFinished?(job: JobName, result: StageResult): void;
  runFinished?(record: RunRecord): void;
}

export interface RunRequest {
  job: JobName;
  trigger: Trigger;
  /** Floats the run names (run-float, --float); otherwise the config's FLOAT_IDS. */
  floatIds?: string[];
  /** Shutdown: stops the run between items. */
  signal?: AbortSignal;
  /** Stages not to run (run-float --skip-download skips sync); recorded as skipped. */
  skip?: readonly StageName[];
  /** parse --force, load --full. */
  force?: boolean;
  onProgress?: (p: StageProgress) => void;
}

/** A run either happened (and has a record) or did not start because another process holds the lock. */
export type RunOutcome = { ran: true; record: RunRecord } | { ran: false; reason: string };

/** The exit code of an outcome: the record's, or 0 for a run that did not start (skipped). */
export const exitCodeOfOutcome = (o: RunOutcome): 0 | 1 => (o.ran ? o.record.exit_code : 0);

/** A run whose verdict has exit code 1 (partial or failed), thrown by handler(event) with its record. */
export class RunVerdictError extends ArgoLakeError {
  constructor(readonly record: RunRecord) {
    const stage = record.stages.find((s) => s.verdict === "failed" || s.verdict === "partial");
    super(`${record.job} run ${record.run_id} ${record.verdict}${stage ? ` in ${stage.stage}` : ""}: ${record.error ?? ""}`, {
      stage: stage?.stage ?? "run",
      run_id: record.run_id,
    });
  }
}

/** The scope a run locks and records under: "all" or "shard-i-of-n". */
export const scopeOf = (shard: Shard | null): string => shardLabel(shard);

const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
})();
const RUNTIME_VERSION = runtimeName === "deno" ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}` : `node ${process.versions.node}`;

/**
 * Runs a job once. Throws ConfigError (exit 2) for bad settings before any
 * work; a lock that cannot even be asked for (database down) throws too.
 * Everything else, the lake that does not exist included, ends in the record.
 */
export async function executeRun(ctx: RunContext, req: RunRequest): Promise<RunOutcome> {
  const floatIds = req.floatIds?.length ? req.floatIds : ctx.config.FLOAT_IDS;
  if (req.job === "run-float" && floatIds.length !== 1) {
    throw new ConfigError(`job run-float needs exactly one float id (got ${floatIds.length ? floatIds.join(", ") : "none"})`);
  }
  if (req.job === "run-batch" && floatIds.length === 0 && ctx.config.ARGO_DAC.length === 0) {
    throw new ConfigError("nothing to run: set FLOAT_IDS (--float) or ARGO_DAC (--dac)");
  }
  if (req.signal?.aborted) return { ran: false, reason: "stopping" };
  const scope = scopeOf(ctx.shard);
  // A lake that does not exist gets no lock object (writing it would make the lake); its stages fail by name.
  const lock = lakeExists(ctx.store) ? ctx.lock : null;
  if (lock) {
    let got: boolean;
    try {
      got = await lock.tryAcquire();
    } catch (err) {
      throw new ArgoLakeError(`cannot take the run lock (${lock.description}): ${(err as Error).message}`, { stage: "schedule", scope }, 1, { cause: err });
    }
    if (!got) {
      const stuck = await stuckLock(lock, ctx.config.LOCK_STUCK_AFTER * 1000);
      if (stuck) throw new ArgoLakeError(stuck, { stage: "schedule", scope });
      return { ran: false, reason: `${lock.description} is held by another process` };
    }
  }
  const started = new Date();
  const runId = newRunId(started);
  const log = ctx.log.forRun(runId).child({ job: req.job, scope });
  try {
    const signal = AbortSignal.any([req.signal, lock?.lost].filter((s): s is AbortSignal => s !== undefined));
    // Named floats are the whole selection: a DAC filter from the environment must not narrow them.
    const config: Config = floatIds.length ? { ...ctx.config, FLOAT_IDS: floatIds, ARGO_DAC: [] } : ctx.config;
    const input = (stageLog: Logger): StageInput => ({
      config,
      store: ctx.store,
      log: stageLog,
      signal,
      ...(ctx.shard ? { shard: shardPredicate(ctx.shard) } : {}),
      scope,
      ...(floatIds.length ? { floatIds } : {}),
      force: req.force,
      journal: parseReadsJournal(req.job, req.trigger),
      onProgress: req.onProgress,
    });
    log.info("run started", { trigger: req.trigger, lock: lock?.description ?? null, float_ids: floatIds, lake: ctx.store.description });
    await markRunStarted(config.DATABASE_URL, { run_id: runId, job: req.job, started_at: started.toISOString() }, log);

    const results: StageResult[] = [];
    let stop: string | null = null;
    for (const stage of JOB_STAGES[req.job]) {
      let result: StageResult;
      if (stop !== null) result = notRun(stage, stop);
      else if (req.skip?.includes(stage)) result = notRun(stage, `--skip-download: not run`);
      else {
        log.info(`stage ${stage} started`, { stage });
        result = await runStage(stage, input(log.child({ stage })), runId, signal);
      }
      results.push(result);
      if (stop === null && result.verdict === "failed") stop = `not run: the ${stage} stage failed`;
      if (stop === null && signal.aborted) stop = "not run: the run was stopped";
      ctx.observer?.stageFinished?.(req.job, result);
      const fields = { verdict: result.verdict, reason: result.reason, duration_ms: result.duration_ms, failures: result.failures.length };
      (result.verdict === "failed" ? log.error : result.verdict === "partial" ? log.warn : log.info)(`stage ${stage} ${result.verdict}`, { stage, ...fields });
    }
    const verdict = combineVerdicts(results.map((r) => r.verdict));
    const finished = new Date();
    const record: RunRecord = {
      run_id: runId,
      job: req.job,
      trigger: req.trigger,
      scope,
      shard: ctx.shard,
      float_ids: floatIds,
      lake: ctx.store.description,
      host: hostname(),
      pid: process.pid,
      runtime: runtimeName,
      versions: { argo_lake: VERSION, runtime: RUNTIME_VERSION, lake_schema: SCHEMA_VERSION },
      lock: lock?.description ?? null,
      started_at: started.toISOString(),
      finished_at: finished.toISOString(),
      duration_ms: finished.getTime() - started.getTime(),
      verdict,
      exit_code: exitCodeOfVerdict(verdict),
      error: results.find((r) => r.verdict === "failed" || r.verdict === "partial")?.reason ?? null,
      stages: results,
      failures: results.flatMap((r) => r.failures),
    };
    // Recorded while the lock is still held, so records of one scope never interleave.
    await saveRunRecord(ctx.store, config.DATABASE_URL, record, log);
    ctx.observer?.runFinished?.(record);
    (verdict === "failed" ? log.error : verdict === "partial" ? log.warn : log.info)(`run ${verdict}`, {
      duration_ms: record.duration_ms,
      error: record.error,
      exit_code: record.exit_code,
    });
    return { ran: true, record };
  } finally {
    if (lock) {
      await lock.release().catch((err) => log.error("cannot release the run lock", { lock: lock.description, error: (err as Error).message }));
    }
  }
}

/**
 * run-float as a library call: sync, parse and load one float through the
 * runner, no lock (it touches only that float), recorded like any run.
 */
export async function runFloat(config: Config, store: LakeStore, log: Logger, wmo: string, opts: { skipDownload?: boolean; signal?: AbortSignal } = {}): Promise<RunRecord> {
  const outcome = await executeRun(
    { config, store, log, shard: null, lock: null },
    { job: "run-float", trigger: "cli", floatIds: [wmo], signal: opts.signal, skip: opts.skipDownload ? ["sync"] : undefined },
  );
  if (!outcome.ran) throw new ArgoLakeError(`run-float ${wmo} did not run: ${outcome.reason}`, { floatId: wmo });
  return outcome.record;
}

/** The stats a stage of a run returned, typed by the stage's schema; null when it did not run (or has none). */
export function stageStats<N extends StageName>(record: RunRecord, stage: N): StageStats[N] | null {
  const r = record.stages.find((s) => s.stage === stage);
  if (!r || r.stats === null) return null;
  const parsed = STAGES[stage].stats.safeParse(r.stats);
  return parsed.success ? (parsed.data as StageStats[N]) : null;
}

/** Runs one stage and judges it. Never throws except ConfigError. */
async function runStage(name: StageName, input: StageInput, runId: string, signal: AbortSignal): Promise<StageResult> {
  const def = stageDef(name);
  const t0 = new Date();
  let stats: unknown = null;
  let judgement: { verdict: StageResult["verdict"]; reason: string | null };
  let failures: Failure[] = [];
  try {
    assertLakeExists(input.store, name);
    stats = await def.run(input);
    judgement = def.judge(stats, input);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // A stage that fails after doing part of its work (load) puts its stats in the error's context.
    const partial = err instanceof ArgoLakeError ? def.stats.safeParse(err.context.stats) : null;
    if (partial?.success) {
      stats = partial.data;
      judgement = def.judge(stats, input);
      if (judgement.verdict === "succeeded") judgement = { verdict: "failed", reason: describeError(err) };
    } else {
      judgement = { verdict: "failed", reason: describeError(err) };
    }
    if (!partial?.success) failures = [{ stage: name, float_id: err instanceof ArgoLakeError ? (err.context.floatId ?? null) : null, file: err instanceof ArgoLakeError ? (err.context.file ?? null) : null, reason: judgement.reason! }];
  }
  if (stats !== null) failures = [...failures, ...await def.failures(stats, input, runId).catch(() => [])];
  // Stopped part-way (shutdown, a lost lock, a deadline): the stage did not finish, whatever its counts say.
  if (signal.aborted) judgement = { verdict: "failed", reason: `interrupted (${reasonOf(signal)})` };
  const t1 = new Date();
  return {
    stage: name,
    verdict: judgement.verdict,
    reason: judgement.reason,
    started_at: t0.toISOString(),
    finished_at: t1.toISOString(),
    duration_ms: t1.getTime() - t0.getTime(),
    stats,
    failures,
  };
}

function notRun(stage: StageName, reason: string): StageResult {
  return { stage, verdict: "skipped", reason, started_at: null, finished_at: null, duration_ms: null, stats: null, failures: [] };
}

function reasonOf(signal: AbortSignal): string {
  const r = signal.reason;
  return r instanceof Error ? r.message : typeof r === "string" ? r : "stopped";
}
