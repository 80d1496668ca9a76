/**
 * The README's three queries on a 100 M-row synthetic lake, laid out two ways
 * with the same rows: one file per float and partition (the staging layout
 * parse writes) and compacted (segments of many floats per DAC and year,
 * sorted by float and time, named in the live list), read through the real
 * views (lib/duckdb.ts createLakeViews). Prints the time to open the views
 * and each query's time on both, with the ratio. Goal (issue 15): each query
 * < 1 s on the compacted lake and >= 3x faster than on the per-float files.
 *
 *   npx tsx bench/query-scale.ts [--rows 100000000] [--dir /tmp/bench-query-scale] [--keep] [--reuse] [--runs 5]
 *
 * The rows are the fixture lake's real measurements and profiles (the 15
 * fixture floats parsed by the real parser), multiplied by DuckDB: synthetic
 * float s copies template float s mod 15 32 times (cycle numbers shifted
 * by 1000 per copy), under its own WMO id, with times moved to start in
 * 2000 + s mod 20 (the template's span squeezed to at most three years, 60
 * days between copies) and positions moved per float, so rows spread over
 * years, DACs and the globe. --reuse keeps a lake built by an earlier --keep
 * run (same --dir) and only runs the queries.
 *
 * Compaction: lib/lake/compact.ts when it exports compactLake; otherwise the
 * layout it writes, made here with DuckDB: per table and (dac, year), one
 * COPY ordered by float_id, time, cycle_number, direction, profile_index,
 * level into part-<commit>-<n>.parquet, and the live list written with
 * lib/lake/live.ts writeLiveList.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { parseTableFileKey, partitionPrefix, segmentKey } from "../lib/lake/layout.ts";
import { emptyLiveList, type LiveList, writeLiveList } from "../lib/lake/live.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
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
/** The row order of a segment (the layout's: float, time, then the level key). */
const SEGMENT_ORDER: Record<(typeof TABLES)[number], string> = {
  measurements: "float_id, time, cycle_number, direction, profile_index, level",
  profiles: "float_id, time, cycle_number, direction, profile_index",
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
async function session(tmp: string): Promise<DuckSession> {
  const s = await openDuckDB();
  await s.run(`SET memory_limit = '3GB'`);
  await s.run(`SET temp_directory = '${tmp}'`);
  await s.run(`SET preserve_insertion_order = false`);
  return s;
}

/**
 * The per-float lake: float s copies template s mod 15 REPS times; one file
 * per float and (dac, year), as parse names them, one COPY per float and
 * table (a partitioned COPY of thousands of partitions writes several files
 * per partition, one per thread).
 */
async function buildStaging(fixture: string, root: string, target: number, tmp: string): Promise<{ floats: number; floatId: string }> {
  const s = await session(tmp);
  try {
    const read = (table: string) =>
      `read_parquet('${fixture}/parquet/${table}/**/*.parquet', hive_partitioning = true, hive_types = ${hiveTypesSql(table as "measurements")})`;
    await s.run(`CREATE TEMP TABLE tm AS SELECT * FROM ${read("measurements")} WHERE time IS NOT NULL`);
    await s.run(`CREATE TEMP TABLE tp AS SELECT * FROM ${read("profiles")} WHERE time IS NOT NULL`);
    // Templates: number, float, rows, first time and the factor squeezing its span to <= 3 years.
    await s.run(`CREATE TEMP TABLE tpl AS
      SELECT row_number() OVER (ORDER BY float_id) - 1 AS t, float_id, count(*) AS n,
             min(epoch(time)) AS t0, least(1, 3 * 31557600 / greatest(1, max(epoch(time)) - min(epoch(time)))) AS squeeze
      FROM tm GROUP BY float_id`);
    const tpl = (await s.all("SELECT t, float_id, n, t0, squeeze FROM tpl ORDER BY t")) as { float_id: string; n: string; t0: number; squeeze: number }[];
    let floats = 0;
    for (let rows = 0; rows < target; floats++) rows += Number(tpl[floats % tpl.length]!.n) * REPS;
    log(`staging lake: ${floats} floats x ${REPS} copies of ${tpl.length} templates' real rows`);
    for (const table of TABLES) {
      const out = join(root, "parquet", table);
      await mkdir(out, { recursive: true });
      const src = table === "measurements" ? "tm" : "tp";
      log(`staging lake: writing ${table}, one COPY per float ...`);
      for (let f = 0; f < floats; f++) {
        const t = tpl[f % tpl.length]!;
        const wmo = String(3_000_000 + f);
        const start = 946684800 + (f % 20) * 31557600;
        const dlat = (((f * 7) % 13) - 6) * 5, dlon = (((f * 11) % 17) - 8) * 10;
        const newTime = `to_timestamp(${start} + (epoch(m.time) - ${t.t0}) * ${t.squeeze} + k * ${SPACING_DAYS} * 86400)`;
        await s.run(`COPY (
            SELECT m.* EXCLUDE (dac, year) REPLACE ('${wmo}' AS float_id, m.cycle_number + k * 1000 AS cycle_number, ${newTime} AS time,
                     greatest(-89.9, least(89.9, m.latitude + ${dlat})) AS latitude,
                     ((m.longitude + ${dlon} + 540) % 360) - 180 AS longitude),
                   m.dac, CAST(year(${newTime}) AS INTEGER) AS year
            FROM ${src} m CROSS JOIN range(${REPS}) r(k)
            WHERE m.float_id = '${t.float_id}'
            ORDER BY ${LEVEL_ORDER[table]}
          ) TO '${out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dac, year), FILENAME_PATTERN '${wmo}_{i}', OVERWRITE_OR_IGNORE true)`);
        if ((f + 1) % 200 === 0) log(`  ${table}: ${f + 1}/${floats} floats`);
      }
      // DuckDB names the files <wmo>_0.parquet: rename them to the layout's <wmo>.parquet.
      for (const e of await readdir(out, { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const m = /^(\d+)_0\.parquet$/.exec(e.name);
        if (!m) throw new Error(`unexpected file ${join(e.parentPath, e.name)}: one file per float and partition expected`);
        await rename(join(e.parentPath, e.name), join(e.parentPath, `${m[1]}.parquet`));
      }
    }
    // The one-float query asks for a float of the template whose row count is nearest the mean (a typical float).
    const mean = tpl.reduce((a, x) => a + Number(x.n), 0) / tpl.length;
    const typical = tpl.reduce((a, x) => (Math.abs(Number(x.n) - mean) < Math.abs(Number(a.n) - mean) ? x : a));
    return { floats, floatId: String(3_000_000 + tpl.indexOf(typical)) };
  } finally {
    s.close();
  }
}

/**
 * The compacted lake: the staging lake's rows, per table and (dac, year),
 * in segments sorted by float and time, committed in the live list.
 */
async function buildCompacted(staging: string, root: string, tmp: string): Promise<void> {
  const s = await session(tmp);
  const store = new LocalLakeStore(root);
  const live: LiveList = { ...emptyLiveList(), commit: 1, committed_at: new Date().toISOString(), run_id: "bench-query-scale" };
  try {
    for (const table of TABLES) {
      const parts = new Map<string, { dac: string; year: string | null; files: string[] }>();
      for (const e of await readdir(join(staging, "parquet", table), { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const key = join(e.parentPath, e.name).slice(staging.length + 1);
        const k = parseTableFileKey(key);
        if (!k) throw new Error(`not a staging file: ${key}`);
        const p = partitionPrefix(table, k.dac, k.year);
        if (!parts.has(p)) parts.set(p, { dac: k.dac, year: k.year, files: [] });
        parts.get(p)!.files.push(join(staging, key));
      }
      log(`compacted lake: ${table}: ${parts.size} partitions ...`);
      for (const p of [...parts.values()].sort((a, b) => (a.dac + a.year < b.dac + b.year ? -1 : 1))) {
        const key = segmentKey(table, p.dac, p.year, live.commit, 0);
        const path = join(root, key);
        await mkdir(dirname(path), { recursive: true });
        const files = p.files.sort().map((f) => `'${f}'`).join(", ");
        await s.run(`COPY (SELECT * FROM read_parquet([${files}], hive_partitioning = false) ORDER BY ${SEGMENT_ORDER[table]})
          TO '${path}' (FORMAT parquet, COMPRESSION zstd)`);
        const [info] = await s.all(`SELECT count(*) AS rows, list(DISTINCT float_id ORDER BY float_id) AS floats FROM read_parquet('${path}')`);
        live.tables[table].push({ key, size: (await stat(path)).size, rows: Number(info!.rows), floats: info!.floats as string[] });
      }
      live.tables[table].sort((a, b) => (a.key < b.key ? -1 : 1));
    }
    await writeLiveList(store, live);
  } finally {
    s.close();
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
      const built = await buildStaging(fixture, staging, o.rows, tmp);
      log(`staging lake built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const t1 = performance.now();
      await buildCompacted(staging, compacted, tmp);
      log(`compacted lake built in ${((performance.now() - t1) / 1000).toFixed(0)} s`);
      await rm(tmp, { recursive: true, force: true });
      await rm(fixture, { recursive: true, force: true });
      await writeFile(described, JSON.stringify(built));
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

await main();
