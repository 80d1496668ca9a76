/**
 * The parse job's per-float path (parse a float's raw files and write its
 * Parquet files, through the job's runner: in-process for 1 worker, the
 * worker pool for more) beside netcdfjs merely reading every variable of the
 * same files with as many threads, in one run.
 *
 *   npx tsx bench/parse-float.ts [--copies 4] [--rounds 5] [--workers 1,2]
 *   deno run -A bench/parse-float.ts ...
 *
 * The input is the 15 fixture floats' meta, core, B and S files (what parse
 * reads), `--copies` times over, held in memory: disk speed is not measured,
 * nor the lake I/O around the runner (reading raw files, putting Parquet
 * files, states). Configurations take turns round by round and each is scored
 * by its median round, with the spread (min-max) beside it: the machine may
 * be shared, and a burst of outside load then hits them alike.
 *
 * MB per CPU-second (all threads of the process) is printed beside: on a
 * busy machine it says what the work costs when wall time says little.
 *
 * Targets (issue 15): parse MB/s >= 50% of netcdfjs with the same threads;
 * 2 workers >= 1.7x one worker.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

import { NetCDFReader } from "netcdfjs";

import { type FloatJob, roleOf } from "../lib/parse/float.ts";
import { startRunner } from "../lib/parse/pool.ts";
import { runtimeName } from "../lib/runtime.ts";

const FIXTURES = fileURLToPath(new URL("../../shared/fixtures/gdac/dac/", import.meta.url));

/** netcdfjs reads every variable of every file it is given; returns how many it read. */
function netcdfjsRead(files: readonly Uint8Array[]): number {
  let n = 0;
  for (const bytes of files) {
    const nc = new NetCDFReader(bytes);
    for (const v of nc.variables) nc.getDataVariable(v);
    n += nc.variables.length;
  }
  return n;
}

