/**
 * Compaction's cost against the lake's size: for each size (default 500 and
 * 5,000 floats) a synthetic GDAC mirror (bench/mirror.ts), then the real
 * jobs as child processes on an empty lake: sync, parse, and the first
 * compaction (every staging file folded), whose wall time and peak RSS are
 * the figures; the parse job that built the same lake, in the same run, is
 * the reference beside them. Peak RSS should be flat with the size.
 *
 *   npx tsx bench/compact-memory.ts [--sizes 500,5000] [--dir /tmp/bench-compact-memory-<pid>] [--keep]
 *
 * Each job runs as a user runs it: node with tsx's loader on jobs/<job>.ts
 * --json, LAKE_URL and GDAC_BASE_URL local, no database (the compact lock is
 * the lake's). Wall time is the process's (startup included); peak RSS is
 * /usr/bin/time -v's maximum resident set size (VmHWM of /proc/<pid>/status,
 * polled, when GNU time is not installed). The mirror is deleted once synced
 * (the raw zone holds its copy), so 5,000 floats take ~4.5 GB of disk.
 * The load average is printed with each job: the machine may be shared.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

import { buildMirror } from "./mirror.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const tsxLoader = pathToFileURL(resolve(repo, "node_modules", "tsx", "dist", "loader.mjs")).href;
const GNU_TIME = "/usr/bin/time";

interface JobRun {
  code: number | null;
  seconds: number;
  /** Peak RSS in bytes; null when unknown. */
  rss: number | null;
  stats: Record<string, unknown>;
  /** 1-minute load average when the job ended. */
  load: number;
}

interface SizeResult {
  floats: number;
  parse: JobRun;
  compact: JobRun;
}

function args(): { sizes: number[]; dir: string; keep: boolean } {
  const a = process.argv.slice(2);
  const get = (name: string) => {
    const i = a.indexOf(name);
    return i < 0 ? undefined : a[i + 1];
  };
  const sizes = (get("--sizes") ?? "500,5000").split(",").map(Number);
  if (sizes.some((n) => !(n >= 1))) throw new Error("--sizes: expected float counts separated by commas, e.g. 500,5000");
  return { sizes, dir: get("--dir") ?? `/tmp/bench-compact-memory-${process.pid}`, keep: a.includes("--keep") };
}

const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Runs jobs/<job>.ts --json as a child process: wall time, peak RSS, exit code, its stats. */
async function runJob(job: string, env: Record<string, string>, dir: string): Promise<JobRun> {
  const timeFile = join(dir, `time-${job}.txt`);
  const gnu = existsSync(GNU_TIME);
  const argv = [process.execPath, "--import", tsxLoader, join(repo, "jobs", `${job}.ts`), "--json"];
  const [cmd, ...rest] = gnu ? [GNU_TIME, "-v", "-o", timeFile, ...argv] : argv;
  const t0 = performance.now();
  const child = spawn(cmd!, rest, { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "", hwm = 0;
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const poll = gnu ? null : setInterval(async () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, "utf8").catch(() => ""));
    if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
  }, 100);
  let code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  const seconds = (performance.now() - t0) / 1000;
  if (poll) clearInterval(poll);
  let rss: number | null = hwm || null;
  if (gnu) {
    const t = await readFile(timeFile, "utf8").catch(() => "");
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(t);
    rss = m ? Number(m[1]) * 1024 : null;
    const e = /Exit status: (\d+)/.exec(t);
    if (e) code = Number(e[1]);
  }
  if (code !== 0) throw new Error(`${job} exited ${code}: ${stderr.slice(-1500)}`);
  return { code, seconds, rss, stats: JSON.parse(stdout.slice(stdout.indexOf("{"))) as Record<string, unknown>, load: loadavg()[0]! };
}

const mb = (b: number | null) => (b === null ? "?" : `${(b / 1e6).toFixed(0)} MB`);

async function runSize(n: number, root: string): Promise<SizeResult> {
  const mirror = join(root, `gdac-${n}`);
  const lake = join(root, `lake-${n}`);
  await mkdir(lake, { recursive: true });
  const info = await buildMirror(mirror, n);
  log(`${n}: mirror of ${info.files} files (${(info.bytes / 1e6).toFixed(0)} MB) in ${info.seconds.toFixed(1)} s`);
  const env: Record<string, string> = { NO_COLOR: "1", LOG_LEVEL: "warn", GDAC_BASE_URL: mirror, LAKE_URL: lake };
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG"]) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  const sync = await runJob("sync", env, root);
  log(`${n}: sync ${sync.seconds.toFixed(1)} s, ${mb(sync.rss)}; load ${sync.load.toFixed(1)}`);
  await rm(mirror, { recursive: true, force: true });
  const parse = await runJob("parse", env, root);
  log(`${n}: parse ${parse.seconds.toFixed(1)} s, ${mb(parse.rss)}, ${parse.stats.parquet_files_written} staging files; load ${parse.load.toFixed(1)}`);
  const compact = await runJob("compact", env, root);
  log(`${n}: compact ${compact.seconds.toFixed(1)} s, ${mb(compact.rss)}, ${compact.stats.rows} rows in ${compact.stats.segments_written} segments; load ${compact.load.toFixed(1)}`);
  return { floats: n, parse, compact };
}

function printTable(results: SizeResult[]): void {
  const rows = [
    ["floats", ...results.map((r) => r.floats.toLocaleString("en-US"))],
    ["staging files folded", ...results.map((r) => String(r.compact.stats.files_folded))],
    ["rows", ...results.map((r) => Number(r.compact.stats.rows).toLocaleString("en-US"))],
    ["segments written", ...results.map((r) => String(r.compact.stats.segments_written))],
    ["compact: wall", ...results.map((r) => `${r.compact.seconds.toFixed(1)} s`)],
    ["compact: peak RSS", ...results.map((r) => mb(r.compact.rss))],
    ["reference: parse wall", ...results.map((r) => `${r.parse.seconds.toFixed(1)} s`)],
    ["reference: parse peak RSS", ...results.map((r) => mb(r.parse.rss))],
    ["load average (1 min) after compact", ...results.map((r) => r.compact.load.toFixed(1))],
  ];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  "));
}

async function main(): Promise<void> {
  const o = args();
  await mkdir(o.dir, { recursive: true });
  log(`bench/compact-memory.ts: sizes ${o.sizes.join(", ")} in ${o.dir}; load ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  const results: SizeResult[] = [];
  try {
    for (const n of o.sizes) {
      results.push(await runSize(n, o.dir));
      if (!o.keep) await rm(join(o.dir, `lake-${n}`), { recursive: true, force: true });
    }
  } finally {
    if (!o.keep) await rm(o.dir, { recursive: true, force: true });
  }
  console.log(`\nbench/compact-memory.ts, ${new Date().toISOString()}, node ${process.version}; first compaction of a freshly parsed lake`);
  printTable(results);
}

await main();
