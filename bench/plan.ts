/**
 * Planner speed on a full-size profile index, beside DuckDB counting the rows
 * of the same file, in the same run. Target: the planner takes no more than
 * 2x DuckDB's `SELECT count(*) FROM read_csv(...)`.
 *
 *   npx tsx bench/plan.ts [rows]      (or: deno run -A bench/plan.ts [rows])
 *
 * The index (3.3 M rows by default, ~19,000 floats) is generated from the
 * real rows of the fixture excerpt: each generated float takes the DAC of one
 * real row and, per profile, the mode letter, date, position, ocean, profiler,
 * institution and date_update of the next real rows, with its own WMO and
 * cycle numbers, under the real header lines. Each
 * measurement runs in its own process (so peak RSS is its own), after one
 * warm-up read puts the file in the page cache; runs alternate between the
 * two and the best of 5 of each counts. CPU time is printed too: on a busy
 * machine it is steadier than wall time.
 */
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { createReadStream, createWriteStream, readFileSync, statSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { readIndex } from "../lib/gdac/index-file.ts";
import { Planner } from "../lib/gdac/plan.ts";

const fixture = fileURLToPath(new URL("../../shared/fixtures/gdac/ar_index_global_prof.txt", import.meta.url));
const ROUNDS = 5;

/** Child mode: `plan.ts --measure planner|duckdb <file>` prints {ms, cpu_ms, rows, rss_mb} and exits. */
async function measure(what: string, file: string): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  let rows = 0;
  if (what === "planner") {
    const planner = new Planner({ dacs: [], floatIds: [] });
    await readIndex(fileChunks(file), "core", planner.visitor("core"), planner.readOptions);
    const plan = planner.finish();
    rows = plan.floats.reduce((n, f) => n + f.listed, 0);
  } else {
    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    const r = await conn.runAndReadAll(`SELECT count(*) AS n FROM read_csv('${file.replace(/'/g, "''")}', comment = '#', header = true)`);
    rows = Number(r.getRows()[0][0]);
    conn.closeSync();
    db.closeSync();
  }
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  const cpu_ms = (cpu.user + cpu.system) / 1000;
  process.stdout.write(JSON.stringify({ ms, cpu_ms, rows, rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) }) + "\n");
}

/**
 * A file's bytes in 4 MiB chunks read into one reused buffer: the index
 * reader is done with a chunk (it copies only a cut line) before it asks for
 * the next, so nothing is allocated per chunk.
 */
async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  const fh = await open(file, "r");
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Writes an index of `rows` rows built from the fixture's real rows. */
async function generate(file: string, rows: number): Promise<number> {
  const text = readFileSync(fixture, "utf8").split("\n");
  const header = text.filter((l) => l.startsWith("#") || l.startsWith("file,"));
  const templates = text.filter((l) => l && !l.startsWith("#") && !l.startsWith("file,")).map((l) => l.split(","));
  const perFloat = 174;
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  const write = (s: string) => new Promise<void>((r) => (out.write(s) ? r() : out.once("drain", () => r())));
  await write(header.join("\n") + "\n");
  let n = 0;
  let floats = 0;
  let batch: string[] = [];
  while (n < rows) {
    const wmo = String(1_000_000 + floats * 37); // 7 digits, distinct
    floats++;
    const dac = templates[floats % templates.length][0].split("/")[0];
    for (let c = 1; c <= perFloat && n < rows; c++, n++) {
      const t = templates[(floats + c) % templates.length];
      const mode = /\/profiles\/([RD])/.exec(t[0])![1];
      batch.push(`${dac}/${wmo}/profiles/${mode}${wmo}_${String(c).padStart(3, "0")}.nc,${t.slice(1).join(",")}`);
      if (batch.length === 10_000) {
        await write(batch.join("\n") + "\n");
        batch = [];
      }
    }
  }
  await write(batch.join("\n") + (batch.length ? "\n" : ""));
  await new Promise<void>((r) => out.end(() => r()));
  return floats;
}

interface Measure {
  ms: number;
  cpu_ms: number;
  rows: number;
  rss_mb: number;
}

function runChild(what: string, file: string): Measure {
  const deno = typeof (globalThis as { Deno?: unknown }).Deno === "object";
  const self = fileURLToPath(import.meta.url);
  const cmd = deno ? ["deno", ["run", "-A", self]] as const : [process.execPath, [...process.execArgv, self]] as const;
  const out = execFileSync(cmd[0], [...cmd[1], "--measure", what, file], { encoding: "utf8", maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split("\n").pop()!);
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 3_300_000);
  const dir = await mkdtemp(join(tmpdir(), "argo-bench-plan-"));
  try {
    const file = join(dir, "ar_index_global_prof.txt");
    const floats = await generate(file, rows);
    const mb = statSync(file).size / 1e6;
    console.log(`index: ${rows.toLocaleString("en")} rows, ${floats.toLocaleString("en")} floats, ${mb.toFixed(0)} MB (from the fixture's real rows)`);
    for await (const _ of createReadStream(file, { highWaterMark: 4 << 20 })) { /* warm the page cache */ }
    // Interleaved, so a burst of load on the machine hits both alike; the best run of each counts.
    const runs: Record<string, Measure[]> = { duckdb: [], planner: [] };
    for (let r = 0; r < ROUNDS; r++) for (const what of ["duckdb", "planner"]) runs[what].push(runChild(what, file));
    const best = (what: string) => {
      const b = runs[what].reduce((a, r) => (r.ms < a.ms ? r : a));
      if (b.rows !== rows) throw new Error(`${what} counted ${b.rows} rows, expected ${rows}`);
      return { ...b, all: runs[what].map((r) => Math.round(r.ms)) };
    };
    const duck = best("duckdb");
    const plan = best("planner");
    const ratio = plan.ms / duck.ms;
    const s = (ms: number) => (ms / 1000).toFixed(2);
    console.log(`duckdb  read_csv count(*): ${s(duck.ms)} s wall, ${s(duck.cpu_ms)} s CPU (runs ms: ${duck.all.join(", ")}), peak RSS ${duck.rss_mb} MB`);
    console.log(`planner (all floats):      ${s(plan.ms)} s wall, ${s(plan.cpu_ms)} s CPU (runs ms: ${plan.all.join(", ")}), peak RSS ${plan.rss_mb} MB, ${(rows / plan.ms * 1000 / 1e6).toFixed(2)} M rows/s`);
    console.log(`planner / duckdb = ${ratio.toFixed(2)}x wall (target <= 2x): ${ratio <= 2 ? "OK" : "ABOVE TARGET"}; ${(plan.cpu_ms / duck.cpu_ms).toFixed(2)}x CPU (DuckDB uses every core, the planner one)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--measure") await measure(process.argv[3], process.argv[4]);
else await main();
