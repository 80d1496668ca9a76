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
 *
 *   npx tsx bench/load.ts [--profiles 10000] [--runs 3] [--dir /tmp/argo-load-bench] [--keep]
 *   deno run -A bench/load.ts ...
 *
 * Needs the machine's Postgres (BENCH_PG, default postgres://postgres@127.0.0.1:5432)
 * and Redis (BENCH_REDIS, default redis://127.0.0.1:6379); uses its own
 * databases and key prefix and removes them afterwards.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import pg from "pg";
import { Redis } from "ioredis";
import { loadConfig } from "../lib/config.ts";
import { openDuckDB } from "../lib/duckdb.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { type LoadStats, runLoad } from "../lib/load/run.ts";
import { createLogger } from "../lib/log.ts";
import { runFloat, stageStats } from "../lib/runner.ts";
import type { RunRecord } from "../lib/schedule/runs.ts";
import { runtimeName } from "../lib/runtime.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const targetProfiles = Number(flag("profiles", "10000"));
const runs = Number(flag("runs", "3"));
const benchDir = flag("dir", "/tmp/argo-load-bench");
const keep = args.includes("--keep");
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
  const t0 = performance.now();
  const lakeInfo = await buildLake(benchDir, targetProfiles);
  const lake = join(benchDir, "lake");
  console.log(`lake: ${lakeInfo.floats} floats, ${lakeInfo.profiles} profiles, ${lakeInfo.levels} levels (fixture floats replicated; built in ${fmt(performance.now() - t0)})\n`);

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

try {
  await main();
} finally {
  await clearRedis().catch(() => {});
  for (const name of created) await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).catch(() => {});
  if (!keep) await rm(benchDir, { recursive: true, force: true });
}
