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
import { exitCodeOfOutcome, type RunOutcome, scopeOf } from "../runner.ts";
import { lakeStatus } from "./status.ts";
import { SchedulerMetrics, serveMetrics } from "./metrics.ts";
import type { JobName } from "./runs.ts";
import { Scheduler, scheduleEntries } from "./scheduler.ts";
import { parseShard } from "./shard.ts";

export interface ServeOptions {
  config: Config;
  log: Logger;
  env: Record<string, string | undefined>;
  /** Run `job` once and return, instead of running the timers. */
  once?: { job: JobName };
  /** Receives the outcome of a `--once` run (to print it). */
  onOutcome?: (outcome: RunOutcome) => void;
}

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

const seconds = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso) / 1000);

/**
 * Runs the scheduler until a signal (or one run with `once`). Returns the
 * exit code: with `once`, the run's (0 succeeded or skipped, 1 partial or
 * failed, a run stopped by a signal included); otherwise 0 once stopped.
 */
export async function serveSchedule(opts: ServeOptions): Promise<0 | 1> {
  const { config, log } = opts;
  const shard = parseShard(config.SHARD, opts.env);
  const store = openLake(config);
  const scope = scopeOf(shard);
  const lock = openRunLock(config, store, scope, { log });
  const metrics = config.METRICS_PORT !== undefined ? new SchedulerMetrics() : null;
  // The lake's freshness and compaction health are read from the lake at start and after each run, not on every
  // scrape; a read that ends after a later one started is dropped, so an older snapshot never wins.
  let reads = 0;
  let shown = 0;
  const refreshLake = (m: SchedulerMetrics) => {
    const n = ++reads;
    return lakeStatus(config, store, log).then(
      (s) => {
        if (n < shown) return;
        shown = n;
        m.setFreshness(s.freshness.map((d) => ({ dac: d.dac, landed: seconds(d.newest_landed), index: seconds(d.newest_in_index) })));
        m.setCompaction(s.compaction);
      },
      (err) => log.warn("cannot read the lake's status for /metrics", { error: (err as Error).message }),
    );
  };
  const scheduler = new Scheduler({
    config,
    store,
    log,
    shard,
    lock,
    observer: metrics ? {
      stageFinished: (job, r) => metrics.stageFinished(job, r),
      runFinished: (record) => {
        metrics.runFinished(record);
        void refreshLake(metrics);
      },
    } : undefined,
  });
  const server = metrics ? await serveMetrics(metrics, config.METRICS_PORT!, log) : null;
  if (metrics) void refreshLake(metrics);
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
    metrics?.markStopping();
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
        log.warn("stopped at the deadline with the run still going: it is not finished (exit 1)");
        return 1;
      }
      opts.onOutcome?.(outcome);
      if (!outcome.ran) log.info("nothing run", { reason: outcome.reason });
      return exitCodeOfOutcome(outcome);
    }
    scheduler.start(scheduleEntries(config));
    const result = await stopOn;
    log.info(result.clean ? "stopped" : "stopped at the deadline with a run still going", { counts: scheduler.counts });
    return 0;
  } finally {
    for (const [name, h] of handlers) process.off(name, h);
    await server?.close();
    await store.close();
  }
}
