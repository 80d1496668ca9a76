/**
 * A Lambda-style entry point, as the original system ran: `handler(event)`
 * runs one job with the event's overrides and returns its run record.
 *
 * Event (every field optional):
 *   {
 *     "job": "cycle" | "sync" | "parse" | "load" | "run-float" | "run-batch",   // default "cycle"
 *     "config": { "ARGO_DAC": "aoml", "LAKE_URL": "s3://bucket/lake", ... },
 *     "floatIds": ["2902224"],          // or "float_id": "2902224" as the original workers took
 *     "shard": "0/4"                    // or "auto/4"; default SHARD from the config
 *   }
 *
 * Configuration is the process environment (and .env) with the event's
 * `config` values on top. The run takes the scope's lock like the scheduler,
 * except run-float, which touches only the floats named (atomic writes make it
 * safe next to a cycle); when the lock is held elsewhere the result is
 * `{ verdict: "skipped" }`. The run goes through the one runner (lib/runner.ts),
 * so its verdict is the jobs' and the scheduler's: a partial or failed run
 * (exit code 1 anywhere else) is recorded, then thrown as a RunVerdictError
 * carrying the record, so Lambda counts it as an error (and retries it if so
 * configured).
 */
import process from "node:process";
import { z } from "zod";
import { describeError } from "./cli.ts";
import { type ConfigKey, configKeys, loadConfig, secretsOf } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { openLake } from "./lake/open.ts";
import { createLogger } from "./log.ts";
import { openRunLock } from "./schedule/lock.ts";
import { executeRun, RunVerdictError, scopeOf } from "./runner.ts";
import { JOB_NAMES, type RunRecord } from "./schedule/runs.ts";
import { parseShard } from "./schedule/shard.ts";

/** The event a handler call takes. */
export const HandlerEventSchema = z.object({
  job: z.enum(JOB_NAMES).default("cycle"),
  config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  floatIds: z.array(z.union([z.string(), z.number()])).optional(),
  float_id: z.union([z.string(), z.number()]).optional(),
  shard: z.string().optional(),
}).strict();
export type HandlerEvent = z.input<typeof HandlerEventSchema>;

/** What a handler call returns: the run record, or why nothing ran. */
export type HandlerResult = RunRecord | { verdict: "skipped"; job: string; scope: string; reason: string };

/** The parts of a Lambda context the handler uses. */
export interface HandlerContext {
  /** Milliseconds before Lambda kills the call; the run is told to stop SHUTDOWN_TIMEOUT before that. */
  getRemainingTimeInMillis?(): number;
}

/** For tests and embedders: the environment to read. */
export interface HandlerOptions {
  env?: Record<string, string | undefined>;
}

/**
 * Runs one job. Throws ConfigError for a bad event or config, and the run's
 * error (after recording it) when a stage failed.
 */
export async function handler(event: unknown = {}, context: HandlerContext = {}, opts: HandlerOptions = {}): Promise<HandlerResult> {
  const parsed = HandlerEventSchema.safeParse(event ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`bad handler event at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const ev = parsed.data;
  const env = opts.env ?? process.env;
  const overrides: Partial<Record<ConfigKey, string>> = {};
  for (const [k, v] of Object.entries(ev.config)) {
    if (!(configKeys as string[]).includes(k)) throw new ConfigError(`bad handler event: unknown config variable ${k}`);
    overrides[k as ConfigKey] = String(v);
  }
  const floatIds = [...(ev.floatIds ?? []), ...(ev.float_id !== undefined ? [ev.float_id] : [])].map(String);
  if (floatIds.length) overrides.FLOAT_IDS = floatIds.join(",");
  if (ev.shard !== undefined) overrides.SHARD = ev.shard;

  const config = loadConfig({ env, overrides });
  const log = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT ?? "json", secrets: secretsOf(config, env) });
  const shard = parseShard(config.SHARD, env);
  const store = openLake(config);
  const scope = scopeOf(shard);
  const stop = new AbortController();
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const remaining = context.getRemainingTimeInMillis?.();
  if (remaining !== undefined) {
    deadline = setTimeout(() => stop.abort(new Error("Lambda time limit near")), Math.max(0, remaining - config.SHUTDOWN_TIMEOUT * 1000));
  }
  try {
    const lock = ev.job === "run-float" ? null : openRunLock(config, store, scope, { log });
    const outcome = await executeRun(
      { config, store, log, shard, lock },
      { job: ev.job, trigger: "handler", floatIds: config.FLOAT_IDS, signal: stop.signal },
    );
    if (!outcome.ran) return { verdict: "skipped", job: ev.job, scope, reason: outcome.reason };
    if (outcome.record.exit_code !== 0) throw new RunVerdictError(outcome.record);
    return outcome.record;
  } catch (err) {
    log.error("handler failed", { job: ev.job, error: describeError(err) });
    throw err;
  } finally {
    clearTimeout(deadline);
    await store.close();
  }
}
