/**
 * The scheduler's health and metrics, on METRICS_PORT:
 *
 *   GET /healthz   200 "ok" while the process is alive and its last run did not fail;
 *                  503 with the reason otherwise (a failed last run, or stopping)
 *   GET /metrics   Prometheus text exposition (prom-client): runs by job and verdict,
 *                  stage runs, files and bytes fetched, retries, errors, stage durations,
 *                  the last successful run per stage, lake freshness per DAC, and
 *                  compaction health (staging files not folded, the live list's
 *                  commit, segments, files waiting for GC)
 *
 * Every count comes from the runner's records (it observes each stage and
 * run as it ends), so /metrics agrees with runs/ by construction.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Registry } from "prom-client";
import type { Logger } from "../log.ts";
import type { RunObserver } from "../runner.ts";
import { STAGE_NAMES, stageDef, VERDICTS } from "../stages.ts";
import type { JobName, RunRecord, StageResult } from "./runs.ts";
import type { CompactionStatus } from "./status.ts";

/** Per DAC: the newest date_update landed and the newest in the cached index (epoch seconds; null when unknown). */
export interface DacFreshnessPoint {
  dac: string;
  landed: number | null;
  index: number | null;
}

/** The metrics of one scheduler process, fed by the runner. */
export class SchedulerMetrics implements RunObserver {
  readonly registry = new Registry();
  private lastRun: RunRecord | null = null;
  private stopping = false;
  private readonly runs = new Counter({ name: "argo_lake_runs_total", help: "Runs by job and verdict", labelNames: ["job", "verdict"], registers: [this.registry] });
  private readonly stageRuns = new Counter({
    name: "argo_lake_stage_runs_total",
    help: "Stage runs by stage and verdict",
    labelNames: ["stage", "verdict"],
    registers: [this.registry],
  });
  private readonly files = new Counter({ name: "argo_lake_files_fetched_total", help: "Files downloaded from the GDAC", registers: [this.registry] });
  private readonly bytes = new Counter({ name: "argo_lake_bytes_fetched_total", help: "Bytes downloaded from the GDAC", registers: [this.registry] });
  private readonly retries = new Counter({ name: "argo_lake_retries_total", help: "HTTP requests retried", registers: [this.registry] });
  private readonly errors = new Counter({
    name: "argo_lake_errors_total",
    help: "Items (files, floats) that failed, by stage",
    labelNames: ["stage"],
    registers: [this.registry],
  });
  private readonly duration = new Counter({
    name: "argo_lake_stage_duration_seconds_total",
    help: "Time spent in each stage",
    labelNames: ["stage"],
    registers: [this.registry],
  });
  private readonly lastDuration = new Gauge({
    name: "argo_lake_stage_last_duration_seconds",
    help: "Duration of each stage's last run",
    labelNames: ["stage"],
    registers: [this.registry],
  });
  private readonly lastSuccess = new Gauge({
    name: "argo_lake_stage_last_success_timestamp_seconds",
    help: "End of each stage's last succeeded (or partial) run, Unix time",
    labelNames: ["stage"],
    registers: [this.registry],
  });
  private readonly lastRunEnd = new Gauge({
    name: "argo_lake_last_run_timestamp_seconds",
    help: "End of the last run of each job, Unix time",
    labelNames: ["job"],
    registers: [this.registry],
  });
  private readonly landed = new Gauge({
    name: "argo_lake_dac_newest_landed_timestamp_seconds",
    help: "Newest index date_update landed in the lake, per DAC, Unix time",
    labelNames: ["dac"],
    registers: [this.registry],
  });
  private readonly indexNewest = new Gauge({
    name: "argo_lake_dac_newest_index_timestamp_seconds",
    help: "Newest date_update in the cached GDAC index, per DAC, Unix time",
    labelNames: ["dac"],
    registers: [this.registry],
  });
  private readonly lag = new Gauge({
    name: "argo_lake_dac_lag_seconds",
    help: "Newest in the index minus newest landed, per DAC",
    labelNames: ["dac"],
    registers: [this.registry],
  });
  // The compaction gauges are registered once the lake has been read (absent before, and again while the live
  // list cannot be read): a 0 would claim an empty backlog nobody measured.
  private readonly stagingFiles = new Gauge({ name: "argo_lake_compaction_staging_files", help: "Staging files (one per float and partition) not yet folded into segments", registers: [] });
  private readonly stagingBytes = new Gauge({ name: "argo_lake_compaction_staging_bytes", help: "Bytes of the staging files not yet folded into segments", registers: [] });
  /** Modification time (ms) of the oldest staging file not folded; null when there is none. */
  private stagingOldestMs: number | null = null;
  private readonly stagingOldestAge: Gauge = new Gauge({
    name: "argo_lake_compaction_staging_oldest_age_seconds",
    help: "Age of the oldest staging file not yet folded, at scrape time (0 when none)",
    registers: [],
    collect: (): void => this.stagingOldestAge.set(this.stagingOldestMs === null ? 0 : Math.max(0, (Date.now() - this.stagingOldestMs) / 1000)),
  });
  private readonly behind = new Gauge({
    name: "argo_lake_compaction_behind",
    help: "1 when deno task status calls compaction behind (a staging file no compaction has looked at is older than STATUS_MAX_LAG)",
    registers: [],
  });
  private readonly commit = new Gauge({ name: "argo_lake_compaction_commit", help: "The live list's commit number (0: never compacted)", registers: [] });
  private readonly commitTime = new Gauge({
    name: "argo_lake_compaction_commit_timestamp_seconds",
    help: "When the live list was committed, Unix time (absent before the first compaction)",
    registers: [],
  });
  private readonly segments = new Gauge({ name: "argo_lake_compaction_segments", help: "Committed segments of every table", registers: [] });
  private readonly gcFiles = new Gauge({
    name: "argo_lake_compaction_gc_pending_files",
    help: "Files waiting for GC: folded staging files and tombstones, retired and orphan segments",
    registers: [],
  });
  private readonly gcBytes = new Gauge({ name: "argo_lake_compaction_gc_pending_bytes", help: "Bytes of the files waiting for GC", registers: [] });
  private readonly up = new Gauge({ name: "argo_lake_scheduler_up", help: "1 while the scheduler runs", registers: [this.registry] });

