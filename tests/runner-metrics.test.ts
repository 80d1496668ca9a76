/**
 * The scheduler's /healthz and /metrics, scraped while a scheduled cycle
 * runs: the exposition is read with an independent Prometheus text parser
 * (parse-prometheus-text-format), and its counts equal the run records the
 * lake holds. A cycle that fails turns /healthz to 503.
 */
import { mkdir, readdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import parsePrometheusTextFormat, { type PromFamily } from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunRecord, RunRecordSchema } from "../lib/schedule/runs.ts";
import { fixturesDir, tempDir, type TempDir } from "./support/fixtures.ts";
import { spawnJobProcess } from "./support/jobs.ts";

let work: TempDir;
beforeAll(async () => {
  work = await tempDir("metrics");
});
afterAll(async () => {
  await work?.cleanup();
});

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A cron (with seconds) that fires `inS` seconds from now, once a minute. */
function cronIn(inS: number): string {
  return `${(new Date().getUTCSeconds() + inS) % 60} * * * * *`;
}

async function records(lake: string): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for (const day of await readdir(join(lake, "runs")).catch(() => [] as string[])) {
    if (day.startsWith("latest")) continue;
    for (const f of await readdir(join(lake, "runs", day))) out.push(RunRecordSchema.parse(JSON.parse(await readFile(join(lake, "runs", day, f), "utf8"))));
  }
  return out;
}

/** The value of one sample of a family, matched by labels (0 when the family has no such sample). */
function sample(families: PromFamily[], name: string, labels: Record<string, string> = {}): number {
  const f = families.find((x) => x.name === name);
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m?.value === undefined ? 0 : Number(m.value);
}

const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, type: r.headers.get("content-type"), text: await r.text() };
};

describe("the scheduler's health and metrics", () => {
  it("serves /healthz and Prometheus /metrics during a scheduled cycle; the counts equal the run records", async () => {
    const lake = join(work.path, "lake");
    await mkdir(lake);
    const port = await freePort();
    const proc = spawnJobProcess("schedule", [], {
      env: {
        GDAC_BASE_URL: fixturesDir,
        LAKE_URL: lake,
        FLOAT_IDS: "13857,2902696",
        SCHEDULE_CRON: cronIn(4),
        METRICS_PORT: String(port),
        LOG_FORMAT: "json",
      },
      timeoutMs: 120_000,
    });
    try {
      await proc.waitFor(/"msg":"health and metrics served"/, "stderr", 60_000);
      const before = await get(port, "/healthz");
      expect(before.status).toBe(200);
      expect(before.text).toMatch(/^ok: no run yet/);
      await proc.waitFor(/"msg":"run started"/, "stderr", 70_000);
      // Scraped while the cycle runs: alive, and the exposition parses.
      const during = await get(port, "/metrics");
      expect(during.status).toBe(200);
      expect(during.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(parsePrometheusTextFormat(during.text).some((f) => f.name === "argo_lake_scheduler_up")).toBe(true);
      expect((await get(port, "/healthz")).status).toBe(200);
      await proc.waitFor(/"msg":"run (succeeded|partial|failed|skipped)"/, "stderr", 90_000);
      // Freshness gauges are set just after the run; give them a moment.
      let families: PromFamily[] = [];
      for (let i = 0; i < 50; i++) {
        families = parsePrometheusTextFormat((await get(port, "/metrics")).text);
        if (sample(families, "argo_lake_dac_newest_landed_timestamp_seconds", { dac: "aoml" }) > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const runs = await records(lake);
      expect(runs).toHaveLength(1);
      const run = runs[0];
      expect(run.job).toBe("cycle");
      expect(run.trigger).toBe("schedule");
      expect(run.verdict).toBe("succeeded");

      expect(sample(families, "argo_lake_runs_total", { job: "cycle", verdict: run.verdict })).toBe(1);
      for (const s of run.stages) {
        expect(sample(families, "argo_lake_stage_runs_total", { stage: s.stage, verdict: s.verdict }), s.stage).toBe(1);
        expect(sample(families, "argo_lake_stage_last_duration_seconds", { stage: s.stage })).toBeCloseTo((s.duration_ms ?? 0) / 1000, 3);
      }
      const sync = run.stages[0].stats as { files_downloaded: number; bytes_downloaded: number; retries: number; errors: number };
      expect(sync.files_downloaded).toBeGreaterThan(0);
      expect(sample(families, "argo_lake_files_fetched_total")).toBe(sync.files_downloaded);
      expect(sample(families, "argo_lake_bytes_fetched_total")).toBe(sync.bytes_downloaded);
      expect(sample(families, "argo_lake_retries_total")).toBe(sync.retries);
      expect(sample(families, "argo_lake_errors_total", { stage: "sync" })).toBe(sync.errors);
      expect(sample(families, "argo_lake_stage_last_success_timestamp_seconds", { stage: "parse" })).toBe(Date.parse(run.stages[1].finished_at!) / 1000);
      expect(sample(families, "argo_lake_last_run_timestamp_seconds", { job: "cycle" })).toBe(Date.parse(run.finished_at) / 1000);
      // Freshness: the newest date_update landed for aoml is 13857's newest (2018-10-11T20:00:14Z), as in the index.
      expect(sample(families, "argo_lake_dac_newest_landed_timestamp_seconds", { dac: "aoml" })).toBe(Date.parse("2018-10-11T20:00:14Z") / 1000);
      expect(sample(families, "argo_lake_dac_lag_seconds", { dac: "aoml" })).toBe(0);
      expect((await get(port, "/healthz")).status).toBe(200);
      expect((await get(port, "/nope")).status).toBe(404);
    } finally {
      proc.kill("SIGTERM");
    }
    const result = await proc.done;
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
  }, 150_000);

  it("answers 503 on /healthz once a scheduled cycle has failed (a lake that does not exist)", async () => {
    const port = await freePort();
    const missing = join(work.path, "no-such-lake");
    const proc = spawnJobProcess("schedule", [], {
      env: { GDAC_BASE_URL: fixturesDir, LAKE_URL: missing, FLOAT_IDS: "13857", SCHEDULE_CRON: cronIn(3), METRICS_PORT: String(port), LOG_FORMAT: "json" },
      timeoutMs: 120_000,
    });
    try {
      await proc.waitFor(/"msg":"run failed"/, "stderr", 90_000);
      const h = await get(port, "/healthz");
      expect(h.status).toBe(503);
      expect(h.text).toMatch(/^unhealthy: last run .* \(cycle\) failed: .*the lake .*no-such-lake does not exist/);
      const families = parsePrometheusTextFormat((await get(port, "/metrics")).text);
      expect(sample(families, "argo_lake_runs_total", { job: "cycle", verdict: "failed" })).toBe(1);
      expect(sample(families, "argo_lake_stage_runs_total", { stage: "sync", verdict: "failed" })).toBe(1);
      expect(sample(families, "argo_lake_stage_runs_total", { stage: "parse", verdict: "skipped" })).toBe(1);
    } finally {
      proc.kill("SIGTERM");
    }
    expect((await proc.done).code).toBe(0);
  }, 150_000);
});
