/**
 * The table layout, measured: bytes and query times of the alternatives on
 * the fixture lake, in one run (nothing asserted; figures printed).
 *
 *   A. chosen: fixed-width `measurements` (PRES, TEMP, PSAL) + long `bgc_measurements`
 *   B. wide: one file per float with a column group per parameter the float has
 *      (the layout before schema 2: every value in columns, schemas differ between files)
 *   C. all long: every parameter, PRES/TEMP/PSAL included, as rows of one long table,
 *      beside a slim table of level keys, time and position
 *
 * Queries: the README's three (one float's levels, monthly mean TEMP 0-10 dbar in
 * a box, latest profile of every float) and a BGC one (monthly mean DOXY 0-200
 * dbar of the BGC floats). Every layout is written from the same parsed rows.
 *
 *   npx tsx bench/schema.ts [--dir /tmp/argo-lake-schema] [--keep]
 */
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createLakeViews, type DuckSession, listLocalTableFiles, openDuckDB } from "../lib/duckdb.ts";
import { partitionFileKey } from "../lib/lake/layout.ts";
import { TABLES } from "../lake/schema.ts";
import { sqlString } from "../lake/views.ts";
import { parsedFixtureLake } from "./fixture-lake.ts";

const args = process.argv.slice(2);
const dir = args.includes("--dir") ? args[args.indexOf("--dir") + 1]! : "/tmp/argo-lake-schema";
const keep = args.includes("--keep");
const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const line = (label: string, value: string) => console.log(`  ${label.padEnd(50)} ${value}`);
const now = () => performance.now();

async function bytesUnder(root: string): Promise<number> {
  let n = 0;
  try {
    for (const e of await readdir(root, { recursive: true, withFileTypes: true })) if (e.isFile() && e.name.endsWith(".parquet")) n += (await stat(join(e.parentPath, e.name))).size;
  } catch { /* none */ }
  return n;
}

async function median(db: DuckSession, sql: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = now();
    await db.all(sql);
    times.push(now() - t);
  }
  return times.sort((a, b) => a - b)[2]!;
}

console.log(`argo-lake schema benchmark (node ${process.version}), working in ${dir}`);
await rm(dir, { recursive: true, force: true });
const lake = join(dir, "lake");
await parsedFixtureLake(repo, lake);
const db = await openDuckDB();
await createLakeViews(db, lake);

console.log("\n== Bytes of the fixture lake's Parquet, per layout (zstd)");
const byTable: Record<string, number> = {};
for (const t of TABLES) byTable[t] = (await listLocalTableFiles(lake, t)).length ? await bytesUnder(join(lake, "parquet", t)) : 0;
for (const t of TABLES) line(`A ${t}`, `${fmt(byTable[t]!)} B`);
const a = Object.values(byTable).reduce((x, y) => x + y, 0);
line("A total (chosen)", `${fmt(a)} B; without the new synthetic and dictionary tables ${fmt(a - byTable.synthetic! - byTable.dictionary!)} B`);

// B: the wide layout, one file per float and year, a column group per parameter the float has.
const wide = join(dir, "wide");
const floats = await db.all("SELECT DISTINCT float_id, dac, year FROM measurements ORDER BY ALL");
for (const f of floats) {
  const params = (await db.all(`SELECT DISTINCT parameter FROM bgc_measurements WHERE float_id = '${f.float_id}' ORDER BY 1`)).map((r) => String(r.parameter));
  const cols = params.flatMap((p) => {
    const c = p.toLowerCase();
    const w = (e: string, suffix: string) => `max(${e}) FILTER (WHERE parameter = '${p}') AS "${c}${suffix}"`;
    return [w("value", ""), w("qc", "_qc"), w("raw", "_raw"), w("raw_qc", "_raw_qc"), w("adjusted", "_adjusted"), w("adjusted_qc", "_adjusted_qc"), w("adjusted_error", "_adjusted_error"), w("mode", "_mode")];
  });
  const yearCond = f.year === null ? "year IS NULL" : `year = ${f.year}`;
  const pivot = params.length
    ? `LEFT JOIN (SELECT float_id, cycle_number, direction, profile_index, level, ${cols.join(", ")} FROM bgc_measurements WHERE float_id = '${f.float_id}' GROUP BY ALL) b USING (float_id, cycle_number, direction, profile_index, level)`
    : "";
  const path = join(wide, ...partitionFileKey("measurements", String(f.dac), f.year as number | null, String(f.float_id)).split("/"));
  await mkdir(dirname(path), { recursive: true });
  const bCols = params.length ? ", b.* EXCLUDE (float_id, cycle_number, direction, profile_index, level)" : "";
  await db.run(`COPY (SELECT m.* EXCLUDE (dac, year)${bCols} FROM measurements m ${pivot} WHERE m.float_id = '${f.float_id}' AND m.${yearCond} ORDER BY cycle_number, direction, profile_index, level) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`);
}
const b = await bytesUnder(wide);
line("B wide measurements (all parameters as columns)", `${fmt(b)} B, vs A measurements + bgc_measurements ${fmt(byTable.measurements! + byTable.bgc_measurements!)} B`);

