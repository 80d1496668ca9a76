/**
 * The README's three queries on a 100 M-row synthetic lake, laid out two ways
 * with the same rows: one file per float and partition (the staging layout
 * parse writes) and compacted (segments of many floats per DAC and year,
 * sorted by float and time, named in the live list), read through the real
 * views (lib/duckdb.ts createLakeViews). Prints the time to open the views
 * and each query's time on both, with the ratio. Goal (issue 15): each query
 * < 1 s on the compacted lake and >= 3x faster than on the per-float files.
 *
 *   npx tsx bench/query-scale.ts [--rows 100000000] [--dir /tmp/bench-query-scale] [--keep] [--reuse] [--runs 5] [--processes 3]
 *
 * The rows are the fixture lake's real measurements and profiles (the 15
 * fixture floats parsed by the real parser), multiplied by DuckDB: synthetic
 * float s copies template float s mod 15 32 times (cycle numbers shifted
 * by 1000 per copy), under its own WMO id, with times moved to start in
 * 2000 + s mod 20 (the template's span squeezed to at most three years, 60
 * days between copies) and positions moved per float, so rows spread over
 * years, DACs and the globe.
 *
 * The compacted lake is the per-float one compacted by the real compaction
 * (lib/lake/compact.ts runCompact, default settings, the grace set to 0 so
 * the folded staging files are collected at once). --reuse keeps the lakes
 * an earlier --keep run built (same --dir) and builds only what is missing.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { loadConfig } from "../lib/config.ts";
import { type CompactStats, runCompact } from "../lib/lake/compact.ts";
import { parseTableFileKey, partitionFileKey } from "../lib/lake/layout.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { hiveTypesSql } from "../lake/views.ts";
import { parsedFixtureLake } from "./fixture-lake.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));

function args() {
  const a = process.argv.slice(2);
  const get = (name: string) => {
    const i = a.indexOf(name);
    return i < 0 ? undefined : a[i + 1];
  };
  return {
    rows: Number(get("--rows") ?? 100_000_000),
    dir: get("--dir") ?? `/tmp/bench-query-scale-${process.pid}`,
    keep: a.includes("--keep") || a.includes("--reuse"),
    reuse: a.includes("--reuse"),
    runs: Number(get("--runs") ?? 5),
    parts: Number(get("--processes") ?? 3),
  };
}

const log = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
/** Copies of its template per synthetic float, and the days between them. */
const REPS = 32;
const SPACING_DAYS = 60;
const TABLES = ["measurements", "profiles"] as const;
/** The row order of a staging file (parse's: cycle, direction, profile, level). */
const LEVEL_ORDER: Record<(typeof TABLES)[number], string> = {
  measurements: "cycle_number, direction, profile_index, level",
  profiles: "cycle_number, direction, profile_index",
};
/** The README's three queries (its Benchmarks section, bench/lake.ts). */
const queries = (floatId: string) => [
  {
    name: "one float's profiles (every level)",
    sql: `SELECT cycle_number, direction, profile_index, level, pres, temp, psal FROM measurements WHERE float_id = '${floatId}' ORDER BY 1, 2, 3, 4`,
  },
  {
    name: "mean temp 0-10 dbar, 10x10 deg box, by month",
    sql: "SELECT date_trunc('month', time) AS month, avg(temp) AS temp, count(*) AS n FROM measurements " +
      "WHERE pres BETWEEN 0 AND 10 AND latitude BETWEEN 30 AND 40 AND longitude BETWEEN 20 AND 30 GROUP BY 1 ORDER BY 1",
  },
  {
    name: "latest profile of every float",
    sql: "SELECT float_id, cycle_number, direction, time, latitude, longitude, data_mode FROM profiles " +
      "QUALIFY row_number() OVER (PARTITION BY float_id ORDER BY time DESC NULLS LAST, cycle_number DESC) = 1",
  },
];

