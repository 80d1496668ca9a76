/**
 * GDAC scale (issue 15): the real jobs, as child processes, on synthetic
 * mirrors of 500 and 5,000 floats and a 19,000-float GDAC-size lake: first
 * build, no-op and 1%-changed runs of sync, parse, compact and load, with
 * wall time, per-float cost and peak RSS, beside reference reads measured in
 * the same run.
 *
 *   npx tsx bench/scale.ts [--sizes 500,5000] [--gdac 19000|0] [--workers N] [--dir /tmp/bench-scale] [--keep]
 *
 * What is real and what is generated:
 * - The 500- and 5,000-float mirrors are real GDAC mirrors (bench/mirror.ts:
 *   renamed byte copies of the 15 fixture floats, regenerated indexes; meta
 *   and single-cycle files, what a default sync fetches). Every stage runs on
 *   them for real, from an empty lake, database and Redis prefix.
 * - "1% changed" is bench/mirror.ts touch(0.01): 1% of the floats get their
 *   next cycle file and index row, as a real day does.
 * - The GDAC-size lake (--gdac, default 19,000 floats) is synthesised from
 *   the 5,000-float mirror and lake after their runs: its mirror and raw zone
 *   are hard links to the 5,000 ones under new names (the bytes keep the
 *   source float's ids), its index files are regenerated, and its sync
 *   manifests, parse states, staging Parquet files and live-list segments are
 *   the 5,000 lake's rewritten for the new ids (generated, because a first
 *   build at that size takes too long here). Only the no-op and the
 *   1%-changed runs are measured there; the changed floats are picked among
 *   the 5,000 real ones (their bytes match their names). Load there goes on
 *   from the 5,000 lake's database, Redis and load cursors (pointed at the
 *   new lake), as a deployment whose loads are up to date: the generated
 *   floats are not loaded into Postgres.
 * - A first build runs each stage as its own job; a daily run (no-op, 1%
 *   changed) is what the scheduler runs: its cycle in one process
 *   (`schedule --once`: sync, parse of the floats the raw change journal
 *   names, load), then the compact job.
 *
 * Each job runs as a user runs it: node with tsx's loader (what `npx tsx`
 * runs, without npx's extra process) on jobs/<job>.ts --json, with LAKE_URL,
 * GDAC_BASE_URL = the local mirror, DATABASE_URL = a fresh database
 * bench_scale_*, REDIS_URL with its own prefix. Wall time is the process's
 * (startup included: what a user waits for); peak RSS is /usr/bin/time -v's
 * maximum resident set size (VmHWM of /proc/<pid>/status, polled, when
 * GNU time is not installed). A stage whose job does not exist yet (compact)
 * is shown as "-".
 *
 * References, same run: netcdfjs reading every variable of the mirror's
 * files (a sample of 500 floats' files, with as many processes as parse has
 * workers); listing the raw zone through the lake store; DuckDB reading every
 * column of the lake's Parquet through the views.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { link, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

import pg from "pg";
import { Redis } from "ioredis";
import { NetCDFReader } from "netcdfjs";

import { createLakeViews, openDuckDB } from "../lib/duckdb.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import {
  LIVE_KEY,
  manifestKey,
  parseManifestKey,
  parseRawKey,
  parseSegmentKey,
  parseStateKey,
  parseTableFileKey,
  parseTombstoneKey,
  RAW_DATA_PREFIX,
  segmentKey,
} from "../lib/lake/layout.ts";
import { foldedBy, readLiveList, writeLiveList } from "../lib/lake/live.ts";
import { hotKeys } from "../lib/db/redis.ts";
import { JOB_STAGES } from "../lib/schedule/runs.ts";
import { TABLES } from "../lake/schema.ts";
import { buildMirror, type MirrorInfo, mirrorWmo, replicateIndexes, touch } from "./mirror.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const tsxLoader = pathToFileURL(resolve(repo, "node_modules", "tsx", "dist", "loader.mjs")).href;
const GNU_TIME = "/usr/bin/time";

/** The stages, in the order a first build runs them (each its own job). */
const STAGES = ["sync", "parse", "compact", "load"] as const;
/** A table row: a stage, or the daily cycle's process (sync, parse and load in one `schedule --once`). */
type Stage = (typeof STAGES)[number] | "cycle";
/** The stages the scheduler's cycle runs in its one process. */
const CYCLE_STAGES = JOB_STAGES.cycle;
const PHASES = ["first build", "no-op", "1% changed"] as const;
type Phase = (typeof PHASES)[number];

