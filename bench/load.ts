/**
 * Load benchmark. Prints figures, each next to a reference measured in the
 * same run; asserts nothing.
 *
 *  1. Load stage per 10,000 profiles into Postgres: unnest batches
 *     (INSERT ... SELECT FROM unnest($1::text[], ...) ON CONFLICT, what the
 *     load uses) against one INSERT ... ON CONFLICT per row (the reference),
 *     each into a fresh database, then the reload of unchanged data; and into
 *     Redis alone. The lake is the fixture mirror's floats, parsed, then
 *     replicated under new WMO numbers (real profiles and levels) until it
 *     holds --profiles profiles.
 *  2. run-float, per stage, for the two largest fixture floats (2902269:
 *     57 profiles, 16,370 levels; 5900865: 80 profiles, 5,680 levels), on a
 *     fresh lake and database, then again on unchanged data.
 *  3. The whole load job (a process of its own: wall time and peak RSS)
 *     into Postgres and Redis at two lake sizes (--sizes, default 500 and
 *     5,000 floats: the fixture lake's Parquet copied under new WMO numbers):
 *     the first load, a no-op load, a load after 1% of the floats changed
 *     (their last cycle dropped from their files and named in the parquet
 *     change journal, as parse does), and `load --full` on the unchanged
 *     lake (what every load did before the journal); beside the reference,
 *     a DuckDB process reading every column of the same Parquet files once.
 *
 *   npx tsx bench/load.ts [--profiles 10000] [--runs 3] [--sizes 500,5000] [--only 1,2,3] [--dir /tmp/argo-load-bench] [--keep]
 *   deno run -A bench/load.ts ...
 *
 * Needs the machine's Postgres (BENCH_PG, default postgres://postgres@127.0.0.1:5432)
 * and Redis (BENCH_REDIS, default redis://127.0.0.1:6379); uses its own
 * databases and key prefix and removes them afterwards.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import pg from "pg";
import { Redis } from "ioredis";
import { loadConfig } from "../lib/config.ts";
import { openDuckDB } from "../lib/duckdb.ts";
import { writeJournal } from "../lib/lake/changes.ts";
import { parseTableFileKey } from "../lib/lake/layout.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { type LoadStats, runLoad } from "../lib/load/run.ts";
import { createLogger } from "../lib/log.ts";
import { runFloat, stageStats } from "../lib/runner.ts";
import type { RunRecord } from "../lib/schedule/runs.ts";
import { runtimeName } from "../lib/runtime.ts";
import { parsedFixtureLake } from "./fixture-lake.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const targetProfiles = Number(flag("profiles", "10000"));
const runs = Number(flag("runs", "3"));
const benchDir = flag("dir", "/tmp/argo-load-bench");
const keep = args.includes("--keep");
const sizes = flag("sizes", "500,5000").split(",").map(Number);
const only = new Set(flag("only", "1,2,3").split(","));
const pgBase = (process.env.BENCH_PG ?? "postgres://postgres@127.0.0.1:5432").replace(/\/+$/, "");
const redisUrl = process.env.BENCH_REDIS ?? "redis://127.0.0.1:6379";
const fixtures = new URL("../../shared/fixtures/gdac", import.meta.url).pathname;
const FIXTURE_FLOATS = ["13857", "1900857", "2901623", "2901746", "2901780", "2902269", "2902696", "3902131", "4901079", "4902252", "5900446", "5900865", "5906072", "6901929", "6903247"];
const quiet = createLogger({ level: "error", write: () => {} });
const prefix = `bench:load:${process.pid}:`;
const created: string[] = [];

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: `${pgBase}/postgres` });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh, empty database; its URL. */
async function freshDb(tag: string): Promise<string> {
  const name = `argo_bench_${tag}_${process.pid}`;
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  created.push(name);
  return `${pgBase}/${name}`;
}

function config(lake: string, env: Record<string, string>) {
  return loadConfig({ env: { GDAC_BASE_URL: fixtures, LAKE_URL: lake, REDIS_PREFIX: prefix, REDIS_TTL: "0", BATCH_SIZE: "25", ...env }, envFile: "/nonexistent/.env" });
}

async function clearRedis(): Promise<void> {
  const r = new Redis(redisUrl);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length) await r.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    r.disconnect();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const per10k = (ms: number, profiles: number) => (ms * 10_000) / profiles;
const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