async function dirSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0, bytes = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith(".parquet")) continue;
    files++;
    bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return { files, bytes };
}

/** A session with a memory ceiling and a spill folder (the machine is shared). */
async function session(tmp: string, threads?: number): Promise<DuckSession> {
  const s = await openDuckDB({ threads });
  await s.run(`SET memory_limit = '3GB'`);
  await s.run(`SET temp_directory = '${tmp}'`);
  await s.run(`SET preserve_insertion_order = false`);
  return s;
}

type Template = { float_id: string; n: string; t0: number; squeeze: number };

/** Loads the fixture lake's rows as templates (tm, tp) and describes each template float; with how many floats make `target` rows. */
async function templates(s: DuckSession, fixture: string, target: number): Promise<{ tpl: Template[]; floats: number }> {
  const read = (table: string) =>
    `read_parquet('${fixture}/parquet/${table}/**/*.parquet', hive_partitioning = true, hive_types = ${hiveTypesSql(table as "measurements")})`;
  await s.run(`CREATE TEMP TABLE tm AS SELECT * FROM ${read("measurements")} WHERE time IS NOT NULL`);
  await s.run(`CREATE TEMP TABLE tp AS SELECT * FROM ${read("profiles")} WHERE time IS NOT NULL`);
  // Per template: its float, rows, first time and the factor squeezing its span to <= 3 years.
  const tpl = (await s.all(`SELECT float_id, count(*) AS n, min(epoch(time)) AS t0,
      least(1, 3 * 31557600 / greatest(1, max(epoch(time)) - min(epoch(time)))) AS squeeze
    FROM tm GROUP BY float_id ORDER BY float_id`)) as Template[];
  let floats = 0;
  for (let rows = 0; rows < target; floats++) rows += Number(tpl[floats % tpl.length]!.n) * REPS;
  return { tpl, floats };
}

/**
 * The per-float lake, share `part` of `parts`: float f copies template
 * f mod 15 REPS times; one file per float and (dac, year),
 * as parse names them.
 */
async function writeStagingShare(fixture: string, root: string, target: number, tmp: string, part: number, parts: number): Promise<void> {
  // Small statements, one float at a time: one thread each (the shares run side by side).
  const s = await session(tmp, 1);
  try {
    const { tpl, floats } = await templates(s, fixture, target);
    for (const table of TABLES) {
      const src = table === "measurements" ? "tm" : "tp";
      for (let f = 0; f < floats; f++) {
        // Whole rounds of the templates per share, so the shares get the same mix of big and small floats.
        if (Math.floor(f / tpl.length) % parts !== part) continue;
        const t = tpl[f % tpl.length]!;
        const wmo = String(3_000_000 + f);
        const start = 946684800 + (f % 20) * 31557600;
        const dlat = (((f * 7) % 13) - 6) * 5, dlon = (((f * 11) % 17) - 8) * 10;
        const newTime = `to_timestamp(${start} + (epoch(m.time) - ${t.t0}) * ${t.squeeze} + k * ${SPACING_DAYS} * 86400)`;
        // One float's rows in a temporary table, then one plain COPY per partition: a partitioned COPY
        // costs several times more per file.
        await s.run(`CREATE OR REPLACE TEMP TABLE cur AS
            SELECT m.* EXCLUDE (dac, year) REPLACE ('${wmo}' AS float_id, m.cycle_number + k * 1000 AS cycle_number, ${newTime} AS time,
                     greatest(-89.9, least(89.9, m.latitude + ${dlat})) AS latitude,
                     ((m.longitude + ${dlon} + 540) % 360) - 180 AS longitude),
                   m.dac, CAST(year(${newTime}) AS INTEGER) AS year
            FROM ${src} m CROSS JOIN range(${REPS}) r(k)
            WHERE m.float_id = '${t.float_id}'`);
        for (const { dac, year } of (await s.all("SELECT DISTINCT dac, year FROM cur")) as { dac: string; year: number }[]) {
          const path = join(root, partitionFileKey(table, dac, year, wmo));
          await mkdir(dirname(path), { recursive: true });
          await s.run(`COPY (SELECT * EXCLUDE (dac, year) FROM cur WHERE year = ${year} ORDER BY ${LEVEL_ORDER[table]})
            TO '${path}' (FORMAT parquet, COMPRESSION zstd)`);
        }
        if (part === 0 && f % 300 === 0) log(`  ${table}: ${f + 1}/${floats} floats`);
      }
    }
  } finally {
    s.close();
  }
}

