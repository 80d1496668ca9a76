/**
 * Query streaming and view opening, each beside DuckDB's own reference in
 * the same run (nothing asserted; figures printed):
 *
 * 1. `query "select * from measurements" --format csv > /dev/null` on a lake of
 *    at least 20 M rows: wall time, rows/s and peak RSS of the query job,
 *    against a process that opens the same views and runs DuckDB's own
 *    `COPY (SELECT * FROM measurements) TO '/dev/null' (FORMAT csv)`.
 * 2. Opening the views on a lake of 20,000 measurement files (and counting
 *    its rows), against DuckDB reading the same files by glob with
 *    union_by_name = false.
 *
 * The lakes are built at run time from the fixtures (parsed, then the real
 * measurement rows replicated under new WMO ids, or files hard-linked), in a
 * temporary folder that is removed at the end (--keep keeps it).
 *
 *   npx tsx bench/query-stream.ts [--rows 20000000] [--files 20000] [--dir /tmp/argo-lake-stream] [--keep]
 */
import { spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { link, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createLakeViews, listLocalTableFiles, openDuckDB } from "../lib/duckdb.ts";
import { partitionFileKey, tableGlob } from "../lib/lake/layout.ts";
import { sqlString } from "../lake/views.ts";
import { parsedFixtureLake } from "./fixture-lake.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const fmt = (n: number, d = 1) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const line = (label: string, value: string) => console.log(`  ${label.padEnd(62)} ${value}`);
const now = () => performance.now();

// A child mode: the reference process, DuckDB's own COPY over the same views.
if (args[0] === "--reference") {
  const db = await openDuckDB();
  await createLakeViews(db, args[1]!);
  const r = await db.all(`COPY (${args[2]!}) TO '/dev/null' (FORMAT csv, HEADER true)`);
  db.close();
  console.log(JSON.stringify({ rows: Number(r[0]?.Count ?? 0) }));
  process.exit(0);
}

const targetRows = Number(flag("rows", "20000000"));
const targetFiles = Number(flag("files", "20000"));
const dir = flag("dir", "/tmp/argo-lake-stream");
const keep = args.includes("--keep");

/** Runs a command with stdout to /dev/null; wall time and peak RSS (VmHWM polled from /proc). */
function measure(cmd: string, argv: string[]): Promise<{ ms: number; peakMb: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const devnull = openSync("/dev/null", "w");
    const child = spawn(cmd, argv, { cwd: repo, stdio: ["ignore", argv.includes("--reference") ? "pipe" : devnull, "inherit"], env: { ...process.env, LOG_LEVEL: "warn" } });
    let peak = 0;
    let out = "";
    child.stdout?.on("data", (b) => (out += b));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch { /* exited */ }
    }, 20);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(" ")} exited ${code}`));
      else resolve({ ms: now() - t0, peakMb: peak, stdout: out });
    });
  });
}

console.log(`argo-lake query streaming benchmark (node ${process.version}), working in ${dir}`);
await rm(dir, { recursive: true, force: true });
const fixtures = join(dir, "fixtures");
await parsedFixtureLake(repo, fixtures);

// ---- 1. a lake of >= targetRows rows: the fixture lake's rows replicated into 100 floats' files
{
  const big = join(dir, "big");
  const db = await openDuckDB();
  await createLakeViews(db, fixtures);
  const base = Number((await db.all("SELECT count(*) AS n FROM measurements"))[0]!.n);
  const floats = 100;
  const copies = Math.ceil(targetRows / (base * floats));
  const t = now();
  for (let f = 0; f < floats; f++) {
    const wmo = String(3_000_000 + f);
    const path = join(big, ...partitionFileKey("measurements", "aoml", 2000 + (f % 20), wmo).split("/"));
    await mkdir(dirname(path), { recursive: true });
    await db.run(
      `COPY (SELECT * EXCLUDE (dac, year) REPLACE ('${wmo}' AS float_id, cycle_number + k * 10000 AS cycle_number)
             FROM measurements CROSS JOIN range(${copies}) AS r(k) ORDER BY k, float_id, cycle_number, direction, profile_index, level)
       TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  }
  db.close();
  const rows = base * floats * copies;
  console.log(`\n== select * from measurements, CSV to /dev/null: ${fmt(rows, 0)} rows in ${floats} files (built in ${fmt((now() - t) / 1000)} s)`);
  const sql = "select * from measurements";
  const ref = await measure(process.execPath, ["--import", "tsx", "bench/query-stream.ts", "--reference", big, sql]);
  const ours = await measure(process.execPath, ["--import", "tsx", "jobs/query.ts", "--lake", big, "--format", "csv", sql]);
  line("reference: DuckDB COPY (SELECT ...) TO '/dev/null' (FORMAT csv)", `${fmt(ref.ms / 1000, 2)} s, ${fmt(rows / (ref.ms / 1000) / 1e6, 2)} M rows/s, peak RSS ${fmt(ref.peakMb, 0)} MB`);
  line("query --format csv > /dev/null", `${fmt(ours.ms / 1000, 2)} s, ${fmt(rows / (ours.ms / 1000) / 1e6, 2)} M rows/s, peak RSS ${fmt(ours.peakMb, 0)} MB`);
  line("query / reference rows/s (target >= 80%); peak RSS (target < 400 MB)", `${fmt((100 * ref.ms) / ours.ms, 0)}%; ${fmt(ours.peakMb, 0)} MB`);
  await rm(big, { recursive: true, force: true });
}

// ---- 2. a lake of targetFiles measurement files: the fixture lake's files hard-linked under new WMO ids
{
  const many = join(dir, "many");
  const src = await listLocalTableFiles(fixtures, "measurements");
  for (let i = 0; i < targetFiles; i++) {
    const path = join(many, ...partitionFileKey("measurements", "aoml", 1990 + (i % 30), String(4_000_000 + i)).split("/"));
    if (i < 30) await mkdir(dirname(path), { recursive: true });
    await link(src[i % src.length]!, path);
  }
  const timeIt = async (f: () => Promise<unknown>) => {
    const t0 = now();
    const v = await f();
    return { ms: now() - t0, v };
  };
  console.log(`\n== Opening the views on ${fmt(targetFiles, 0)} measurement files (and counting the rows)`);
  const refDb = await openDuckDB();
  const ref = await timeIt(async () =>
    (await refDb.all(`SELECT count(*) AS n FROM read_parquet(${sqlString(tableGlob(many, "measurements"))}, hive_partitioning = true, union_by_name = false)`))[0]!.n
  );
  refDb.close();
  const db = await openDuckDB();
  const ours = await timeIt(async () => {
    await createLakeViews(db, many);
    return (await db.all("SELECT count(*) AS n FROM measurements"))[0]!.n;
  });
  db.close();
  line("reference: DuckDB read_parquet(glob, union_by_name = false), count(*)", `${fmt(ref.ms, 0)} ms (${ref.v} rows)`);
  line("createLakeViews (listed files, every view) + count(*)", `${fmt(ours.ms, 0)} ms (${ours.v} rows)`);
  line("ours / reference (target <= 2x)", `${fmt(ours.ms / ref.ms, 2)}x`);
}

if (!keep) await rm(dir, { recursive: true, force: true });