/** The fixture lake's floats, parsed, then replicated under new WMO numbers up to `target` profiles. */
async function buildLake(dir: string, target: number): Promise<{ floats: number; profiles: number; levels: number }> {
  const base = join(dir, "base");
  const store = new LocalLakeStore(base);
  for (const wmo of FIXTURE_FLOATS) {
    const s = await runFloat(config(base, {}), store, quiet, wmo);
    if (s.verdict !== "succeeded") throw new Error(`run-float ${wmo}: ${s.verdict}: ${s.error}`);
  }
  const lake = join(dir, "lake");
  await rm(lake, { recursive: true, force: true });
  const duck = await openDuckDB({ threads: 2 });
  try {
    const files = (await readdir(join(base, "parquet"), { recursive: true })).filter((f) => f.endsWith(".parquet") && !f.includes("_state"));
    const [{ n: perCopy }] = await duck.all(`SELECT count(*) AS n FROM read_parquet('${base}/parquet/profiles/**/*.parquet')`);
    const copies = Math.ceil(target / Number(perCopy));
    for (let c = 0; c < copies; c++) {
      for (const f of files) {
        const m = /^(.*)\/(\d+)\.parquet$/.exec(f)!;
        // New 7-digit WMO numbers: 79 + copy (3 digits) + source index (2 digits).
        const wmo = `79${String(c).padStart(3, "0")}${String(FIXTURE_FLOATS.indexOf(m[2]!)).padStart(2, "0")}`;
        const out = join(lake, "parquet", m[1]!, `${wmo}.parquet`);
        await mkdir(join(lake, "parquet", m[1]!), { recursive: true });
        await duck.run(`COPY (SELECT * REPLACE ('${wmo}' AS float_id) FROM read_parquet('${join(base, "parquet", f)}')) TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
      }
    }
    const [p] = await duck.all(`SELECT count(*) AS n, count(DISTINCT float_id) AS f FROM read_parquet('${lake}/parquet/profiles/**/*.parquet')`);
    const [l] = await duck.all(`SELECT count(*) AS n FROM read_parquet('${lake}/parquet/measurements/**/*.parquet')`);
    return { floats: Number(p.f), profiles: Number(p.n), levels: Number(l.n) };
  } finally {
    duck.close();
  }
}

async function timedLoad(lake: string, env: Record<string, string>, method: "batch" | "row"): Promise<{ wall: number; stats: LoadStats }> {
  const t0 = performance.now();
  const stats = await runLoad(config(lake, env), new LocalLakeStore(lake), quiet, { insertMethod: method });
  return { wall: performance.now() - t0, stats };
}

async function main(): Promise<void> {
  await mkdir(benchDir, { recursive: true });
  console.log(`# load benchmark (${runtimeName}, ${new Date().toISOString()})`);
  if (only.has("1") || only.has("2")) await stageSections();
  if (only.has("3")) await scaleSection();
}

async function stageSections(): Promise<void> {
  const t0 = performance.now();
  const lakeInfo = await buildLake(benchDir, targetProfiles);
  const lake = join(benchDir, "lake");
  console.log(`lake: ${lakeInfo.floats} floats, ${lakeInfo.profiles} profiles, ${lakeInfo.levels} levels (fixture floats replicated; built in ${fmt(performance.now() - t0)})\n`);

  if (only.has("1")) await postgresSection(lake, lakeInfo);
  if (only.has("2")) await runFloatSection();
}

async function postgresSection(lake: string, lakeInfo: { floats: number; profiles: number }): Promise<void> {
  console.log("## 1. load stage per 10,000 profiles (median of runs; each into a fresh database)");
  console.log("| target | method | wall (whole load stage) | in Postgres/Redis | reading the lake (DuckDB) |");
  console.log("|---|---|---|---|---|");
  for (const method of ["row", "batch"] as const) {
    const walls: number[] = [], pgs: number[] = [], lakes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const url = await freshDb(`${method}${i}`);
      const { wall, stats } = await timedLoad(lake, { DATABASE_URL: url }, method);
      walls.push(wall), pgs.push(stats.timings_ms.postgres), lakes.push(stats.timings_ms.lake);
    }
    const label = method === "row" ? "one INSERT per row (reference)" : "unnest batches";
    console.log(`| Postgres, empty | ${label} | ${fmt(per10k(median(walls), lakeInfo.profiles))} | ${fmt(per10k(median(pgs), lakeInfo.profiles))} | ${fmt(per10k(median(lakes), lakeInfo.profiles))} |`);
  }
  {
    const url = await freshDb("reload");
    await timedLoad(lake, { DATABASE_URL: url }, "batch");
    for (const method of ["row", "batch"] as const) {
      const walls: number[] = [], pgs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const { wall, stats } = await timedLoad(lake, { DATABASE_URL: url }, method);
        if (stats.profiles_inserted + stats.profiles_updated + stats.climatology_cells_changed !== 0) throw new Error("a reload changed rows");
        walls.push(wall), pgs.push(stats.timings_ms.postgres);
      }
      const label = method === "row" ? "one INSERT per row (reference)" : "unnest batches";
      console.log(`| Postgres, reload of unchanged data | ${label} | ${fmt(per10k(median(walls), lakeInfo.profiles))} | ${fmt(per10k(median(pgs), lakeInfo.profiles))} | - |`);
    }
  }
  {
    const walls: number[] = [], rs: number[] = [];
    let levels = 0;
    for (let i = 0; i < runs; i++) {
      await clearRedis();
      const { wall, stats } = await timedLoad(lake, { REDIS_URL: redisUrl }, "batch");
      walls.push(wall), rs.push(stats.timings_ms.redis);
      levels = stats.redis_levels_written;
    }
    console.log(`| Redis (${lakeInfo.floats} floats, ${levels} latest-profile levels) | one MULTI per float | ${fmt(per10k(median(walls), lakeInfo.profiles))} | ${fmt(per10k(median(rs), lakeInfo.profiles))} | - |`);
    await clearRedis();
  }
}

async function runFloatSection(): Promise<void> {
  console.log("\n## 2. run-float per stage (fresh lake and database, then the same run again on unchanged data)");
  console.log("| float | run | sync | parse | load | total |");
  console.log("|---|---|---|---|---|---|");
  for (const wmo of ["2902269", "5900865"]) {
    const rows: { first: RunRecord[]; again: RunRecord[] } = { first: [], again: [] };
    for (let i = 0; i < runs; i++) {
      const dir = join(benchDir, `rf-${wmo}-${i}`);
      await rm(dir, { recursive: true, force: true });
      const env = { DATABASE_URL: await freshDb(`rf${wmo}${i}`), REDIS_URL: redisUrl };
      const store = new LocalLakeStore(dir);
      rows.first.push(await runFloat(config(dir, env), store, quiet, wmo));
      rows.again.push(await runFloat(config(dir, env), store, quiet, wmo));
      await rm(dir, { recursive: true, force: true });
      await clearRedis();
    }
    for (const [label, list] of Object.entries(rows)) {
      const bad = list.find((s) => s.verdict !== "succeeded");
      if (bad) throw new Error(`run-float ${wmo}: ${bad.verdict}: ${bad.error}`);
      const m = (k: "sync" | "parse" | "load" | "total") => fmt(median(list.map((s) => (k === "total" ? s.duration_ms : s.stages.find((x) => x.stage === k)?.duration_ms ?? 0))));
      console.log(`| ${wmo} (${stageStats(list[0]!, "parse")!.profiles || stageStats(list[0]!, "load")!.profiles_read} profiles) | ${label === "first" ? "first" : "again, unchanged"} | ${m("sync")} | ${m("parse")} | ${m("load")} | ${m("total")} |`);
    }
  }
}

const repoRoot = resolve(new URL("..", import.meta.url).pathname);
const tsxLoader = new URL("../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

/** Runs a command under /usr/bin/time: its wall time, peak RSS (KB) and stdout. */
async function measured(cmd: string[], env: Record<string, string>): Promise<{ wall: number; rssKb: number; stdout: string }> {
  return await new Promise((ok, fail) => {
    const child = spawn("/usr/bin/time", ["-f", "@@time %e %M", ...cmd], { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env } });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", fail);
    child.on("close", (code) => {
      const m = /@@time ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) return fail(new Error(`${cmd.join(" ")} exited ${code}: ${err.slice(-2000)}`));
      ok({ wall: Number(m[1]) * 1000, rssKb: Number(m[2]), stdout: out });
    });
  });
}

/** The load job in a process of its own, as a user runs it; its stats. */
async function loadJob(lake: string, env: Record<string, string>, extra: string[] = []): Promise<{ wall: number; rssKb: number; stats: LoadStats }> {
  const script = join(repoRoot, "jobs", "load.ts");
  const cmd = runtimeName === "deno" ? ["deno", "run", "-A", script] : [process.execPath, "--import", tsxLoader, script];
  const r = await measured([...cmd, "--json", ...extra], { LAKE_URL: lake, LOG_LEVEL: "error", REDIS_PREFIX: prefix, REDIS_TTL: "0", ...env });
  return { wall: r.wall, rssKb: r.rssKb, stats: JSON.parse(r.stdout) as LoadStats };
}

/** The reference: a DuckDB process (2 threads) reading every column of every row of the given Parquet files once. */
async function duckdbReads(files: string[]): Promise<{ wall: number; rssKb: number }> {
  const list = join(benchDir, "reference-files.json");
  await import("node:fs/promises").then((fs) => fs.writeFile(list, JSON.stringify(files)));
  const script = `import { DuckDBInstance } from "@duckdb/node-api"; import { readFileSync } from "node:fs";
const files = JSON.parse(readFileSync(${JSON.stringify(list)}, "utf8"));
const byTable = {}; for (const f of files) (byTable[f.split("/parquet/")[1].split("/")[0]] ??= []).push(f);
const db = await DuckDBInstance.create(":memory:", { threads: "2" }); const c = await db.connect();
for (const fs of Object.values(byTable)) await c.run("SELECT sum(hash(t)) FROM read_parquet([" + fs.map((f) => "'" + f + "'").join(",") + "]) t");`;
  const r = await measured([process.execPath, "--input-type=module", "-e", script], {});
  return { wall: r.wall, rssKb: r.rssKb };
}

/** The fixture lake's Parquet under `n` floats: each fixture float copied under new WMO numbers (7cccc + its index). */
async function syntheticLake(base: string, dir: string, n: number): Promise<{ floats: number; files: number }> {
  await rm(dir, { recursive: true, force: true });
  const sources = (await new LocalLakeStore(base).list("parquet/")).map((o) => ({ key: o.key, f: parseTableFileKey(o.key) })).filter((x) => x.f !== null);
  const wmos = [...new Set(sources.map((x) => x.f!.wmo))].sort();
  const copies = Math.ceil(n / wmos.length);
  const idsOf = (wmo: string) => {
    const i = wmos.indexOf(wmo);
    return Array.from({ length: copies }, (_, c) => c * wmos.length + i).filter((k) => k < n).map((k) => `7${String(Math.floor(k / wmos.length)).padStart(4, "0")}${String(i).padStart(2, "0")}`);
  };
  const duck = await openDuckDB({ threads: 2 });
  let files = 0;
  try {
    await duck.run("SET enable_external_file_cache = false");
    for (const { key, f } of sources) {
      const ids = idsOf(f!.wmo);
      const gen = join(dir, "_gen");
      await rm(gen, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      // One COPY per fixture file writes all its copies, one folder per new WMO number.
      await duck.run(`COPY (SELECT s.* REPLACE (ids.id AS float_id), ids.id AS bench_wmo FROM read_parquet('${join(base, key)}') s,
        (SELECT unnest([${ids.map((id) => `'${id}'`).join(",")}]) AS id) ids) TO '${gen}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (bench_wmo))`);
      for (const id of ids) {
        const folder = join(gen, `bench_wmo=${id}`);
        const [file] = await readdir(folder);
        const out = join(dir, key.replace(/[^/]+\.parquet$/, `${id}.parquet`));
        await mkdir(join(out, ".."), { recursive: true });
        await rename(join(folder, file!), out);
        files++;
      }
    }
    await rm(join(dir, "_gen"), { recursive: true, force: true });
  } finally {
    duck.close();
  }
  return { floats: n, files };
}

/** What parse does to a float that changed, for `ids`: its last cycle dropped from its files, and the floats named in the journal. Returns their files. */
async function changeFloats(dir: string, ids: string[]): Promise<string[]> {
  const store = new LocalLakeStore(dir);
  const want = new Set(ids);
  const byFloat = new Map<string, { key: string; table: string; dac: string }[]>();
  for (const o of await store.list("parquet/")) {
    const f = parseTableFileKey(o.key);
    if (f && want.has(f.wmo)) byFloat.set(f.wmo, [...(byFloat.get(f.wmo) ?? []), { key: o.key, table: f.table, dac: f.dac }]);
  }
  const duck = await openDuckDB({ threads: 2 });
  const touched: string[] = [];
  try {
    for (const [, files] of byFloat) {
      const prof = files.filter((x) => x.table === "profiles").map((x) => `'${join(dir, x.key)}'`);
      const [{ m }] = await duck.all(`SELECT max(cycle_number) AS m FROM read_parquet([${prof.join(",")}])`);
      for (const x of files) {
        const path = join(dir, x.key);
        const cols = await duck.all(`SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('${path}')) WHERE column_name = 'cycle_number'`);
        if (!cols.length) continue;
        const [{ n }] = await duck.all(`SELECT count(*) AS n FROM read_parquet('${path}') WHERE cycle_number < ${Number(m)}`);
        if (Number(n) === 0) await rm(path);
        else {
          await duck.run(`COPY (SELECT * FROM read_parquet('${path}') WHERE cycle_number < ${Number(m)}) TO '${path}.new' (FORMAT parquet, COMPRESSION zstd)`);
          await rename(`${path}.new`, path);
          touched.push(path);
        }
      }
    }
  } finally {
    duck.close();
  }
  await writeJournal(store, "parquet", {
    runId: `bench-load-${process.pid}`,
    stage: "parse",
    changes: [...byFloat].map(([wmo, files]) => ({ dac: files[0]!.dac, wmo, change: "changed" as const })),
  });
  return touched;
}

async function scaleSection(): Promise<void> {
  const base = join(benchDir, "fixture");
  await rm(base, { recursive: true, force: true });
  await parsedFixtureLake(repoRoot, base);
  console.log("\n## 3. the load job at two lake sizes (one process per run: wall time and peak RSS; Postgres and Redis)");
  const script = join(repoRoot, "jobs", "load.ts");
  const start = await measured(runtimeName === "deno" ? ["deno", "run", "-A", script, "--help"] : [process.execPath, "--import", tsxLoader, script, "--help"], {});
  console.log(`(the job process alone, \`load --help\`: ${fmt(start.wall)}, ${mb(start.rssKb)}; "in the stage" is the load stage's own timer, without the process start)`);
  console.log("| lake | run | wall | in the stage | peak RSS | floats loaded | profiles read | reference: DuckDB reading the same Parquet (wall, peak RSS) |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const n of sizes) {
    const lake = join(benchDir, `lake-${n}`);
    const built = await syntheticLake(base, lake, n);
    const all = (await readdir(join(lake, "parquet"), { recursive: true })).filter((f) => f.endsWith(".parquet")).map((f) => join(lake, "parquet", f));
    const env = { DATABASE_URL: await freshDb(`scale${n}`), REDIS_URL: redisUrl };
    const label = `${n} floats (${built.files} files)`;
    const row = (run: string, r: { wall: number; rssKb: number; stats: LoadStats }, ref: string) =>
      console.log(`| ${label} | ${run} | ${fmt(r.wall)} | ${fmt(r.stats.duration_ms)} | ${mb(r.rssKb)} | ${r.stats.floats_loaded} | ${r.stats.profiles_read} | ${ref} |`);
    const refAll = await duckdbReads(all);
    const whole = `${fmt(refAll.wall)}, ${mb(refAll.rssKb)} (all ${all.length} files)`;
    const first = await loadJob(lake, env);
    row("first load", first, whole);
    const noop = await loadJob(lake, env);
    if (noop.stats.mode !== "incremental" || noop.stats.floats_selected !== 0) throw new Error(`the no-op load was not one: ${JSON.stringify(noop.stats)}`);
    row("no-op (nothing changed)", noop, "- (no file to read)");
    const changed = all.length ? Array.from({ length: Math.max(1, Math.round(n / 100)) }, (_, i) => `7${String(Math.floor((i * 100) / 15)).padStart(4, "0")}${String((i * 100) % 15).padStart(2, "0")}`) : [];
    const files = await changeFloats(lake, changed);
    const refChanged = await duckdbReads(files);
    const one = await loadJob(lake, env);
    if (one.stats.floats_loaded !== changed.length) throw new Error(`the 1% load loaded ${one.stats.floats_loaded} floats, expected ${changed.length}`);
    row(`1% changed (${changed.length} floats)`, one, `${fmt(refChanged.wall)}, ${mb(refChanged.rssKb)} (the ${files.length} changed files)`);
    const full = await loadJob(lake, env, ["--full"]);
    row("--full, nothing changed (every load before the journal)", full, whole);
    await rm(lake, { recursive: true, force: true });
    await clearRedis();
  }
}

try {
  await main();
} finally {
  await clearRedis().catch(() => {});
  for (const name of created) await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).catch(() => {});
  if (!keep) await rm(benchDir, { recursive: true, force: true });
}
