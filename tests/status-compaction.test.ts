/**
 * Compaction health in `deno task status --json` and the scheduler's
 * /metrics, on a real lake: fixture floats synced and parsed by the real jobs,
 * compacted by the real compact job (run by the scheduler on COMPACT_CRON,
 * /metrics scraped with an independent Prometheus text parser). Expected
 * figures come from a listing of the lake's files read through
 * lib/lake/layout.ts's key parsers and from the live list, not from status.
 */
import { mkdir, readdir, readFile, rm, stat, utimes } from "node:fs/promises";
import { createServer } from "node:net";
import { join, relative, sep } from "node:path";
import parsePrometheusTextFormat, { type PromFamily } from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIVE_KEY, parseTableFileKey, stateKey } from "../lib/lake/layout.ts";
import { type LiveList, LiveListSchema } from "../lib/lake/live.ts";
import { TABLES } from "../lake/schema.ts";
import { fixturesDir, tempDir, type TempDir } from "./support/fixtures.ts";
import { runJobProcess, spawnJobProcess } from "./support/jobs.ts";

const FLOATS = "13857,5900446,2902696"; // two aoml floats, one csio
const HOUR = 3_600_000;
let work: TempDir;
let lake: string;

const env = (extra: Record<string, string> = {}) => ({ GDAC_BASE_URL: fixturesDir, LAKE_URL: lake, FLOAT_IDS: FLOATS, LOG_FORMAT: "json", ...extra });

interface Listed {
  key: string;
  size: number;
  mtimeMs: number;
}

/** Every file of the lake, as lake keys. */
async function listLake(): Promise<Listed[]> {
  const out: Listed[] = [];
  for (const name of await readdir(lake, { recursive: true })) {
    const path = join(lake, name);
    const s = await stat(path);
    if (s.isFile()) out.push({ key: relative(lake, path).split(sep).join("/"), size: s.size, mtimeMs: s.mtime.getTime() });
  }
  return out;
}

const readLive = async (): Promise<LiveList> => LiveListSchema.parse(JSON.parse(await readFile(join(lake, LIVE_KEY), "utf8")));

/** Staging files not folded: table files the live list does not name as folded (same size and mtime), if it exists. */
async function unfoldedStaging(): Promise<Listed[]> {
  const live = await readLive().catch(() => null);
  const folded = new Set((live?.folded ?? []).map((f) => `${f.key} ${f.size} ${Date.parse(f.modified)}`));
  return (await listLake()).filter((o) => parseTableFileKey(o.key) !== null && !folded.has(`${o.key} ${o.size} ${o.mtimeMs}`));
}

// deno-lint-ignore no-explicit-any
async function status(extra: Record<string, string> = {}): Promise<{ code: number | null; body: Record<string, any> }> {
  const r = await runJobProcess("status", ["--json"], { env: env(extra) });
  expect(r.stdout, r.stderr.slice(-1500)).not.toBe("");
  return { code: r.code, body: JSON.parse(r.stdout) };
}

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A cron (with seconds) that fires `inS` seconds from now, once a minute. */
const cronIn = (inS: number) => `${(new Date().getUTCSeconds() + inS) % 60} * * * * *`;

/** The value of one sample; undefined when the family or the sample is absent. */
function sample(families: PromFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.find((x) => x.name === name);
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m?.value === undefined ? undefined : Number(m.value);
}

