/**
 * The scheduler as a process: timers until SIGTERM or SIGINT, or one run with
 * `--once`. On a signal it starts no new file (the stages get an abort
 * signal), lets the run in progress end or drops it at SHUTDOWN_TIMEOUT
 * (writes are atomic either way), releases the lock and returns 0.
 */
import process from "node:process";
import type { Config } from "../config.ts";
import { openLake } from "../lake/open.ts";
import type { Logger } from "../log.ts";
import { openRunLock } from "./lock.ts";
import { type RunOutcome, scopeOf, type StageRegistry } from "./run.ts";
import type { JobName } from "./runs.ts";
import { Scheduler, scheduleEntries } from "./scheduler.ts";
import { parseShard } from "./shard.ts";

export interface ServeOptions {
  config: Config;
  log: Logger;
  env: Record<string, string | undefined>;
  stages: StageRegistry;
  /** Run `job` once and return, instead of running the timers. */
  once?: { job: JobName };
  /** Receives the outcome of a `--once` run (to print it). */
  onOutcome?: (outcome: RunOutcome) => void;
}

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * Runs the scheduler until a signal (or one run with `once`). Returns the
 * exit code: 0, or 1 when a `--once` run failed.
 */
export async function serveSchedule(opts: ServeOptions): Promise<0 | 1> {
  const { config, log } = opts;
  const shard = parseShard(config.SHARD, opts.env);
  const store = openLake(config);
  const scope = scopeOf(shard);
  const lock = openRunLock(config, store, scope, { log });
  const scheduler = new Scheduler({ config, store, log, stages: opts.stages, shard, lock });
  const timeoutMs = config.SHUTDOWN_TIMEOUT * 1000;

  let signalled: (name: string) => void = () => {};
  const gotSignal = new Promise<string>((r) => (signalled = r));
  const handlers = SIGNALS.map((name) => {
    const h = () => {
      if (scheduler.isStopping) {
        // A second signal: the operator does not want to wait for the deadline.
        log.warn("second signal: exiting now", { signal: name });
        process.exit(1);
      }
      signalled(name);
    };
    process.on(name, h);
    return [name, h] as const;
  });
  const stopOn = gotSignal.then(async (name) => {
    log.info("stopping", { signal: name, timeout_s: config.SHUTDOWN_TIMEOUT });
    return await scheduler.stop(timeoutMs, `stopped by ${name}`);
  });

  try {
    log.info("scheduler starting", {
      lake: store.description,
      scope,
      lock: lock.description,
      mode: opts.once ? `once:${opts.once.job}` : config.SCHEDULE_CRON ? "cycle" : "per-stage",
    });
    if (opts.once) {
      const run = scheduler.run(opts.once.job, "once");
      // A signal ends the wait at the deadline even if the run has not stopped by then.
      const outcome = await Promise.race([run, stopOn.then((r) => (r.clean ? run : null))]);
      if (outcome === null) {
        log.warn("stopped at the deadline with the run still going");
        return 0;
      }
      opts.onOutcome?.(outcome);
      if (!outcome.ran) log.info("nothing run", { reason: outcome.reason });
      return outcome.ran && outcome.record.status === "failed" ? 1 : 0;
    }
    scheduler.start(scheduleEntries(config));
    const result = await stopOn;
    log.info(result.clean ? "stopped" : "stopped at the deadline with a run still going", { counts: scheduler.counts });
    return 0;
  } finally {
    for (const [name, h] of handlers) process.off(name, h);
    await store.close();
  }
}