/** One job run. */
interface JobRun {
  stage: Stage;
  code: number | null;
  seconds: number;
  /** Peak RSS in bytes; null when unknown. */
  rss: number | null;
  stats: Record<string, unknown> | null;
  stderrTail: string;
  /** A stage of the daily cycle: its seconds are its share of the cycle process, its RSS the process's. */
  inCycle?: boolean;
}

/** A lake size's results. */
interface SizeResult {
  label: string;
  floats: number;
  runs: Partial<Record<Phase, Partial<Record<Stage, JobRun>>>>;
  changed: number;
  refs: Reference[];
  notes: string[];
}

interface Reference {
  what: string;
  seconds: number;
  detail: string;
}

function args(): { sizes: number[]; gdac: number; workers: string | undefined; dir: string; keep: boolean } {
  const a = process.argv.slice(2);
  const get = (name: string) => {
    const i = a.indexOf(name);
    return i < 0 ? undefined : a[i + 1];
  };
  const sizes = (get("--sizes") ?? "500,5000").split(",").map(Number);
  if (sizes.some((n) => !(n >= 1))) throw new Error("--sizes: expected float counts separated by commas, e.g. 500,5000");
  return {
    sizes,
    gdac: Number(get("--gdac") ?? 19_000),
    workers: get("--workers"),
    dir: get("--dir") ?? `/tmp/bench-scale-${process.pid}`,
    keep: a.includes("--keep"),
  };
}

const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Runs a job as a child process; wall time, peak RSS, exit code and its --json stats. */
async function runJob(stage: Stage, env: Record<string, string>, dir: string): Promise<JobRun | null> {
  // The daily cycle is what the scheduler runs: `schedule --once` (sync, parse from the raw journal, load).
  const script = join(repo, "jobs", stage === "cycle" ? "schedule.ts" : `${stage}.ts`);
  if (!existsSync(script)) return null;
  const timeFile = join(dir, `time-${stage}.txt`);
  const gnu = existsSync(GNU_TIME);
  const argv = [process.execPath, "--import", tsxLoader, script, ...(stage === "cycle" ? ["--once"] : []), "--json"];
  const [cmd, ...rest] = gnu ? [GNU_TIME, "-v", "-o", timeFile, ...argv] : argv;
  const t0 = performance.now();
  const child = spawn(cmd!, rest, { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "", hwm = 0;
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-20_000)));
  const poll = gnu ? null : setInterval(async () => {
    const s = await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
    const m = /VmHWM:\s+(\d+) kB/.exec(s);
    if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
  }, 100);
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  const seconds = (performance.now() - t0) / 1000;
  if (poll) clearInterval(poll);
  let rss: number | null = hwm || null;
  if (gnu) {
    const t = await readFile(timeFile, "utf8").catch(() => "");
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(t);
    rss = m ? Number(m[1]) * 1024 : null;
    const e = /Exit status: (\d+)/.exec(t);
    return { stage, code: e ? Number(e[1]) : code, seconds, rss, stats: parseStats(stdout), stderrTail: stderr.slice(-2000) };
  }
  return { stage, code, seconds, rss, stats: parseStats(stdout), stderrTail: stderr.slice(-2000) };
}

function parseStats(stdout: string): Record<string, unknown> | null {
  try {
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    const i = stdout.lastIndexOf("\n{");
    try {
      return i >= 0 ? JSON.parse(stdout.slice(i + 1)) as Record<string, unknown> : null;
    } catch {
      return null;
    }
  }
}

/** The environment a job gets: enough to run, and this lake's settings. */
function jobEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", LOG_LEVEL: "warn" };
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "DENO_DIR"]) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return { ...env, ...extra };
}

const PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres";

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_ADMIN });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Calls `work` on every batch of keys under a Redis prefix. */
async function eachRedisBatch(prefix: string, work: (r: Redis, keys: string[]) => Promise<unknown>): Promise<void> {
  const r = new Redis("redis://127.0.0.1:6379", { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await work(r, keys);
    } while (cursor !== "0");
  } finally {
    r.disconnect();
  }
}

/** Deletes a Redis prefix's keys. */
const dropRedisPrefix = (prefix: string) => eachRedisBatch(prefix, (r, keys) => r.del(...keys));

/** A lake with its mirror, database and Redis prefix, and how to run its stages. */
interface Bed {
  label: string;
  mirror: string;
  lake: string;
  db: string;
  redisPrefix: string;
  env: Record<string, string>;
}