// C: all long.
const long = join(dir, "long");
await mkdir(long, { recursive: true });
await db.run(`COPY (SELECT float_id, cycle_number, direction, profile_index, data_mode, time, juld_qc, latitude, longitude, position_qc, level, depth_m, source_file, bgc_source_file, date_update
  FROM measurements ORDER BY float_id, cycle_number, direction, profile_index, level) TO ${sqlString(join(long, "levels.parquet"))} (FORMAT parquet, COMPRESSION zstd)`);
const coreLong = ["pres", "temp", "psal"].map((p) =>
  `SELECT float_id, cycle_number, direction, profile_index, level, pres, '${p.toUpperCase()}' AS parameter, ${p}::DOUBLE AS value, ${p}_qc AS qc, ${p}_raw::DOUBLE AS raw, ${p}_raw_qc AS raw_qc,
     ${p}_adjusted::DOUBLE AS adjusted, ${p}_adjusted_qc AS adjusted_qc, ${p}_adjusted_error::DOUBLE AS adjusted_error, ${p}_mode AS mode, 'float' AS value_type, NULL::FLOAT AS dpres, source_file
   FROM measurements WHERE ${p}_mode IS NOT NULL`
).join(" UNION ALL ");
await db.run(`COPY (SELECT * FROM (${coreLong} UNION ALL SELECT * EXCLUDE (dac, year) FROM bgc_measurements) ORDER BY float_id, cycle_number, direction, profile_index, parameter, level)
  TO ${sqlString(join(long, "values.parquet"))} (FORMAT parquet, COMPRESSION zstd)`);
const c = await bytesUnder(long);
line("C all long (levels + one long table)", `${fmt(c)} B`);

console.log("\n== Queries (median of 5, ms): A chosen views vs B wide files read with union_by_name");
await db.run(`CREATE VIEW wide AS SELECT * FROM read_parquet(${sqlString(join(wide, "parquet/measurements/**/*.parquet"))}, hive_partitioning = true, union_by_name = true)`);
const queries: [string, string, string][] = [
  ["one float's levels (5906072)", "SELECT cycle_number, level, pres, temp, psal FROM measurements WHERE float_id = '5906072'", "SELECT cycle_number, level, pres, temp, psal FROM wide WHERE float_id = '5906072'"],
  ["monthly mean temp 0-10 dbar, box", "SELECT date_trunc('month', time), avg(temp) FROM measurements WHERE pres BETWEEN 0 AND 10 AND latitude BETWEEN -60 AND 60 GROUP BY 1", "SELECT date_trunc('month', time), avg(temp) FROM wide WHERE pres BETWEEN 0 AND 10 AND latitude BETWEEN -60 AND 60 GROUP BY 1"],
  ["latest profile of every float", "SELECT float_id, max(time) FROM profiles GROUP BY 1", "SELECT float_id, max(time) FROM wide GROUP BY 1"],
  ["BGC: monthly mean DOXY 0-200 dbar", "SELECT date_trunc('month', m.time), avg(b.value) FROM bgc_measurements b JOIN profiles m USING (float_id, cycle_number, direction, profile_index) WHERE b.parameter = 'DOXY' AND b.pres < 200 GROUP BY 1", "SELECT date_trunc('month', time), avg(doxy) FROM wide WHERE pres < 200 AND doxy IS NOT NULL GROUP BY 1"],
];
for (const [name, qa, qb] of queries) {
  const tb = await median(db, qb).then((ms) => fmt(ms, 1), (err: Error) => `fails: ${err.message.split("\n")[0]}`);
  line(name, `A ${fmt(await median(db, qa), 1)}   B ${tb}`);
}
db.close();
if (!keep) await rm(dir, { recursive: true, force: true });
