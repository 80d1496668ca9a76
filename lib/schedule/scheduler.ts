/**
 * The long-running scheduler: croner timers (UTC) that start runs, one run at
 * a time in this process, one at a time across processes through the run
 * lock, and a bounded graceful stop.
 *
 * Two ways to schedule, chosen by the config:
 * - SCHEDULE_CRON set: one "cycle" job (sync, parse, load) on it, and the
 *   compact job on COMPACT_CRON;
 * - otherwise sync on SYNC_CRON, parse on PARSE_CRON, compact on
 *   COMPACT_CRON, load on LOAD_CRON.
 *
 * A tick that finds its own job still running is skipped (croner's
 * `protect`). A tick that finds another job of this process running waits for
 * it and then runs (at most one waits per job, since it counts as busy while
 * waiting), so a long sync delays the parse that follows it instead of
 * dropping it. A tick whose lock is held by another process is skipped.
 */
import { Cron } from "croner";
import type { Config } from "../config.ts";
import { executeRun, type RunContext, type RunOutcome } from "../runner.ts";
import type { JobName } from "./runs.ts";

/** One timer: a job and its cron pattern (UTC; 5 fields, or 6 with seconds first). */
export interface ScheduleEntry {
  job: JobName;
  cron: string;
}

/** The timers a config asks for. */
export function scheduleEntries(config: Config): ScheduleEntry[] {
  if (config.SCHEDULE_CRON) return [{ job: "cycle", cron: config.SCHEDULE_CRON }, { job: "compact", cron: config.COMPACT_CRON }];
  return [
    { job: "sync", cron: config.SYNC_CRON },
    { job: "parse", cron: config.PARSE_CRON },
    { job: "compact", cron: config.COMPACT_CRON },
    { job: "load", cron: config.LOAD_CRON },
  ];
}

/** Counters since start, for logs and tests. */
export interface SchedulerCounts {
  /** Runs that took the lock and ran (any status). */
  runs: number;
  /** Ticks dropped because the same job was still running here. */
  skippedBusy: number;
  /** Ticks dropped because another process held the lock. */
  skippedLocked: number;
  /** Ticks that failed before running (e.g. the lock's database unreachable). */
  errors: number;
}

/** How `stop` ended: every run finished in time, or some were still going. */
export interface StopResult {
  clean: boolean;
}

export class Scheduler {
  readonly counts: SchedulerCounts = { runs: 0, skippedBusy: 0, skippedLocked: 0, errors: 0 };
  private readonly timers: Cron[] = [];
  private readonly stopping = new AbortController();
  /** The chain every run waits its turn on: one run at a time in this process. */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly ctx: RunContext) {}

  /** True once stop() was called. */
  get isStopping(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Starts the timers. */
  start(entries: ScheduleEntry[]): void {
    for (const entry of entries) {
      const timer = new Cron(entry.cron, {
        timezone: "UTC",
        protect: () => {
          this.counts.skippedBusy++;
          this.ctx.log.warn("tick skipped: the previous run of this job is still going", { job: entry.job, cron: entry.cron });
        },
      }, () => this.tick(entry.job));
      this.timers.push(timer);
      this.ctx.log.info("scheduled", { job: entry.job, cron: entry.cron, next_run: timer.nextRun()?.toISOString() ?? null });
    }
  }

  private async tick(job: JobName): Promise<void> {
    try {
      await this.run(job, "schedule");
    } catch (err) {
      this.counts.errors++;
      this.ctx.log.error("tick failed before running", { job, error: (err as Error).message });
    }
  }

  /**
   * Runs a job now, after any run of this process in progress. Used by the
   * timers and by `--once`. Never overlaps another run of this process.
   */
  run(job: JobName, trigger: "schedule" | "once"): Promise<RunOutcome> {
    const mine = this.turn.then(async (): Promise<RunOutcome> => {
      if (this.isStopping) return { ran: false, reason: "stopping" };
      const outcome = await executeRun(this.ctx, { job, trigger, signal: this.stopping.signal });
      if (outcome.ran) this.counts.runs++;
      else if (outcome.reason !== "stopping") {
        this.counts.skippedLocked++;
        this.ctx.log.info("tick skipped: another process holds the lock", { job, reason: outcome.reason });
      }
      return outcome;
    });
    // The next run waits for this one whether it succeeds or throws.
    this.turn = mine.catch(() => {});
    this.inFlight.add(mine);
    mine.finally(() => this.inFlight.delete(mine)).catch(() => {});
    return mine;
  }

  /**
   * Stops: no new tick, the run in progress is told to stop (abort signal),
   * runs waiting their turn are dropped, and this resolves when all are done
   * or after `timeoutMs`, whichever is first. The run releases its own lock
   * when it ends; after a timeout, stop releases it, and the caller exits.
   */
  async stop(timeoutMs: number, reason = "shutdown"): Promise<StopResult> {
    for (const t of this.timers) t.stop();
    if (!this.isStopping) this.stopping.abort(new Error(reason));
    const all = Promise.allSettled([...this.inFlight]).then(() => true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const clean = await Promise.race([all, late]);
    clearTimeout(timer);
    if (!clean && this.ctx.lock) {
      // The run did not stop in time and the process is about to exit: hand the lock back now
      // rather than leave a lake lock to expire (its writes are atomic, so dropping them is safe).
      this.ctx.log.warn("run still going at the shutdown deadline; releasing its lock", { timeout_ms: timeoutMs });
      await this.ctx.lock.release().catch((err) => this.ctx.log.error("cannot release the run lock", { error: (err as Error).message }));
    }
    return { clean };
  }
}
