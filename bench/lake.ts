/**
 * Lake benchmark: parse throughput, Parquet writer choice, and query latency
 * on the fixture lake and on a synthetic lake of real profiles replicated to
 * millions of rows. Prints figures, each next to a reference measured in the
 * same run. Not a test: nothing is asserted.
 *
 *   npx tsx bench/lake.ts [--rows 20000000] [--dir /tmp/argo-lake-bench] [--keep]
 *   deno run -A bench/lake.ts ...
 *
 * The apache-arrow writer needs parquet-wasm (not a project dependency):
 * `npm install --no-save parquet-wasm@0.8.0`, or PARQUET_WASM_DIR=<folder whose
 * node_modules has it>. Without it that line is skipped.
 */
import { readFileSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import process from "node:process";
import * as arrow from "apache-arrow";
import { NetCDFReader } from "netcdfjs";
import { loadConfig } from "../lib/config.ts";
import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { type Column, type ColumnTable, NULL_I16, NULL_I32, NULL_I8, takeRows } from "../lib/lake/columns.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { ParquetWriter } from "../lib/lake/parquet.ts";
import { createLogger } from "../lib/log.ts";
import { parseFloatFiles, processFloat } from "../lib/parse/float.ts";
import { runParse } from "../lib/parse/run.ts";
import { buildFloatTables } from "../lib/parse/tables.ts";
import { runtimeName } from "../lib/runtime.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const targetRows = Number(flag("rows", "20000000"));
const benchDir = flag("dir", "/tmp/argo-lake-bench");
const keep = args.includes("--keep");
const fixtures = new URL("../../shared/fixtures/gdac/dac/", import.meta.url).pathname;
const log = createLogger({ level: "error" });

const mb = (bytes: number) => bytes / 1e6;
const fmt = (n: number, d = 1) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const line = (label: string, value: string) => console.log(`  ${label.padEnd(58)} ${value}`);
const now = () => performance.now();

/** Every fixture file as (dac, wmo, path below the float folder, absolute path). */
async function fixtureFiles(): Promise<Array<{ dac: string; wmo: string; rest: string; file: string }>> {
  const out = [];
  for (const dac of (await readdir(fixtures)).sort()) {
    for (const wmo of (await readdir(join(fixtures, dac))).sort()) {
      for (const e of await readdir(join(fixtures, dac, wmo), { recursive: true, withFileTypes: true })) {
        if (!e.isFile() || !e.name.endsWith(".nc")) continue;
        const file = join(e.parentPath, e.name);
        out.push({ dac, wmo, rest: file.slice(join(fixtures, dac, wmo).length + 1), file });
      }
    }
  }
  return out;
}

async function dirSize(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith(".parquet")) {
      bytes += (await stat(join(e.parentPath, e.name))).size;
      files++;
    }
  }
  return { bytes, files };
}

/** Median wall time (ms) of `runs` runs after one warm-up; also returns the warm-up (cold) time. */
async function timeQuery(db: DuckSession, sql: string, runs = 5): Promise<{ cold: number; median: number; rows: number }> {
  let t = now();
  const first = await db.all(sql);
  const cold = now() - t;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    t = now();
    await db.all(sql);
    times.push(now() - t);
  }
  times.sort((a, b) => a - b);
  return { cold, median: times[Math.floor(times.length / 2)]!, rows: first.length };
}

// ---------------------------------------------------------------- parse