async function makeBed(root: string, label: string, mirror: string, workers: string | undefined): Promise<Bed> {
  const lake = join(root, `lake-${label}`);
  await mkdir(lake, { recursive: true });
  const db = `bench_scale_${label}_${process.pid}`;
  await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
  await admin(`CREATE DATABASE "${db}"`);
  const redisPrefix = `bench_scale:${label}:${process.pid}:`;
  const env = jobEnv({
    GDAC_BASE_URL: mirror,
    LAKE_URL: lake,
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
    REDIS_URL: "redis://127.0.0.1:6379",
    REDIS_PREFIX: redisPrefix,
    ...(workers ? { MAX_WORKERS: workers } : {}),
  });
  return { label, mirror, lake, db, redisPrefix, env };
}

/** Removes a bed's mirror and lake (its database and Redis keys go at the end, with the others'). */
async function removeBed(b: Bed): Promise<void> {
  await rm(b.mirror, { recursive: true, force: true });
  await rm(b.lake, { recursive: true, force: true });
}

async function dropBed(b: Bed): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS "${b.db}" WITH (FORCE)`).catch((e) => log(`drop ${b.db}: ${e}`));
  await dropRedisPrefix(b.redisPrefix).catch((e) => log(`redis ${b.redisPrefix}: ${e}`));
}

/** Runs one job and logs its outcome. */
async function step(b: Bed, phase: Phase, stage: Stage, root: string): Promise<JobRun | null> {
  log(`${b.label}: ${phase}: ${stage} ...`);
  const r = await runJob(stage, b.env, root);
  if (!r) {
    log(`${b.label}: ${phase}: ${stage}: no jobs/${stage}.ts yet, skipped`);
    return null;
  }
  log(`${b.label}: ${phase}: ${stage}: exit ${r.code}, ${r.seconds.toFixed(1)} s, peak RSS ${mb(r.rss)}${summary(stage, r.stats)}`);
  if (r.code !== 0) log(`  stderr: ${r.stderrTail.split("\n").filter(Boolean).slice(-3).join(" | ").slice(0, 600)}`);
  return r;
}

/**
 * A first build runs every stage as its own job, in order (the parse job
 * lists the whole raw zone, as a first build must). A daily run is what a
 * deployment runs: the scheduler's cycle in one process (`schedule --once`:
 * sync, parse of the floats the raw change journal names, load), then the
 * compact job (COMPACT_CRON). A stage of the cycle is shown with its time
 * inside the process (its run record's duration) and the process's peak RSS.
 */
async function cycle(b: Bed, phase: Phase, root: string): Promise<Partial<Record<Stage, JobRun>>> {
  const out: Partial<Record<Stage, JobRun>> = {};
  if (phase === "first build") {
    for (const stage of STAGES) {
      const r = await step(b, phase, stage, root);
      if (r) out[stage] = r;
    }
    return out;
  }
  const c = await step(b, phase, "cycle", root);
  if (c) {
    out.cycle = c;
    const stages = (c.stats?.stages ?? []) as { stage: string; duration_ms: number | null; stats: Record<string, unknown> | null; verdict: string }[];
    for (const st of stages) {
      if (!(CYCLE_STAGES as readonly string[]).includes(st.stage)) continue;
      const stage = st.stage as Stage;
      out[stage] = { stage, code: st.verdict === "succeeded" ? 0 : 1, seconds: (st.duration_ms ?? 0) / 1000, rss: c.rss, stats: st.stats, stderrTail: "", inCycle: true };
      log(`${b.label}: ${phase}:   ${stage} in the cycle: ${st.verdict}, ${((st.duration_ms ?? 0) / 1000).toFixed(1)} s${summary(stage, st.stats)}`);
    }
  }
  const k = await step(b, phase, "compact", root);
  if (k) out.compact = k;
  return out;
}

/** The stats a stage's line shows. */
function summary(stage: Stage, s: Record<string, unknown> | null): string {
  if (!s) return "";
  const pick = (keys: string[]) => keys.filter((k) => s[k] !== undefined).map((k) => `${k}=${JSON.stringify(s[k])}`).join(" ");
  const keys: Record<Stage, string[]> = {
    sync: ["total_floats", "files_downloaded", "files_skipped", "errors"],
    parse: ["floats_parsed", "floats_skipped", "profiles", "parquet_files_written", "quarantined", "workers"],
    compact: ["segments_written", "files_folded", "rows"],
    load: ["floats_selected", "floats_loaded", "profiles_read", "profiles_inserted", "profiles_unchanged"],
    cycle: ["verdict", "exit_code"],
  };
  const text = pick(keys[stage]);
  return text ? `; ${text}` : "";
}

const mb = (b: number | null) => (b === null ? "?" : `${(b / 1e6).toFixed(0)} MB`);

/** Every file under a directory, as absolute paths. */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Reference: netcdfjs reading every variable of these files, split over `procs` processes. */
async function netcdfjsReference(files: string[], procs: number, root: string): Promise<{ seconds: number; bytes: number }> {
  const lists = Array.from({ length: procs }, () => [] as string[]);
  files.forEach((f, i) => lists[i % procs]!.push(f));
  const results = await Promise.all(lists.map(async (list, i) => {
    const file = join(root, `netcdfjs-${i}.txt`);
    await writeFile(file, list.join("\n"));
    const child = spawn(process.execPath, ["--import", tsxLoader, fileURLToPath(import.meta.url), "--read-netcdf", file], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on("close", r));
    if (code !== 0) throw new Error(`netcdfjs reference process ${i} exited ${code}`);
    return JSON.parse(out) as { bytes: number; seconds: number };
  }));
  // The processes read side by side: the slowest one's reading time (startup excluded) is the wall.
  return { seconds: Math.max(...results.map((r) => r.seconds)), bytes: results.reduce((a, r) => a + r.bytes, 0) };
}

/** The --read-netcdf child: reads every variable of every file listed, prints the bytes read and the seconds it took. */
async function readNetcdfChild(listFile: string): Promise<void> {
  let bytes = 0;
  const t0 = performance.now();
  for (const f of (await readFile(listFile, "utf8")).split("\n").filter(Boolean)) {
    const b = await readFile(f);
    const nc = new NetCDFReader(b);
    for (const v of nc.variables) nc.getDataVariable(v);
    bytes += b.length;
  }
  process.stdout.write(JSON.stringify({ bytes, seconds: (performance.now() - t0) / 1000 }) + "\n");
}

/** The reference reads of a lake after its first build. */
async function references(b: Bed, info: MirrorInfo, workers: number, root: string): Promise<Reference[]> {
  const refs: Reference[] = [];
  // netcdfjs over the files of (at most) the first 500 floats: the same mix of fixture floats.
  const sample = info.floats.slice(0, 500);
  const files: string[] = [];
  for (const f of sample) for (const p of await walk(join(info.dir, "dac", f.dac, f.wmo))) if (p.endsWith(".nc")) files.push(p);
  log(`${b.label}: reference: netcdfjs reading every variable of ${files.length} files (${sample.length} floats), ${workers} processes ...`);
  const nc = await netcdfjsReference(files, workers, root);
  const rate = nc.bytes / nc.seconds;
  refs.push({
    what: "netcdfjs reads every variable",
    seconds: info.bytes / rate,
    detail: `${(rate / 1e6).toFixed(1)} MB/s with ${workers} processes on ${sample.length} floats' files; ${(info.bytes / rate).toFixed(1)} s for the mirror's ${(info.bytes / 1e6).toFixed(0)} MB`,
  });
  const store = new LocalLakeStore(b.lake);
  let t0 = performance.now();
  const keys = await store.list(RAW_DATA_PREFIX);
  refs.push({ what: "list the raw zone", seconds: (performance.now() - t0) / 1000, detail: `${keys.length} files (LakeStore.list)` });
  await store.close();
  t0 = performance.now();
  const s = await openDuckDB();
  try {
    const views = await createLakeViews(s, b.lake);
    const opened = (performance.now() - t0) / 1000;
    const counts: string[] = [];
    for (const t of TABLES) {
      const [row] = await s.all(`SELECT count(*) AS n, sum(hash(COLUMNS(*))) FROM ${t}`);
      counts.push(`${t} ${row!.n}`);
    }
    const files = Object.values(views.files).reduce((a, c) => a + c, 0);
    refs.push({
      what: "DuckDB reads the lake's Parquet",
      seconds: (performance.now() - t0) / 1000,
      detail: `every column of every table through the views (${files} files, opened in ${opened.toFixed(1)} s): ${counts.join(", ")} rows`,
    });
  } finally {
    s.close();
  }
  for (const r of refs) log(`${b.label}: reference: ${r.what}: ${r.seconds.toFixed(1)} s (${r.detail})`);
  return refs;
}

/** One lake size from an empty lake: first build, no-op, 1% changed, then the references. */
async function runSize(n: number, root: string, workers: string | undefined, beds: Bed[]): Promise<{ result: SizeResult; bed: Bed; info: MirrorInfo }> {
  const label = String(n);
  const mirror = join(root, `gdac-${label}`);
  log(`${label}: building the mirror ...`);
  const info = await buildMirror(mirror, n);
  log(`${label}: mirror: ${info.floats.length} floats, ${info.files} files, ${(info.bytes / 1e6).toFixed(0)} MB in ${info.seconds.toFixed(1)} s`);
  const bed = await makeBed(root, label, mirror, workers);
  beds.push(bed);
  const result: SizeResult = { label, floats: n, runs: {}, changed: 0, refs: [], notes: [] };
  result.runs["first build"] = await cycle(bed, "first build", root);
  result.runs["no-op"] = await cycle(bed, "no-op", root);
  const t = await touch(mirror, 0.01);
  result.changed = t.changed.length;
  log(`${label}: touched ${t.changed.length} floats (${t.changed.filter((c) => c.how === "new cycle").length} new cycles)`);
  result.runs["1% changed"] = await cycle(bed, "1% changed", root);
  const parseWorkers = Number(result.runs["first build"]?.parse?.stats?.workers ?? workers ?? 2);
  result.refs = await references(bed, info, parseWorkers, root);
  return { result, bed, info };
}

// ---- the GDAC-size lake ----

/** Replaces a float's id in a text (a lake key or a JSON document), as a whole token. */
function renameIn(text: string, from: string, to: string): string {
  return text.replace(new RegExp(`(?<![0-9])${from}(?![0-9])`, "g"), to);
}

/** The float a lake key belongs to (raw file, manifest, parse state, staging file, tombstone); null for a lake-wide key. */
function floatOfKey(key: string): string | null {
  const direct = parseRawKey(key) ?? parseTableFileKey(key) ?? parseStateKey(key) ?? parseTombstoneKey(key);
  if (direct) return direct.wmo;
  const m = parseManifestKey(key);
  if (!m) return null;
  const head = manifestKey(m.dac, "").slice(0, -".json".length);
  return key.slice(head.length, -".json".length);
}

/** Runs `work` over `items`, `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** Hard-links `from` at `to` (its folder made first); an existing `to` is left as it is. */
async function linkFile(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await link(from, to).catch((e) => {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  });
}