if (!isMainThread) {
  // A netcdfjs reference thread: reads its share of files when told, answers when done.
  const files = (workerData as { files: Uint8Array[] }).files;
  parentPort!.on("message", (m: string) => {
    if (m === "close") return parentPort!.close();
    netcdfjsRead(files);
    parentPort!.postMessage("done");
  });
  parentPort!.postMessage("ready");
} else {
  await main();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
  };
  const copies = Number(flag("copies", "4"));
  const rounds = Number(flag("rounds", "5"));
  const workerCounts = flag("workers", "1,2").split(",").map(Number);

  const floats: FloatJob[] = [];
  for (const dac of (await readdir(FIXTURES)).sort()) {
    for (const wmo of (await readdir(join(FIXTURES, dac))).sort()) {
      const dir = join(FIXTURES, dac, wmo);
      const rests = (await readdir(dir, { recursive: true })).filter((r) => r.endsWith(".nc") && roleOf(r, wmo) !== "other").sort();
      const files = await Promise.all(rests.map(async (rest) => ({ rest, bytes: new Uint8Array(await readFile(join(dir, rest))) })));
      floats.push({ dac, wmo, files, profileBatchLimit: null });
    }
  }
  const jobs = Array.from({ length: copies }, () => floats).flat();
  const allFiles = jobs.flatMap((j) => j.files.map((f) => f.bytes));
  const mb = allFiles.reduce((s, b) => s + b.byteLength, 0) / 1e6;
  const out = await mkdtemp(join(tmpdir(), "argo-lake-bench-parse-float-"));

  /** One pass of the parse path over every job with `runner`; returns profiles parsed. */
  const parsePass = async (runner: Awaited<ReturnType<typeof startRunner>>, pass: number): Promise<number> => {
    let next = 0;
    let profiles = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const i = next++;
        const job = jobs[i]!;
        // Each job its own folder (copies share names) and its own buffers (a worker takes them).
        const dir = join(out, `${pass}-${i}`);
        await mkdir(dir);
        const o = await runner.run({ ...job, files: job.files.map((f) => ({ rest: f.rest, bytes: f.bytes.slice() })) }, dir, "zstd");
        profiles += o.profiles;
        await rm(dir, { recursive: true });
      }
    };
    await Promise.all(Array.from({ length: runner.concurrency }, lane));
    return profiles;
  };

  /** netcdfjs on `threads` threads (1: this thread), the files dealt out round-robin. */
  const readers = new Map<number, Worker[]>();
  for (const n of workerCounts.filter((n) => n > 1)) {
    const shares = Array.from({ length: n }, (_, k) => allFiles.filter((_, i) => i % n === k).map((b) => b.slice()));
    readers.set(n, await Promise.all(shares.map((files) => startReader(files))));
  }
  const netcdfjsPass = async (threads: number): Promise<void> => {
    if (threads === 1) return void netcdfjsRead(allFiles);
    await Promise.all(readers.get(threads)!.map((w) => new Promise<void>((resolve) => {
      w.once("message", () => resolve());
      w.postMessage("go");
    })));
  };

  const runners = new Map(await Promise.all(workerCounts.map(async (n) => [n, await startRunner(n)] as const)));
  const timings = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  let profiles = 0;
  const time = async (name: string, f: () => Promise<unknown>) => {
    const t = performance.now();
    const u = process.cpuUsage();
    await f();
    const s = (performance.now() - t) / 1000;
    const used = process.cpuUsage(u);
    timings.set(name, [...(timings.get(name) ?? []), s]);
    cpu.set(name, [...(cpu.get(name) ?? []), (used.user + used.system) / 1e6]);
  };
  for (let r = 0; r <= rounds; r++) {
    for (const n of workerCounts) {
      await time(`parse ${n}`, async () => (profiles = await parsePass(runners.get(n)!, r)));
      await time(`netcdfjs ${n}`, () => netcdfjsPass(n));
    }
    if (r === 0) {
      timings.clear(); // warm-up round
      cpu.clear();
    }
  }
  for (const r of runners.values()) await r.close();
  for (const ws of readers.values()) for (const w of ws) await w.terminate();
  await rm(out, { recursive: true, force: true });

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `${runtimeName}: ${jobs.length} floats (${copies} x 15 fixture floats), ${allFiles.length} files, ${mb.toFixed(1)} MB, ${profiles} profiles; ` +
      `median of ${rounds} rounds (min-max) after 1 warm-up`,
  );
  const rate = (name: string) => median(timings.get(name)!);
  for (const n of workerCounts) {
    for (const what of ["parse", "netcdfjs"]) {
      const ts = timings.get(`${what} ${n}`)!;
      const s = median(ts);
      const label = what === "parse" ? `parse job per-float path, ${n} worker${n > 1 ? "s" : ""}` : `netcdfjs read every variable, ${n} thread${n > 1 ? "s" : ""}`;
      const spread = `${(mb / Math.max(...ts)).toFixed(1)}-${(mb / Math.min(...ts)).toFixed(1)}`;
      const c = median(cpu.get(`${what} ${n}`)!);
      console.log(
        `  ${label.padEnd(44)} ${(profiles / s).toFixed(0).padStart(6)} profiles/s ${(mb / s).toFixed(1).padStart(7)} MB/s (${spread})` +
          ` ${(mb / c).toFixed(1).padStart(6)} MB per CPU-second`,
      );
    }
    const cpuOf = (name: string) => median(cpu.get(name)!);
    console.log(
      `  parse / netcdfjs at ${n}: ${(100 * rate(`netcdfjs ${n}`) / rate(`parse ${n}`)).toFixed(0)}% (target >= 50%); ` +
        `per CPU-second ${(100 * cpuOf(`netcdfjs ${n}`) / cpuOf(`parse ${n}`)).toFixed(0)}%`,
    );
  }
  if (workerCounts.includes(1)) {
    for (const n of workerCounts.filter((n) => n > 1)) {
      console.log(`  parse ${n} workers / 1 worker: ${(rate("parse 1") / rate(`parse ${n}`)).toFixed(2)}x (target >= 1.7x at 2); netcdfjs ${n} threads / 1: ${(rate("netcdfjs 1") / rate(`netcdfjs ${n}`)).toFixed(2)}x`);
    }
  }
}

/** Starts a netcdfjs reference thread holding `files`. */
function startReader(files: Uint8Array[]): Promise<Worker> {
  const entry = new URL(import.meta.url);
  const worker = runtimeName === "deno"
    ? new Worker(entry, { workerData: { files } })
    : new Worker(new URL("../lib/parse/worker-boot.mjs", import.meta.url), { workerData: { entry: entry.href, files } });
  return new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", () => resolve(worker));
  });
}