  constructor() {
    this.up.set(1);
    // Every series exists from the start at 0, so rate() and absent() work before the first run.
    for (const stage of STAGE_NAMES) {
      this.errors.inc({ stage }, 0);
      this.duration.inc({ stage }, 0);
      for (const verdict of VERDICTS) this.stageRuns.inc({ stage, verdict }, 0);
    }
    this.files.inc(0);
    this.bytes.inc(0);
    this.retries.inc(0);
  }

  stageFinished(_job: JobName, r: StageResult): void {
    this.stageRuns.inc({ stage: r.stage, verdict: r.verdict });
    if (r.duration_ms !== null) {
      this.duration.inc({ stage: r.stage }, r.duration_ms / 1000);
      this.lastDuration.set({ stage: r.stage }, r.duration_ms / 1000);
    }
    if ((r.verdict === "succeeded" || r.verdict === "partial") && r.finished_at) this.lastSuccess.set({ stage: r.stage }, Date.parse(r.finished_at) / 1000);
    if (r.stats !== null) {
      const parsed = stageDef(r.stage).stats.safeParse(r.stats);
      if (parsed.success) {
        const c = stageDef(r.stage).counters(parsed.data);
        this.files.inc(c.files_fetched);
        this.bytes.inc(c.bytes_fetched);
        this.retries.inc(c.retries);
        this.errors.inc({ stage: r.stage }, c.errors);
      }
    } else if (r.verdict === "failed") this.errors.inc({ stage: r.stage }, 1);
  }

  runFinished(record: RunRecord): void {
    this.runs.inc({ job: record.job, verdict: record.verdict });
    this.lastRunEnd.set({ job: record.job }, Date.parse(record.finished_at) / 1000);
    this.lastRun = record;
  }

  /** Sets the lake freshness gauges (the scheduler refreshes them after each run). */
  setFreshness(points: readonly DacFreshnessPoint[]): void {
    for (const p of points) {
      if (p.landed !== null) this.landed.set({ dac: p.dac }, p.landed);
      if (p.index !== null) this.indexNewest.set({ dac: p.dac }, p.index);
      if (p.landed !== null && p.index !== null) this.lag.set({ dac: p.dac }, Math.max(0, p.index - p.landed));
    }
  }

  /** Sets the compaction gauges (refreshed with the freshness); null (the live list unreadable) removes them, so no stale value stays. */
  setCompaction(c: CompactionStatus | null): void {
    const show = (g: Gauge, value: number | null) => {
      const name = (g as unknown as { name: string }).name;
      const shown = this.registry.getSingleMetric(name) !== undefined;
      if (value === null) {
        if (shown) this.registry.removeSingleMetric(name);
        return;
      }
      if (!shown) this.registry.registerMetric(g);
      g.set(value);
    };
    this.stagingOldestMs = c?.staging.oldest_at ? Date.parse(c.staging.oldest_at) : null;
    show(this.stagingFiles, c?.staging.files ?? null);
    show(this.stagingBytes, c?.staging.bytes ?? null);
    show(this.stagingOldestAge, c ? 0 : null); // its value is computed at scrape time
    show(this.behind, c ? Number(c.behind) : null);
    show(this.commit, c?.commit ?? null);
    show(this.commitTime, c?.committed_at ? Date.parse(c.committed_at) / 1000 : null);
    show(this.segments, c?.segments ?? null);
    show(this.gcFiles, c?.gc_pending.files ?? null);
    show(this.gcBytes, c?.gc_pending.bytes ?? null);
  }

  /** The scheduler is shutting down: /healthz answers 503 from now on. */
  markStopping(): void {
    this.stopping = true;
    this.up.set(0);
  }

  /** The health answer: healthy unless stopping or the last run failed. */
  health(): { healthy: boolean; reason: string } {
    if (this.stopping) return { healthy: false, reason: "stopping" };
    if (this.lastRun?.verdict === "failed") return { healthy: false, reason: `last run ${this.lastRun.run_id} (${this.lastRun.job}) failed: ${this.lastRun.error ?? ""}` };
    return { healthy: true, reason: this.lastRun ? `last run ${this.lastRun.run_id} (${this.lastRun.job}) ${this.lastRun.verdict}` : "no run yet" };
  }
}

/** Serves /healthz and /metrics on `port` (0: any free port) on every interface; resolves once listening. */
export async function serveMetrics(metrics: SchedulerMetrics, port: number, log: Logger): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      const h = metrics.health();
      res.writeHead(h.healthy ? 200 : 503, { "content-type": "text/plain; charset=utf-8" }).end(`${h.healthy ? "ok" : "unhealthy"}: ${h.reason}\n`);
      return;
    }
    if (path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (err) => res.writeHead(500, { "content-type": "text/plain" }).end(String((err as Error).message)),
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /healthz or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  log.info("health and metrics served", { port: actual, paths: ["/healthz", "/metrics"] });
  return {
    port: actual,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