/**
 * Synthesises the GDAC-size lake from a base size's mirror, lake, database
 * and Redis prefix after their runs (see the header). Float i < base size is
 * base float i; float i >= base size is base float i mod base size under a
 * new id. Returns the bed and whether a float ("dac/wmo") is a real one.
 */
async function synthesiseGdac(root: string, base: Bed, baseInfo: MirrorInfo, n: number): Promise<{ bed: Bed; real: (float: string) => boolean }> {
  const label = `gdac${n}`;
  const B = baseInfo.floats.length;
  const copies = Array.from({ length: n }, (_, i) => {
    const from = baseInfo.floats[i % B]!;
    return { from, to: { ...from, wmo: i < B ? from.wmo : mirrorWmo(i, from.wmo.length) }, generation: Math.floor(i / B) };
  });
  const targets = new Map<string, string[]>();
  for (const c of copies) targets.set(c.from.wmo, [...(targets.get(c.from.wmo) ?? []), c.to.wmo]);
  const t0 = performance.now();
  // The mirror: every base float's folder linked under each of its new ids, the indexes from the base mirror's.
  const mirror = join(root, `gdac-${label}`);
  await mkdir(mirror, { recursive: true });
  log(`${label}: mirror: linking ${n} floats' files from the ${base.label} mirror ...`);
  await inParallel(copies, 16, async (c) => {
    const from = join(base.mirror, "dac", c.from.dac, c.from.wmo), to = join(mirror, "dac", c.to.dac, c.to.wmo);
    for (const f of await walk(from)) await linkFile(f, join(to, renameIn(f.slice(from.length + 1), c.from.wmo, c.to.wmo)));
  });
  await replicateIndexes(base.mirror, mirror, copies);
  // The lake: per-float objects of each base float copied for each of its new ids (JSON rewritten, data hard-linked).
  const bed = await makeBed(root, label, mirror, base.env.MAX_WORKERS);
  log(`${label}: lake: raw zone, manifests, parse states and staging Parquet of ${n} floats from the ${base.label} lake ...`);
  const keys = (await walk(base.lake)).map((f) => f.slice(base.lake.length + 1));
  const baseStore = new LocalLakeStore(base.lake);
  const live = await readLiveList(baseStore);
  const isFolded = foldedBy(live);
  await inParallel(keys, 16, async (key) => {
    const src = join(base.lake, key);
    const wmo = floatOfKey(key);
    if (key === LIVE_KEY) return; // below: its segments are replicated
    // A staging file a commit folded (still there until GC) has its rows in the segments, which are
    // replicated below: only the base float keeps it (its folded entry names it), the copies never had it.
    const folded = parseTableFileKey(key) !== null && isFolded((await baseStore.stat(key))!);
    for (const to of wmo === null ? [null] : folded ? [wmo] : targets.get(wmo) ?? []) {
      const dest = join(bed.lake, to === null ? key : renameIn(key, wmo!, to));
      if (key.endsWith(".json")) {
        await mkdir(dirname(dest), { recursive: true });
        const text = await readFile(src, "utf8");
        await writeFile(dest, to === null ? text : renameIn(text, wmo!, to));
      } else await linkFile(src, dest);
    }
  });
  await baseStore.close();
  // Committed segments: generation g's copy of each segment (a hard link) lists g's floats.
  if (live.commit > 0) {
    const generations = Math.ceil(n / B);
    const place = new Map(baseInfo.floats.map((f, i) => [f.wmo, i]));
    const gen = (g: number, wmo: string) => {
      const i = (place.get(wmo) ?? n) + g * B;
      return i < n ? copies[i]!.to.wmo : null;
    };
    for (const table of TABLES) {
      const out = [];
      for (const seg of live.tables[table]) {
        out.push(seg);
        const k = parseSegmentKey(seg.key)!;
        for (let g = 1; g < generations; g++) {
          const floats = seg.floats.map((w) => gen(g, w)).filter((w): w is string => w !== null);
          if (floats.length === 0) continue;
          const key = segmentKey(table, k.dac, k.year, k.commit, k.n + g * 2000);
          await linkFile(join(base.lake, seg.key), join(bed.lake, key));
          out.push({ ...seg, key, floats: floats.sort() });
        }
      }
      live.tables[table] = out.sort((a, b) => (a.key < b.key ? -1 : 1));
    }
    const store = new LocalLakeStore(bed.lake);
    await writeLiveList(store, live);
    await store.close();
  }
  // Postgres and Redis: the base lake's, so load goes on from where the base lake's left off.
  await admin(`DROP DATABASE IF EXISTS "${bed.db}" WITH (FORCE)`);
  await admin(`CREATE DATABASE "${bed.db}" TEMPLATE "${base.db}"`);
  await copyRedisPrefix(base.redisPrefix, bed.redisPrefix);
  await repointCursors(bed, base);
  log(`${label}: synthesised in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const real = new Set(baseInfo.floats.map((f) => `${f.dac}/${f.wmo}`));
  return { bed, real: (f) => real.has(f) };
}

/**
 * Points the copied load cursors (lib/load/cursor.ts) at the generated lake:
 * a cursor names its lake, and one naming another lake gets a full load. The
 * generated floats are then in the lake but not in Postgres and Redis (their
 * rows would be the base floats' under new ids); the daily loads measured
 * there load only what changes, as on a lake whose loads are up to date.
 */
async function repointCursors(bed: Bed, base: Bed): Promise<void> {
  const from = new LocalLakeStore(base.lake).description, to = new LocalLakeStore(bed.lake).description;
  const c = new pg.Client({ connectionString: bed.env.DATABASE_URL });
  await c.connect();
  try {
    await c.query(`UPDATE load_cursors SET cursor = jsonb_set(cursor, '{lake}', to_jsonb($1::text)) WHERE cursor->>'lake' = $2`, [to, from]);
  } finally {
    await c.end();
  }
  await eachRedisBatch(hotKeys(bed.redisPrefix).loadCursor(""), async (r, keys) => {
    for (const k of keys) {
      const text = await r.get(k);
      if (!text) continue;
      const cur = JSON.parse(text) as { lake?: string };
      if (cur.lake !== from) continue;
      const ttl = await r.pttl(k);
      if (ttl > 0) await r.set(k, JSON.stringify({ ...cur, lake: to }), "PX", ttl);
      else await r.set(k, JSON.stringify({ ...cur, lake: to }));
    }
  });
}

/** Copies every key under one Redis prefix to another (Redis COPY). */
const copyRedisPrefix = (from: string, to: string) =>
  eachRedisBatch(from, (r, keys) => {
    const p = r.pipeline();
    for (const k of keys) p.copy(k, to + k.slice(from.length), "REPLACE");
    return p.exec();
  });

/** The GDAC-size runs: the generated lake's no-op and 1%-changed cycles (changed floats among the real ones). */
async function runGdac(root: string, base: Bed, baseInfo: MirrorInfo, n: number, beds: Bed[]): Promise<SizeResult> {
  const { bed, real } = await synthesiseGdac(root, base, baseInfo, n);
  beds.push(bed);
  const result: SizeResult = {
    label: `${n.toLocaleString("en")} (GDAC-size, generated)`,
    floats: n,
    runs: {},
    changed: 0,
    refs: [],
    notes: [`the ${n.toLocaleString("en")}-float lake is generated from the ${base.label} one (hard links, rewritten states); its first cycle after generation is not shown`],
  };
  // The first cycle after generation fetches the new index files (and loads nothing new): not a daily run.
  await cycle(bed, "first build", root);
  result.runs["no-op"] = await cycle(bed, "no-op", root);
  const t = await touch(bed.mirror, 0.01, { eligible: real, seed: 1 });
  result.changed = t.changed.length;
  log(`${bed.label}: touched ${t.changed.length} floats`);
  result.runs["1% changed"] = await cycle(bed, "1% changed", root);
  const store = new LocalLakeStore(bed.lake);
  const t0 = performance.now();
  const keys = await store.list(RAW_DATA_PREFIX);
  result.refs.push({ what: "list the raw zone", seconds: (performance.now() - t0) / 1000, detail: `${keys.length} files (LakeStore.list)` });
  await store.close();
  return result;
}

// ---- the table ----

function printTable(results: SizeResult[]): void {
  const cols = results.map((r) => (r.label === String(r.floats) ? `${r.floats.toLocaleString("en")} floats` : `${r.label} floats`.replace(" (GDAC-size, generated) floats", " floats (GDAC-size, generated)")));
  const lines: string[] = [];
  lines.push(`| stage | run | ${cols.join(" | ")} |`);
  lines.push(`|---|---|${cols.map(() => "---").join("|")}|`);
  for (const stage of [...STAGES, "cycle"] as const) {
    for (const phase of PHASES) {
      const cells = results.map((r) => cell(r, phase, stage));
      if (cells.every((c) => c === "-")) continue;
      lines.push(`| ${stage} | ${phase} | ${cells.join(" | ")} |`);
    }
  }
  for (const phase of PHASES) {
    const cells = results.map((r) => {
      // What the user waits for: the processes (the cycle's, not its stages again), one after another.
      const runs = Object.values(r.runs[phase] ?? {}).filter((j) => !j.inCycle);
      if (runs.length === 0) return "-";
      const s = runs.reduce((a, j) => a + j.seconds, 0);
      const peak = Math.max(...runs.map((j) => j.rss ?? 0));
      return `${s.toFixed(1)} s, peak ${mb(peak)}`;
    });
    lines.push(`| **all stages** | ${phase} | ${cells.join(" | ")} |`);
  }
  const whats = [...new Set(results.flatMap((r) => r.refs.map((x) => x.what)))];
  for (const what of whats) {
    lines.push(`| reference | ${what} | ${results.map((r) => {
      const x = r.refs.find((y) => y.what === what);
      return x ? `${x.seconds.toFixed(1)} s: ${x.detail}` : "-";
    }).join(" | ")} |`);
  }
  console.log(lines.join("\n"));
  for (const r of results) for (const n of r.notes) console.log(`${r.label}: ${n}`);
}

/** A table cell: wall, per-float cost, peak RSS, and the stage's own figure. */
function cell(r: SizeResult, phase: Phase, stage: Stage): string {
  const j = r.runs[phase]?.[stage];
  if (!j) return "-";
  // A changed run's cost beyond the no-op, per changed float; the others' per float of the lake.
  const noop = r.runs["no-op"]?.[stage];
  const per = phase === "1% changed"
    ? (noop ? `${((j.seconds - noop.seconds) / Math.max(1, r.changed) * 1000).toFixed(0)} ms/changed float over the no-op` : "")
    : `${(j.seconds / r.floats * 1000).toFixed(1)} ms/float`;
  let extra = "";
  const s = j.stats ?? {};
  if (stage === "parse" && typeof s.profiles === "number" && s.profiles > 0) {
    extra = `, ${(s.profiles / j.seconds).toFixed(0)} profiles/s, ${((Number(s.bytes_in) || 0) / j.seconds / 1e6).toFixed(1)} MB/s`;
  }
  const bad = j.code === 0 ? "" : ` (exit ${j.code})`;
  const rss = j.inCycle ? "in the cycle process" : mb(j.rss);
  return `${j.seconds.toFixed(1)} s, ${per ? `${per}, ` : ""}${rss}${extra}${bad}`;
}

/** The issue's goals, checked against this run's figures. */
function printGoals(results: SizeResult[]): void {
  const lines: string[] = [];
  const sum = (r: SizeResult, phase: Phase, stages: readonly Stage[] = STAGES) =>
    stages.reduce((a, st) => a + (r.runs[phase]?.[st]?.seconds ?? 0), 0);
  const verdict = (ok: boolean) => (ok ? "met" : "NOT MET");
  for (const r of results) {
    const first = r.runs["first build"]?.parse;
    if (first?.stats && typeof first.stats.profiles === "number") {
      const rate = first.stats.profiles / first.seconds;
      lines.push(`${r.label}: first parse ${rate.toFixed(0)} profiles/s (goal >= 1,000): ${verdict(rate >= 1000)}`);
      const ref = r.refs.find((x) => x.what === "netcdfjs reads every variable");
      const bytes = Number(first.stats.bytes_in) || 0;
      if (ref && bytes) {
        const share = bytes / first.seconds / (bytes / ref.seconds);
        lines.push(`${r.label}: parse ${(bytes / first.seconds / 1e6).toFixed(1)} MB/s = ${(share * 100).toFixed(0)}% of netcdfjs reading (goal >= 50%): ${verdict(share >= 0.5)}`);
      }
    }
    // A daily run's sync + parse + load is the cycle process's wall (startup included).
    const daily = (phase: Phase) => r.runs[phase]?.cycle?.seconds ?? sum(r, phase, CYCLE_STAGES);
    if (r.runs["no-op"]) {
      const noop = daily("no-op");
      const limit = r.floats >= 19_000 ? 60 : 10;
      if (r.floats >= 5000) lines.push(`${r.label}: no-op sync + parse + load ${noop.toFixed(1)} s (goal < ${limit} s): ${verdict(noop < limit)}`);
      else lines.push(`${r.label}: no-op sync + parse + load ${noop.toFixed(1)} s`);
      const changed = daily("1% changed");
      if (r.runs["first build"]) {
        const perFloat = sum(r, "first build", CYCLE_STAGES) / r.floats;
        const bound = 2 * noop + r.changed * perFloat;
        lines.push(`${r.label}: 1% changed (${r.changed} floats) ${changed.toFixed(1)} s (goal < 2 x no-op + their first-build cost = ${bound.toFixed(1)} s): ${verdict(changed < bound)}`);
      } else lines.push(`${r.label}: 1% changed (${r.changed} floats) ${changed.toFixed(1)} s`);
    }
    const peak = Math.max(...Object.values(r.runs).flatMap((p) => Object.values(p ?? {}).map((j) => j.rss ?? 0)));
    lines.push(`${r.label}: peak RSS of any stage ${mb(peak)} (goal < 1 GB): ${verdict(peak < 1e9)}`);
    const syncNoop = r.runs["no-op"]?.sync;
    if (syncNoop && r.floats >= 19_000) {
      lines.push(`${r.label}: no-op sync ${syncNoop.seconds.toFixed(1)} s in the cycle, whose process peaked at ${mb(syncNoop.rss)} (goal < 15 s, < 500 MB): ${verdict(syncNoop.seconds < 15 && (syncNoop.rss ?? 0) < 5e8)}`);
    }
  }
  console.log(lines.join("\n"));
}

async function main(): Promise<void> {
  const o = args();
  await mkdir(o.dir, { recursive: true });
  log(`bench/scale.ts: sizes ${o.sizes.join(", ")}${o.gdac ? ` + GDAC-size ${o.gdac}` : ""}, in ${o.dir}`);
  const results: SizeResult[] = [];
  const beds: Bed[] = [];
  try {
    let last: { bed: Bed; info: MirrorInfo } | null = null;
    for (const n of o.sizes) {
      if (last && !o.keep) await removeBed(last.bed);
      const { result, bed, info } = await runSize(n, o.dir, o.workers, beds);
      results.push(result);
      last = { bed, info };
      printTable(results);
    }
    if (o.gdac > 0 && last) {
      results.push(await runGdac(o.dir, last.bed, last.info, o.gdac, beds));
      printTable(results);
    }
  } finally {
    for (const b of beds) await dropBed(b);
    if (!o.keep) await rm(o.dir, { recursive: true, force: true });
  }
  console.log(`\nbench/scale.ts, ${new Date().toISOString()}, node ${process.version}; wall = the job process (startup included), peak RSS = its maximum resident set`);
  printTable(results);
  printGoals(results);
}

if (process.argv[2] === "--read-netcdf") await readNetcdfChild(process.argv[3]!);
else await main();