async function scrapeUntil(port: number, ok: (f: PromFamily[]) => boolean, timeoutMs: number): Promise<PromFamily[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const families = parsePrometheusTextFormat(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    if (ok(families) || Date.now() > end) return families;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  work = await tempDir("status-compaction");
  lake = join(work.path, "lake");
  await mkdir(lake);
  for (const job of ["sync", "parse"]) {
    const r = await runJobProcess(job, [], { env: env(), timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
  }
}, 240_000);
afterAll(async () => {
  await work?.cleanup();
});

describe("compaction health", () => {
  it("before compaction: status counts the staging files a listing finds; an old one no compaction has seen makes it exit 1", async () => {
    const staging = await unfoldedStaging();
    expect(staging.length).toBeGreaterThan(3); // several tables and years per float
    const s = await status();
    expect(s.code, JSON.stringify(s.body.problems)).toBe(0);
    const oldest = Math.min(...staging.map((o) => o.mtimeMs));
    expect(s.body.compaction).toMatchObject({
      commit: 0,
      committed_at: null,
      segments: 0,
      segment_bytes: 0,
      staging: { files: staging.length, bytes: staging.reduce((a, o) => a + o.size, 0), oldest_at: new Date(oldest).toISOString() },
      unseen: { files: staging.length },
      last_compaction_at: null,
      gc_pending: { files: 0, bytes: 0 },
      tombstones: 0,
      behind: false,
    });

    // One staging file written two days ago, and no compaction has ever run: a stopped compaction.
    const old = new Date(Date.now() - 48 * HOUR);
    await utimes(join(lake, staging[0]!.key), old, old);
    const late = await status();
    expect(late.code).toBe(1);
    expect(late.body.compaction.behind).toBe(true);
    expect(late.body.compaction.staging.oldest_age_h).toBeCloseTo(48, 0);
    expect(late.body.problems.join("\n")).toMatch(/compaction is behind: \d+ staging file\(s\) not folded since ever \(no compaction on record\), the oldest written 48 h ago \(limit 24 h\)/);
    // The same lake under a looser limit is healthy: the threshold is STATUS_MAX_LAG.
    expect((await status({ STATUS_MAX_LAG: "72" })).code).toBe(0);
  }, 120_000);

  it("the scheduler's /metrics shows the backlog at start and, after its compact job, 0 staging files, the commit, segments and files waiting for GC", async () => {
    const expected = await unfoldedStaging();
    const port = await freePort();
    const never = "0 0 1 1 *";
    const proc = spawnJobProcess("schedule", [], {
      env: env({ METRICS_PORT: String(port), SYNC_CRON: never, PARSE_CRON: never, LOAD_CRON: never, COMPACT_CRON: cronIn(12) }),
      timeoutMs: 120_000,
    });
    try {
      await proc.waitFor(/"msg":"health and metrics served"/, "stderr", 60_000);
      const before = await scrapeUntil(port, (f) => sample(f, "argo_lake_compaction_staging_files") !== undefined, 30_000);
      expect(sample(before, "argo_lake_compaction_staging_files")).toBe(expected.length);
      expect(sample(before, "argo_lake_compaction_staging_bytes")).toBe(expected.reduce((a, o) => a + o.size, 0));
      expect(sample(before, "argo_lake_compaction_staging_oldest_age_seconds")! / 3600).toBeCloseTo(48, 0);
      expect(sample(before, "argo_lake_compaction_behind")).toBe(1);
      expect(sample(before, "argo_lake_compaction_commit")).toBe(0);
      expect(sample(before, "argo_lake_compaction_commit_timestamp_seconds")).toBeUndefined();

      await proc.waitFor(/"msg":"run (succeeded|partial|failed|skipped)"/, "stderr", 90_000);
      const after = await scrapeUntil(port, (f) => sample(f, "argo_lake_compaction_commit") === 1, 30_000);
      const live = await readLive();
      expect(live.commit).toBe(1);
      const segments = TABLES.flatMap((t) => live.tables[t]);
      expect(segments.length).toBeGreaterThan(0);
      expect(sample(after, "argo_lake_runs_total", { job: "compact", verdict: "succeeded" })).toBe(1);
      expect(sample(after, "argo_lake_compaction_commit")).toBe(1);
      expect(sample(after, "argo_lake_compaction_commit_timestamp_seconds")).toBe(Date.parse(live.committed_at!) / 1000);
      expect(sample(after, "argo_lake_compaction_segments")).toBe(segments.length);
      expect(sample(after, "argo_lake_compaction_staging_files")).toBe(0);
      expect(sample(after, "argo_lake_compaction_staging_bytes")).toBe(0);
      expect(sample(after, "argo_lake_compaction_staging_oldest_age_seconds")).toBe(0);
      expect(sample(after, "argo_lake_compaction_behind")).toBe(0);
      // Every staging file was folded and is still there (COMPACT_GRACE 600 s): all wait for GC.
      expect(live.folded.map((f) => f.key).sort()).toEqual(expected.map((o) => o.key).sort());
      expect(sample(after, "argo_lake_compaction_gc_pending_files")).toBe(expected.length);
      expect(sample(after, "argo_lake_compaction_gc_pending_bytes")).toBe(expected.reduce((a, o) => a + o.size, 0));
    } finally {
      proc.kill("SIGTERM");
    }
    const result = await proc.done;
    expect(result.code, result.stderr.slice(-2000)).toBe(0);

    const live = await readLive();
    const s = await status();
    expect(s.code, JSON.stringify(s.body.problems)).toBe(0);
    expect(s.body.compaction).toMatchObject({
      commit: 1,
      committed_at: live.committed_at,
      segments: TABLES.flatMap((t) => live.tables[t]).length,
      staging: { files: 0, bytes: 0, oldest_at: null },
      unseen: { files: 0 },
      gc_pending: { files: expected.length },
      behind: false,
    });
  }, 180_000);

  it("staging files a compaction looked at and left to COMPACT_MIN_SHARE are shown, but are the policy, not a stopped compaction", async () => {
    // 13857 loses its parse state: parse writes its staging files again (they supersede its segment rows).
    await rm(join(lake, stateKey("aoml", "13857")));
    const parse = await runJobProcess("parse", [], { env: env(), timeoutMs: 120_000 });
    expect(parse.code, parse.stderr.slice(-1500)).toBe(0);
    const restaged = await unfoldedStaging();
    expect(restaged.length).toBeGreaterThan(0);
    expect(restaged.filter((o) => parseTableFileKey(o.key)!.wmo !== "13857")).toEqual([]);
    // Under a limit of 3.6 s, and with no compaction since they were written, they are a compaction behind...
    await new Promise((r) => setTimeout(r, 4_000));
    const tight = { STATUS_MAX_LAG: "0.001" };
    const unseen = await status(tight);
    expect(unseen.body.compaction).toMatchObject({ unseen: { files: restaged.length }, behind: true });
    expect(unseen.body.problems.join("\n")).toMatch(/compaction is behind: \d+ staging file\(s\) not folded since the last compaction looked/);
    // ...until a compaction looks at them and its policy finds nothing due: then they wait by COMPACT_MIN_SHARE.
    const compact = await runJobProcess("compact", [], { env: env({ COMPACT_MIN_SHARE: "1000" }), timeoutMs: 120_000 });
    expect(compact.code, compact.stderr.slice(-1500)).toBe(0);
    expect(compact.stderr).toMatch(/nothing worth compacting yet/);
    expect((await readLive()).commit).toBe(1);
    const seen = await status(tight);
    expect(seen.body.compaction).toMatchObject({ staging: { files: restaged.length }, unseen: { files: 0 }, behind: false });
    expect(seen.body.problems.join("\n")).not.toMatch(/compaction/);
    // Written two days ago, then: older than STATUS_MAX_LAG, but a compaction has looked since.
    const old = new Date(Date.now() - 48 * HOUR);
    for (const o of restaged) await utimes(join(lake, o.key), old, old);
    const s = await status();
    expect(s.code, JSON.stringify(s.body.problems)).toBe(0);
    expect(s.body.compaction).toMatchObject({
      commit: 1,
      staging: { files: restaged.length, bytes: restaged.reduce((a, o) => a + o.size, 0) },
      unseen: { files: 0, oldest_at: null },
      behind: false,
    });
    expect(s.body.compaction.staging.oldest_age_h).toBeCloseTo(48, 0);
  }, 180_000);
});