/** The per-float lake, written by `parts` processes side by side; its float count and a typical float for the one-float query. */
async function buildStaging(fixture: string, root: string, target: number, tmp: string, parts: number): Promise<{ floats: number; floatId: string }> {
  const s = await session(tmp, 1);
  const { tpl, floats } = await templates(s, fixture, target).finally(() => s.close());
  log(`staging lake: ${floats} floats x ${REPS} copies of ${tpl.length} templates' real rows, ${parts} processes`);
  await Promise.all(Array.from({ length: parts }, async (_, p) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--staging-share", fixture, root, String(target), tmp, String(p), String(parts)], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
    if (code !== 0) throw new Error(`staging share ${p} exited ${code}`);
  }));
  // The one-float query asks for a float of the template whose row count is nearest the mean (a typical float).
  const mean = tpl.reduce((a, x) => a + Number(x.n), 0) / tpl.length;
  const typical = tpl.reduce((a, x) => (Math.abs(Number(x.n) - mean) < Math.abs(Number(a.n) - mean) ? x : a));
  return { floats, floatId: String(3_000_000 + tpl.indexOf(typical)) };
}

/**
 * The compacted lake: the staging lake's files hard-linked into a new lake,
 * compacted by the real compaction (lib/lake/compact.ts runCompact), then
 * garbage-collected at once (COMPACT_GRACE=0) so the folded staging files
 * are gone and only segments remain.
 */