async function benchParse(files: Awaited<ReturnType<typeof fixtureFiles>>): Promise<string> {
  console.log("\n== Parse: fixture mirror (15 floats) through runParse");
  const lake = join(benchDir, "fixture");
  await rm(lake, { recursive: true, force: true });
  const store = new LocalLakeStore(lake);
  let landed = 0;
  for (const f of files) {
    const bytes = readFileSync(f.file);
    landed += bytes.length;
    await store.put(`raw/dac=${f.dac}/wmo=${f.wmo}/${f.rest}`, bytes);
  }
  line("raw files landed (all kinds)", `${files.length} files, ${fmt(mb(landed))} MB`);

  // Reference: netcdfjs opening every parsed file and reading every variable (no Argo logic, no output).
  const inputs = files.filter((f) => /^(profiles\/(B?[RD])\d+_\d+D?\.nc|\d+_meta\.nc)$/.test(f.rest));
  let t = now();
  let refBytes = 0;
  for (const f of inputs) {
    const buf = readFileSync(f.file);
    refBytes += buf.length;
    const r = new NetCDFReader(buf);
    for (const v of r.variables) r.getDataVariable(v.name);
  }
  const refMs = now() - t;
  line("reference: netcdfjs read of every variable (1 thread)", `${fmt(mb(refBytes) / (refMs / 1000))} MB/s`);

  // Steady state in one thread, no worker start-up: parse + build tables + write Parquet, 3 rounds.
  const writer = await ParquetWriter.open();
  const outDir = join(benchDir, "tmp-out");
  await mkdir(outDir, { recursive: true });
  const byFloat = new Map<string, { dac: string; wmo: string; files: { rest: string; bytes: Uint8Array }[] }>();
  for (const f of inputs) {
    const k = `${f.dac}/${f.wmo}`;
    if (!byFloat.has(k)) byFloat.set(k, { dac: f.dac, wmo: f.wmo, files: [] });
    byFloat.get(k)!.files.push({ rest: f.rest, bytes: readFileSync(f.file) });
  }
  let profiles = 0;
  t = now();
  for (let round = 0; round < 3; round++) {
    for (const f of byFloat.values()) profiles += (await processFloat({ ...f, profileBatchLimit: null }, writer, outDir, "zstd")).profiles;
  }
  const steadyMs = (now() - t) / 3;
  let parseMs = 0;
  let buildMs = 0;
  for (const f of byFloat.values()) {
    const t0 = now();
    const parsed = await parseFloatFiles({ ...f, profileBatchLimit: null });
    const t1 = now();
    buildFloatTables(parsed.input);
    parseMs += t1 - t0;
    buildMs += now() - t1;
  }
  await writer.close();
  await rm(outDir, { recursive: true, force: true });
  line("steady state, 1 thread: parse + tables + Parquet", `${fmt(mb(refBytes) / (steadyMs / 1000))} MB/s, ${fmt(profiles / 3 / (steadyMs / 1000))} profiles/s`);
  line("  of which NetCDF -> Argo records (the parser)", `${fmt(parseMs)} ms (${fmt(mb(refBytes) / (parseMs / 1000))} MB/s)`);
  line("  of which records -> typed columns", `${fmt(buildMs)} ms`);
  line("  of which Parquet writing (the rest)", `${fmt(steadyMs - parseMs - buildMs)} ms`);

  let report = "";
  for (const workers of [1, 2]) {
    const config = loadConfig({ env: { LAKE_URL: lake, MAX_WORKERS: String(workers), LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
    const s = await runParse(config, store, log, { force: true });
    line(`runParse, MAX_WORKERS=${workers} (wall, incl. worker start-up)`,
      `${fmt(mb(s.bytes_in) / s.duration_s)} MB/s, ${fmt(s.profiles / s.duration_s)} profiles/s, ${fmt(s.duration_s, 2)} s`);
    report = `${s.measurement_rows} rows, ${s.parquet_files_written} files; Parquet out / NetCDF in = ${fmt(s.bytes_out / s.bytes_in, 3)} ` +
      `(${fmt(mb(s.bytes_out), 2)} MB / ${fmt(mb(s.bytes_in), 2)} MB; / all raw landed = ${fmt(s.bytes_out / landed, 3)})`;
  }
  line("output", report);

  // Enough work to amortise worker start-up: every fixture float landed again under each of the 11 DACs.
  const big = join(benchDir, "fixture-x11");
  await rm(big, { recursive: true, force: true });
  const bigStore = new LocalLakeStore(big);
  const dacs = ["aoml", "bodc", "coriolis", "csio", "csiro", "incois", "jma", "kma", "kordi", "meds", "nmdis"];
  for (const dac of dacs) for (const f of inputs) await bigStore.put(`raw/dac=${dac}/wmo=${f.wmo}/${f.rest}`, readFileSync(f.file));
  for (const workers of [1, 2]) {
    const config = loadConfig({ env: { LAKE_URL: big, MAX_WORKERS: String(workers), LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
    const s = await runParse(config, bigStore, log, { force: true });
    line(`runParse x11 (${s.floats_parsed} floats), MAX_WORKERS=${workers} (wall)`,
      `${fmt(mb(s.bytes_in) / s.duration_s)} MB/s, ${fmt(s.profiles / s.duration_s)} profiles/s, ${fmt(s.duration_s, 2)} s`);
  }
  await rm(big, { recursive: true, force: true });
  return lake;
}

// ---------------------------------------------------------------- writers

/** An apache-arrow vector for one of our columns (dictionary strings, validity from sentinels). */
function arrowVector(col: Column): arrow.Vector {
  const validity = (n: number, ok: (i: number) => boolean) => {
    const bits = new Uint8Array(Math.ceil(n / 8));
    let nulls = 0;
    for (let i = 0; i < n; i++) if (ok(i)) bits[i >> 3]! |= 1 << (i & 7); else nulls++;
    return { nullBitmap: bits, nullCount: nulls };
  };
  switch (col.type) {
    case "FLOAT":
      return arrow.makeVector(arrow.makeData({ type: new arrow.Float32(), length: col.data.length, data: col.data, ...validity(col.data.length, (i) => col.data[i] === col.data[i]) }));
    case "DOUBLE":
      return arrow.makeVector(arrow.makeData({ type: new arrow.Float64(), length: col.data.length, data: col.data, ...validity(col.data.length, (i) => col.data[i] === col.data[i]) }));
    case "TIMESTAMPTZ": {
      const us = BigInt64Array.from(col.data, (v) => (Number.isNaN(v) ? 0n : BigInt(Math.round(v))));
      return arrow.makeVector(arrow.makeData({ type: new arrow.TimestampMicrosecond("UTC"), length: us.length, data: us, ...validity(us.length, (i) => col.data[i] === col.data[i]) }));
    }
    case "TINYINT":
      return arrow.makeVector(arrow.makeData({ type: new arrow.Int8(), length: col.data.length, data: col.data, ...validity(col.data.length, (i) => col.data[i] !== NULL_I8) }));
    case "SMALLINT":
      return arrow.makeVector(arrow.makeData({ type: new arrow.Int16(), length: col.data.length, data: col.data, ...validity(col.data.length, (i) => col.data[i] !== NULL_I16) }));
    case "INTEGER":
      return arrow.makeVector(arrow.makeData({ type: new arrow.Int32(), length: col.data.length, data: col.data, ...validity(col.data.length, (i) => col.data[i] !== NULL_I32) }));
    case "VARCHAR": {
      const dictionary = arrow.vectorFromArray(col.dict.length ? [...col.dict] : [""], new arrow.Utf8());
      const codes = Int32Array.from(col.codes, (c) => (c < 0 ? 0 : c));
      return arrow.makeVector(arrow.makeData({
        type: new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()),
        length: codes.length,
        data: codes,
        dictionary,
        ...validity(codes.length, (i) => col.codes[i]! >= 0),
      }));
    }
    case "json":
      return arrow.vectorFromArray(col.json, new arrow.Utf8());
  }
}

interface ParquetWasm {
  Table: { fromIPCStream(b: Uint8Array): unknown };
  WriterPropertiesBuilder: new () => { setCompression(c: unknown): { build(): unknown } };
  Compression: { ZSTD: unknown };
  writeParquet(t: unknown, p: unknown): Uint8Array;
}

function loadParquetWasm(): ParquetWasm | null {
  for (const base of [process.env.PARQUET_WASM_DIR, process.cwd()].filter(Boolean) as string[]) {
    try {
      return createRequire(join(base, "package.json"))("parquet-wasm/node") as ParquetWasm;
    } catch { /* try the next place */ }
  }
  return null;
}

async function benchWriters(): Promise<void> {
  console.log("\n== Writers: the same real measurement rows (float 2902269 replicated) to Parquet, zstd");
  const files = (await fixtureFiles()).filter((f) => f.wmo === "2902269" && /^profiles\/R/.test(f.rest));
  const parsed = await parseFloatFiles({ dac: "incois", wmo: "2902269", files: files.map((f) => ({ rest: f.rest, bytes: readFileSync(f.file) })), profileBatchLimit: null });
  const tables = buildFloatTables(parsed.input);
  const base = [...tables.measurements.values()][0]!;
  const reps = Math.ceil(1_000_000 / base.rowCount);
  const rows = Int32Array.from({ length: base.rowCount * reps }, (_, i) => i % base.rowCount);
  const table: ColumnTable = takeRows(base, rows);
  const memBytes = table.columns.reduce((a, c) => a + ("data" in c ? c.data.byteLength : "codes" in c ? c.codes.byteLength : 0), 0);
  line("table", `${fmt(table.rowCount, 0)} rows x ${table.columns.length} columns, ${fmt(mb(memBytes))} MB in memory`);

  /** Median of 3 timed runs after a warm-up: this machine's 2 cores make single runs noisy. */
  const median3 = async (f: () => Promise<unknown> | unknown) => {
    await f();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = now();
      await f();
      times.push(now() - t0);
    }
    return times.sort((a, b) => a - b)[1]!;
  };
  const writer = await ParquetWriter.open();
  const path = join(benchDir, "writer-duckdb.parquet");
  let size = 0;
  const duckMs = await median3(async () => (size = await writer.writeFile(table, path, "zstd")));
  await writer.close();
  line("DuckDB (vectors copied whole, COPY ... FORMAT parquet, 1 thread)",
    `${fmt(table.rowCount / (duckMs / 1000) / 1e6, 2)} M rows/s, ${fmt(mb(memBytes) / (duckMs / 1000))} MB/s, file ${fmt(mb(size), 2)} MB`);

  const pw = loadParquetWasm();
  if (!pw) {
    line("apache-arrow + parquet-wasm", "skipped: parquet-wasm not installed (see the header of bench/lake.ts)");
    return;
  }
  const run = () => {
    const vectors: Record<string, arrow.Vector> = {};
    for (const c of table.columns) vectors[c.name] = arrowVector(c);
    const ipc = arrow.tableToIPC(new arrow.Table(vectors), "stream");
    return pw.writeParquet(pw.Table.fromIPCStream(ipc), new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).build());
  };
  let out: Uint8Array = new Uint8Array();
  const arrowMs = await median3(() => (out = run()));
  line("apache-arrow table -> IPC -> parquet-wasm (1 thread)",
    `${fmt(table.rowCount / (arrowMs / 1000) / 1e6, 2)} M rows/s, ${fmt(mb(memBytes) / (arrowMs / 1000))} MB/s, file ${fmt(mb(out.byteLength), 2)} MB`);
  line("DuckDB / arrow speed", `${fmt(arrowMs / duckMs, 2)}x`);
}

// ---------------------------------------------------------------- queries

const queries = (floatId: string) => [
  { name: "one float's profiles (every level)", sql: `SELECT cycle_number, direction, profile_index, level, pres, temp, psal FROM measurements WHERE float_id = '${floatId}' ORDER BY 1, 2, 3, 4` },
  {
    name: "mean temp at 0-10 dbar, 10x10 deg box, by month",
    sql: "SELECT date_trunc('month', time) AS month, avg(temp) AS temp, count(*) AS n FROM measurements " +
      "WHERE pres BETWEEN 0 AND 10 AND latitude BETWEEN 30 AND 40 AND longitude BETWEEN 20 AND 30 GROUP BY 1 ORDER BY 1",
  },
  {
    name: "latest profile of every float",
    sql: "SELECT float_id, cycle_number, direction, time, latitude, longitude, data_mode FROM profiles " +
      "QUALIFY row_number() OVER (PARTITION BY float_id ORDER BY time DESC NULLS LAST, cycle_number DESC) = 1",
  },
];

async function benchQueries(label: string, root: string, floatId: string): Promise<void> {
  const db = await openDuckDB();
  const t = now();
  const views = await createLakeViews(db, root);
  const viewsMs = now() - t;
  const [count] = await db.all("SELECT count(*) AS n FROM measurements");
  const size = await dirSize(join(root, "parquet"));
  console.log(`\n== Queries: ${label}: ${fmt(Number(count!.n), 0)} measurement rows, ${size.files} Parquet files, ${fmt(mb(size.bytes))} MB`);
  line("opening the views (lists files, reads schemas)", `${fmt(viewsMs)} ms (${views.files.measurements} measurement files)`);
  const ref = await timeQuery(db, "SELECT count(*), avg(temp) FROM measurements");
  line("reference: full scan, count(*) and avg(temp)", `${fmt(ref.median)} ms (cold ${fmt(ref.cold)} ms)`);
  for (const q of queries(floatId)) {
    const r = await timeQuery(db, q.sql);
    line(q.name, `${fmt(r.median)} ms median, cold ${fmt(r.cold)} ms, ${r.rows} rows`);
  }
  db.close();
}

// ---------------------------------------------------------------- synthetic lake

/**
 * Builds a lake of `target` measurement rows from the fixture lake's real
 * profiles, directly as Parquet: synthetic float s copies template float
 * (s mod 15) `reps` times, with a new WMO id, cycle numbers shifted by 1000 per
 * copy, times shifted by whole years per float and 45 days per copy, and
 * positions nudged, in the same layout (one file per float per dac/year).
 */
async function buildSynthetic(fixtureLake: string, target: number): Promise<{ root: string; floatId: string }> {
  const root = join(benchDir, "synthetic");
  await rm(root, { recursive: true, force: true });
  const db = await openDuckDB();
  const templates = await db.all(
    `SELECT float_id, any_value(dac) AS dac, count(*) FILTER (WHERE time IS NOT NULL) AS n FROM read_parquet('${fixtureLake}/parquet/measurements/**/*.parquet', hive_partitioning = true, union_by_name = true) GROUP BY ALL ORDER BY 1`,
  );
  const reps = 8;
  // Rows without a time are left out (no year): count what each copy really gives.
  let floats = 0;
  for (let rows = 0; rows < target; floats++) rows += Number(templates[floats % templates.length]!.n) * reps;
  console.log(`\n== Building the synthetic lake: ${floats} floats x ${reps} copies of real profiles (${templates.length} templates)`);
  const t = now();
  for (const table of ["measurements", "profiles"] as const) {
    await mkdir(join(root, "parquet", table), { recursive: true });
    for (let s = 0; s < floats; s++) {
      const tpl = templates[s % templates.length]!;
      const wmo = String(3_000_000 + s);
      const files = `'${fixtureLake}/parquet/${table}/dac=${tpl.dac}/*/${tpl.float_id}.parquet'`;
      const shift = `INTERVAL (${(s % 7) - 3}) YEAR + INTERVAL (k * 45) DAY`;
      const order = table === "measurements" ? "cycle_number, direction, profile_index, level" : "cycle_number, direction, profile_index";
      await db.run(
        `COPY (
           SELECT * EXCLUDE (k, dac, year, s_off) REPLACE ('${wmo}' AS float_id, cycle_number + k * 1000 AS cycle_number, time + ${shift} AS time,
                  latitude + ((k % 3) - 1) * 0.7 AS latitude, longitude + ((s_off) - 1) * 0.7 AS longitude),
                  dac, CAST(year(time + ${shift}) AS INTEGER) AS year
           FROM (SELECT *, ${s % 3} AS s_off FROM read_parquet(${files}, hive_partitioning = true, hive_types = {'dac': VARCHAR, 'year': INTEGER}))
           CROSS JOIN range(${reps}) AS r(k)
           WHERE time IS NOT NULL
           ORDER BY ${order}
         ) TO '${root}/parquet/${table}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dac, year), FILENAME_PATTERN '${wmo}_{i}', OVERWRITE_OR_IGNORE true)`,
      );
    }
  }
  // DuckDB names files <wmo>_0.parquet: rename to the lake's <wmo>.parquet.
  for (const e of await readdir(join(root, "parquet"), { recursive: true, withFileTypes: true })) {
    const m = /^(\d+)_0\.parquet$/.exec(e.name);
    if (e.isFile() && m) await rename(join(e.parentPath, e.name), join(e.parentPath, `${m[1]}.parquet`));
  }
  db.close();
  const size = await dirSize(join(root, "parquet"));
  line("built", `${fmt((now() - t) / 1000)} s, ${size.files} files, ${fmt(mb(size.bytes))} MB`);
  return { root, floatId: String(3_000_000 + 5) };
}

// ---------------------------------------------------------------- main

console.log(`argo-lake lake benchmark (${runtimeName}, ${(await import("node:os")).cpus().length} cores), working in ${benchDir}`);
await mkdir(benchDir, { recursive: true });
const files = await fixtureFiles();
const fixtureLake = await benchParse(files);
await benchWriters();
await benchQueries("fixture lake", fixtureLake, "6903247");
if (targetRows > 0) {
  const synthetic = await buildSynthetic(fixtureLake, targetRows);
  await benchQueries("synthetic lake", synthetic.root, synthetic.floatId);
}
if (!keep) await rm(benchDir, { recursive: true, force: true });