async function buildCompacted(staging: string, root: string): Promise<CompactStats> {
  for (const e of await readdir(join(staging, "parquet"), { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const to = join(root, join(e.parentPath, e.name).slice(staging.length + 1));
    await mkdir(dirname(to), { recursive: true });
    await link(join(e.parentPath, e.name), to);
  }
  const config = loadConfig({ env: { LAKE_URL: root, COMPACT_GRACE: "0", LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
  const store = new LocalLakeStore(root);
  const logger = createLogger({ level: "error" });
  try {
    const stats = await runCompact(config, store, logger);
    // The commit's folded files are collected by the next run once the grace (0 s) is over.
    const gc = await runCompact(config, store, logger);
    const left = (await readdir(join(root, "parquet"), { recursive: true })).filter((f) => parseTableFileKey(`parquet/${f}`));
    if (left.length) throw new Error(`compaction left ${left.length} staging files (e.g. ${left[0]}); deleted ${gc.files_deleted}`);
    return stats;
  } finally {
    await store.close();
  }
}

/** Opens the views of a lake and runs the queries: open time, then each query's median of `runs` (after one cold run). */
async function measure(root: string, floatId: string, runs: number): Promise<{ open: number; files: number; rows: number; q: { cold: number; median: number; rows: number }[] }> {
  const s = await openDuckDB();
  try {
    const t0 = performance.now();
    const views = await createLakeViews(s, root);
    const open = performance.now() - t0;
    const q = [];
    for (const { sql } of queries(floatId)) {
      // Answers are materialised inside DuckDB (conn.run), not converted to JavaScript rows: the query is timed, not the binding.
      let t = performance.now();
      const first = await s.conn.run(sql);
      const cold = performance.now() - t;
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        t = performance.now();
        await s.conn.run(sql);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      q.push({ cold, median: times[Math.floor(times.length / 2)]!, rows: first.rowCount });
    }
    const [c] = await s.all("SELECT count(*) AS n FROM measurements");
    return { open, files: views.files.measurements + views.files.profiles, rows: Number(c!.n), q };
  } finally {
    s.close();
  }
}

async function main(): Promise<void> {
  const o = args();
  const staging = join(o.dir, "staging"), compacted = join(o.dir, "compacted"), tmp = join(o.dir, "tmp");
  const described = join(o.dir, "lake.json");
  try {
    if (!(o.reuse && existsSync(described))) {
      await rm(o.dir, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      log("parsing the fixture floats (the template rows) ...");
      const fixture = join(o.dir, "fixture");
      await parsedFixtureLake(repo, fixture);
      const t0 = performance.now();
      const built = await buildStaging(fixture, staging, o.rows, tmp, o.parts);
      log(`staging lake built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      await rm(tmp, { recursive: true, force: true });
      await rm(fixture, { recursive: true, force: true });
      await writeFile(described, JSON.stringify(built));
    }
    if (!(o.reuse && existsSync(join(compacted, "parquet", "_live.json")))) {
      await rm(compacted, { recursive: true, force: true });
      log("compacting a hard-linked copy of the per-float lake (lib/lake/compact.ts runCompact) ...");
      const t1 = performance.now();
      const c = await buildCompacted(staging, compacted);
      log(`compacted in ${((performance.now() - t1) / 1000).toFixed(0)} s: ${c.partitions} partitions, ${c.segments_written} segments, ${c.rows} rows`);
    }
    const { floatId } = JSON.parse(await readFile(described, "utf8")) as { floatId: string };
    const sizes = { staging: await dirSize(join(staging, "parquet")), compacted: await dirSize(join(compacted, "parquet")) };
    log("queries on the per-float lake ...");
    const a = await measure(staging, floatId, o.runs);
    log("queries on the compacted lake ...");
    const b = await measure(compacted, floatId, o.runs);
    if (a.rows !== b.rows) throw new Error(`the two lakes differ: ${a.rows} vs ${b.rows} measurement rows`);
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    console.log(`\nbench/query-scale.ts, ${new Date().toISOString()}: ${a.rows.toLocaleString("en")} measurement rows, same rows in both layouts; median of ${o.runs} warm runs (cold first run in brackets)`);
    console.log(`| | per-float files (${sizes.staging.files.toLocaleString("en")} files, ${(sizes.staging.bytes / 1e9).toFixed(2)} GB) | compacted (${sizes.compacted.files.toLocaleString("en")} segments, ${(sizes.compacted.bytes / 1e9).toFixed(2)} GB) | speed-up |`);
    console.log("|---|---|---|---|");
    console.log(`| open the views | ${ms(a.open)} | ${ms(b.open)} | ${(a.open / b.open).toFixed(1)}x |`);
    queries(floatId).forEach((q, i) => {
      const x = a.q[i]!, y = b.q[i]!;
      if (x.rows !== y.rows) throw new Error(`${q.name}: ${x.rows} rows vs ${y.rows}`);
      console.log(`| ${q.name} (${x.rows} rows) | ${ms(x.median)} (${ms(x.cold)}) | ${ms(y.median)} (${ms(y.cold)}) | ${(x.median / y.median).toFixed(1)}x |`);
    });
    const goals = b.q.map((y, i) => y.median < 1000 && a.q[i]!.median / y.median >= 3);
    console.log(`goal (each query < 1 s compacted and >= 3x faster): ${goals.every(Boolean) ? "met" : `NOT MET for ${queries(floatId).filter((_, i) => !goals[i]).map((q) => q.name).join(", ")}`}`);
  } finally {
    if (!o.keep) await rm(o.dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--staging-share") {
  const [fixture, root, target, tmp, part, parts] = process.argv.slice(3) as [string, string, string, string, string, string];
  await writeStagingShare(fixture, root, Number(target), tmp, Number(part), Number(parts));
} else await main();
