/**
 * The parse job over the real fixture mirror: row counts and values checked
 * against the NetCDF files read with netcdfjs (not with the project's parser),
 * BGC columns, determinism, incremental parsing, quarantine, partition pruning
 * and the ProfileData JSON output.
 */
import { readFileSync, statSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../lib/config.ts";
import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { profileDataOf } from "../lib/parse/json.ts";
import { listQuarantine } from "../lib/parse/quarantine.ts";
import { runParse } from "../lib/parse/run.ts";
import { formatParseStatus, parseStatus } from "../lib/parse/status.ts";
import { ProfileDataSchema } from "../lib/argo/schema.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import {
  countKeptLevels,
  fixtureFiles,
  isCoreProfile,
  keptLevels,
  landFixtures,
  ncDim,
  ncProfileChar,
  ncQc,
  ncValue,
  ncVar,
  openNc,
} from "./parse-job-support.ts";

const log = createLogger({ level: "error" });

function configFor(lake: string, extra: Record<string, string> = {}): Config {
  return loadConfig({ env: { LAKE_URL: lake, MAX_WORKERS: "2", LOG_LEVEL: "error", ...extra }, envFile: "/nonexistent/.env" });
}

/** Every Parquet file below a lake's parquet/ folder with its bytes and mtime. */
async function parquetFiles(root: string): Promise<Map<string, { bytes: Buffer; mtimeMs: number }>> {
  const out = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  const base = join(root, "parquet");
  for (const e of await readdir(base, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith(".parquet")) continue;
    const path = join(e.parentPath, e.name);
    out.set(path.slice(base.length + 1), { bytes: await readFile(path), mtimeMs: statSync(path).mtimeMs });
  }
  return out;
}

async function viewsOver(root: string): Promise<DuckSession> {
  const s = await openDuckDB({ threads: 1 });
  await createLakeViews(s, root);
  return s;
}

const JULD_EPOCH = Date.UTC(1950, 0, 1);

describe("parse job over the whole fixture mirror", () => {
  let dir: TempDir;
  let store: LocalLakeStore;
  let db: DuckSession;
  let first: Awaited<ReturnType<typeof runParse>>;

  beforeAll(async () => {
    dir = await tempDir("parse");
    store = new LocalLakeStore(dir.path);
    await landFixtures(store);
    first = await runParse(configFor(dir.path), store, log);
    db = await viewsOver(dir.path);
  });
  afterAll(async () => {
    db?.close();
    await dir?.cleanup();
  });

  it("parses every float, with no error and nothing quarantined", () => {
    expect(first.floats_parsed).toBe(15);
    expect(first.errors).toBe(0);
    expect(first.quarantined).toBe(0);
    expect(first.workers).toBe(2);
    expect(first.bytes_out).toBeGreaterThan(0);
  });

  it("has one measurement row per level with a raw PRES, over every core profile file", async () => {
    const cores = fixtureFiles().filter(isCoreProfile);
    const expected = cores.reduce((n, f) => n + countKeptLevels(f.file), 0);
    const [row] = await db.all("SELECT count(*) AS n FROM measurements");
    expect(Number(row!.n)).toBe(expected);
    expect(first.measurement_rows).toBe(expected);
    // Per file too, so that one file's surplus cannot hide another's shortfall.
    const perFile = await db.all("SELECT source_file, count(*) AS n FROM measurements GROUP BY ALL");
    const got = new Map(perFile.map((r) => [String(r.source_file), Number(r.n)]));
    for (const f of cores) expect(got.get(f.rest.slice("profiles/".length)), f.rest).toBe(countKeptLevels(f.file));
    // S-files and multi-profile files are not measurement sources.
    const [sources] = await db.all("SELECT count(*) FILTER (WHERE source_file LIKE 'S%' OR source_file LIKE '%prof%') AS n FROM measurements");
    expect(Number(sources!.n)).toBe(0);
  });

  it("returns exactly the file's values for one profile in mode R (D6901929_001, N_PROF index 1)", async () => {
    const file = fixtureFiles(["6901929"]).find((f) => f.rest === "profiles/D6901929_001.nc")!.file;
    const r = openNc(file);
    expect(ncProfileChar(r, "DATA_MODE", 1)).toBe("R");
    const levels = keptLevels(r, 1);
    const rows = await db.all(
      `SELECT level, data_mode, pres, pres_qc, pres_raw, pres_raw_qc, pres_adjusted, temp, temp_qc, temp_raw, psal, psal_qc, psal_raw,
              psal_raw_qc, latitude, longitude, juld_qc, position_qc, epoch_ms(time) AS t, dac, year, source_file
       FROM measurements WHERE float_id = '6901929' AND cycle_number = 1 AND direction = 'A' AND profile_index = 1 ORDER BY level`,
    );
    expect(rows.map((x) => x.level)).toEqual(levels);
    const v = (name: string) => ncVar(r, name)!;
    levels.forEach((j, i) => {
      const row = rows[i]!;
      expect(row.data_mode).toBe("R");
      expect(row.pres_raw).toBe(ncValue(r, v("PRES"), 1, j));
      expect(row.temp_raw).toBe(ncValue(r, v("TEMP"), 1, j));
      expect(row.psal_raw).toBe(ncValue(r, v("PSAL"), 1, j));
      expect(row.pres_raw_qc).toBe(ncQc(r, v("PRES_QC"), 1, j));
      expect(row.psal_raw_qc).toBe(ncQc(r, v("PSAL_QC"), 1, j));
      expect(row.pres_adjusted).toBe(ncValue(r, v("PRES_ADJUSTED"), 1, j));
      // Mode R: the best values are the raw ones.
      expect(row.pres).toBe(row.pres_raw);
      expect(row.temp).toBe(row.temp_raw);
      expect(row.psal).toBe(row.psal_raw);
      expect(row.pres_qc).toBe(row.pres_raw_qc);
      expect(row.temp_qc).toBe(ncQc(r, v("TEMP_QC"), 1, j));
      expect(row.psal_qc).toBe(row.psal_raw_qc);
      expect(row.latitude).toBe(v("LATITUDE").values[1]);
      expect(row.longitude).toBe(v("LONGITUDE").values[1]);
      expect(row.juld_qc).toBe(Number(ncProfileChar(r, "JULD_QC", 1)));
      expect(row.position_qc).toBe(Number(ncProfileChar(r, "POSITION_QC", 1)));
      expect(Math.abs(Number(row.t) - (JULD_EPOCH + (v("JULD").values[1] as number) * 86_400_000))).toBeLessThanOrEqual(1);
      expect(row.dac).toBe("bodc");
      expect(row.year).toBe(new Date(Number(row.t)).getUTCFullYear());
      expect(row.source_file).toBe("D6901929_001.nc");
    });
  });

  it("returns the adjusted values as best values for a profile in mode D (D4902252_001)", async () => {
    const file = fixtureFiles(["4902252"]).find((f) => f.rest === "profiles/D4902252_001.nc")!.file;
    const r = openNc(file);
    expect(ncProfileChar(r, "DATA_MODE", 0)).toBe("D");
    const levels = keptLevels(r, 0);
    expect(levels.length).toBeGreaterThan(1000);
    const rows = await db.all(
      `SELECT level, pres, pres_qc, pres_adjusted_error, temp, temp_qc, temp_raw, psal, psal_qc, psal_adjusted_error, pres_mode, temp_mode
       FROM measurements WHERE float_id = '4902252' AND cycle_number = 1 AND profile_index = 0 ORDER BY level`,
    );
    expect(rows.map((x) => x.level)).toEqual(levels);
    const v = (name: string) => ncVar(r, name)!;
    levels.forEach((j, i) => {
      const row = rows[i]!;
      expect(row.pres).toBe(ncValue(r, v("PRES_ADJUSTED"), 0, j));
      expect(row.pres_qc).toBe(ncQc(r, v("PRES_ADJUSTED_QC"), 0, j));
      expect(row.pres_adjusted_error).toBe(ncValue(r, v("PRES_ADJUSTED_ERROR"), 0, j));
      expect(row.temp).toBe(ncValue(r, v("TEMP_ADJUSTED"), 0, j));
      expect(row.temp_qc).toBe(ncQc(r, v("TEMP_ADJUSTED_QC"), 0, j));
      expect(row.temp_raw).toBe(ncValue(r, v("TEMP"), 0, j));
      expect(row.psal).toBe(ncValue(r, v("PSAL_ADJUSTED"), 0, j));
      expect(row.psal_qc).toBe(ncQc(r, v("PSAL_ADJUSTED_QC"), 0, j));
      expect(row.pres_mode).toBe("D");
      expect(row.temp_mode).toBe("D");
    });
  });

  it("fills BGC columns from the B-files of BGC floats (6903247, 3902131)", async () => {
    for (const wmo of ["6903247", "3902131"]) {
      for (const b of fixtureFiles([wmo]).filter((f) => /^profiles\/B[RD]/.test(f.rest))) {
        const core = openNc(b.file.replace(/\/B([RD])/, (_, m) => `/${wmo === "3902131" ? "D" : m}`));
        const bgc = openNc(b.file);
        const bgcName = b.rest.slice("profiles/".length);
        for (const param of ["DOXY", "CHLA"]) {
          const raw = ncVar(bgc, param);
          if (!raw) continue;
          const expected: number[] = [];
          for (let p = 0; p < ncDim(bgc, "N_PROF"); p++) {
            for (const j of keptLevels(core, p)) {
              const x = ncValue(bgc, raw, p, j);
              if (x !== null) expected.push(x);
            }
          }
          // BGC parameters are rows of the long bgc_measurements table (DOUBLE there: float32 widened exactly).
          const got = await db.all(
            `SELECT raw AS v FROM bgc_measurements WHERE source_file = '${bgcName}' AND parameter = '${param}' AND raw IS NOT NULL ORDER BY profile_index, level`,
          );
          expect(got.map((x) => x.v), `${bgcName} ${param}`).toEqual(expected);
          expect(expected.length, `${bgcName} ${param}`).toBeGreaterThan(0);
        }
      }
    }
    const [counts] = await db.all(
      "SELECT count(doxy) FILTER (WHERE float_id = '6903247') AS doxy_a, count(chla) FILTER (WHERE float_id = '6903247') AS chla_a, " +
        "count(doxy) FILTER (WHERE float_id = '3902131') AS doxy_b, count(doxy) FILTER (WHERE float_id NOT IN ('6903247', '3902131')) AS doxy_core FROM measurements_bgc",
    );
    expect(Number(counts!.doxy_a)).toBeGreaterThan(0);
    expect(Number(counts!.chla_a)).toBeGreaterThan(0);
    expect(Number(counts!.doxy_b)).toBeGreaterThan(0);
    expect(Number(counts!.doxy_core)).toBe(0);
  });

  it("writes exact column types, one file per float per partition, and units in the Parquet metadata", async () => {
    const file = join(dir.path, "parquet/measurements/dac=coriolis/year=2018/6903247.parquet");
    const describe = async (f: string) =>
      new Map((await db.all(`DESCRIBE SELECT * FROM read_parquet('${f}', hive_partitioning = false)`)).map((r) => [r.column_name, r.column_type]));
    const types = await describe(file);
    expect(types.get("time")).toBe("TIMESTAMP WITH TIME ZONE");
    expect(types.get("temp")).toBe("FLOAT");
    expect(types.get("temp_qc")).toBe("TINYINT");
    // NetCDF double stays DOUBLE: MTIME of the R files of 6901929.
    const r = openNc(fixtureFiles(["6901929"]).find((f) => f.rest === "profiles/R6901929_189.nc")!.file);
    expect(r.variables.find((v) => v.name === "MTIME")!.type).toBe("double");
    expect(r.variables.find((v) => v.name === "TEMP")!.type).toBe("float");
    // MTIME is a row of bgc_measurements, its value_type says the file's type.
    const [mtime] = await db.all("SELECT DISTINCT value_type FROM bgc_measurements WHERE float_id = '6901929' AND parameter = 'MTIME'");
    expect(mtime).toEqual({ value_type: "double" });
    expect(types.get("profile_index")).toBe("SMALLINT");
    expect(types.has("dac")).toBe(false); // partition keys live in the path only
    const kv = await db.all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${file}')`);
    const meta = new Map(kv.map((r) => [r.k, r.v]));
    expect(meta.get("temp.units")).toBe("degree_Celsius");
    const bgcFile = join(dir.path, "parquet/bgc_measurements/dac=coriolis/year=2018/6903247.parquet");
    const bgcKv = new Map((await db.all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${bgcFile}')`)).map((r) => [r.k, r.v]));
    expect(bgcKv.get("parameter.DOXY.units")).toBe("micromole/kg");
    expect(String(meta.get("pres.long_name"))).toMatch(/pressure/i);
    const [profiles] = await db.all("SELECT count(*) AS n, count(DISTINCT float_id) AS f FROM profiles");
    expect(Number(profiles!.n)).toBe(first.profiles);
    expect(Number(profiles!.f)).toBe(15);
    const [floats] = await db.all("SELECT count(*) AS n, sum(profile_count) AS p FROM floats");
    expect(Number(floats!.n)).toBe(15);
    expect(Number(floats!.p)).toBe(first.profiles);
    const stats = await db.all(
      "SELECT s.parameter, s.n, s.min, s.max FROM profiles, unnest(parameter_stats) AS u(s) WHERE float_id = '4902252' AND cycle_number = 1 AND s.parameter = 'temp'",
    );
    const [check] = await db.all(
      "SELECT count(*) AS n, min(temp) AS lo, max(temp) AS hi FROM measurements WHERE float_id = '4902252' AND cycle_number = 1 AND temp_qc IN (1, 2)",
    );
    expect(stats[0]).toMatchObject({ parameter: "temp", n: Number(check!.n), min: check!.lo, max: check!.hi });
  });

  it("reads only the files of the partitions a dac and year filter selects", async () => {
    const all = (await db.all("SELECT count(*) AS n FROM glob('" + dir.path + "/parquet/measurements/**/*.parquet')"))[0]!.n;
    const [plan] = await db.all("EXPLAIN ANALYZE SELECT count(*), avg(temp) FROM measurements WHERE dac = 'coriolis' AND year = 2018");
    const text = String(plan!.explain_value);
    const expected = (await db.all("SELECT count(*) AS n FROM glob('" + dir.path + "/parquet/measurements/dac=coriolis/year=2018/*.parquet')"))[0]!.n;
    expect(Number(expected)).toBe(2); // 6903247 and 3902131
    expect(text).toContain(`Scanning Files: ${expected}/${all}`);
    expect(text).toMatch(new RegExp(`Total Files Read: ${expected}\\b`));
    // The box drawing wraps long lines: compare without it.
    const flat = text.replace(/[│\s]/g, "");
    expect(flat).toContain("FileFilters:");
    expect(flat).toContain("(dac='coriolis')");
    expect(flat).toContain("(year=2018)");
  });

  it("gives the same rows and byte-identical files when parsed again, and skips unchanged floats", async () => {
    const before = await parquetFiles(dir.path);
    const skip = await runParse(configFor(dir.path), store, log);
    expect(skip.floats_parsed).toBe(0);
    expect(skip.floats_skipped).toBe(15);
    const again = await runParse(configFor(dir.path, { MAX_WORKERS: "1" }), store, log, { force: true });
    expect(again.floats_parsed).toBe(15);
    expect(again.measurement_rows).toBe(first.measurement_rows);
    const after = await parquetFiles(dir.path);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect(Buffer.compare(v.bytes, after.get(k)!.bytes), k).toBe(0);
  });

  it("prints the original system's ProfileData JSON for a float", async () => {
    const out = [];
    for await (const p of profileDataOf(configFor(dir.path), store, log, { floatIds: ["6901929"] })) out.push(ProfileDataSchema.parse(p));
    const [row] = await db.all("SELECT count(*) AS n FROM profiles WHERE float_id = '6901929'");
    expect(out.length).toBe(Number(row!.n));
    const p1 = out.find((p) => p.cycle_number === 1 && p.metadata.direction === "A" && p.metadata.profile_index === 1)!;
    const r = openNc(fixtureFiles(["6901929"]).find((f) => f.rest === "profiles/D6901929_001.nc")!.file);
    expect(p1.measurements.length).toBe(keptLevels(r, 1).length);
    expect(p1.quality_status).toBe("REAL_TIME");
  });
});

describe("incremental parsing and quarantine", () => {
  let dir: TempDir;
  let store: LocalLakeStore;
  const floats = ["5900446", "2902696", "13857"];

  beforeAll(async () => {
    dir = await tempDir("parse-inc");
    store = new LocalLakeStore(dir.path);
    await landFixtures(store, floats);
    const s = await runParse(configFor(dir.path), store, log);
    expect(s.floats_parsed).toBe(3);
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  it("rewrites only the changed float's files when one raw file changes", async () => {
    const before = await parquetFiles(dir.path);
    const f = fixtureFiles(["2902696"]).find((x) => x.rest === "profiles/D2902696_001.nc")!;
    // A new DATE_UPDATE, as the GDAC sets when it replaces a file: same layout, other bytes.
    const bytes = new Uint8Array(readFileSync(f.file));
    const r = openNc(f.file);
    const offset = r.variables.find((v) => v.name === "DATE_UPDATE")!.offset;
    bytes.set(new TextEncoder().encode("20990102030405"), offset);
    await new Promise((res) => setTimeout(res, 20));
    await store.put(f.key, bytes);
    const s = await runParse(configFor(dir.path), store, log);
    expect(s.floats_parsed).toBe(1);
    expect(s.floats_skipped).toBe(2);
    const after = await parquetFiles(dir.path);
    for (const [k, v] of before) {
      const changed = k.endsWith("/2902696.parquet");
      if (changed) expect(after.get(k)!.mtimeMs, k).toBeGreaterThan(v.mtimeMs);
      else {
        expect(after.get(k)!.mtimeMs, k).toBe(v.mtimeMs);
        expect(Buffer.compare(after.get(k)!.bytes, v.bytes), k).toBe(0);
      }
    }
    const db = await viewsOver(dir.path);
    const rows = await db.all("SELECT DISTINCT source_file, date_update::VARCHAR AS d FROM measurements WHERE float_id = '2902696' ORDER BY 1");
    db.close();
    expect(rows).toEqual([{ source_file: "D2902696_001.nc", d: "2099-01-02 03:04:05+00" }, { source_file: "D2902696_002.nc", d: expect.not.stringMatching(/^2099/) }]);
  });

  it("quarantines a corrupt file with its reason, lands the rest, and clears the record once the file is good", async () => {
    const f = fixtureFiles(["5900446"]).find((x) => x.rest === "profiles/D5900446_001.nc")!;
    const good = readFileSync(f.file);
    await store.put(f.key, good.subarray(0, Math.floor(good.length / 2)));
    const s = await runParse(configFor(dir.path), store, log);
    expect(s.floats_parsed).toBe(1);
    expect(s.quarantined).toBe(1);
    expect(s.errors).toBe(0);
    const records = await listQuarantine(store);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ file: f.key, dac: "aoml", float_id: "5900446", stage: "parse", size: Math.floor(good.length / 2) });
    expect(records[0]!.reason).toMatch(/truncated|corrupt/i);
    expect(records[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const db = await viewsOver(dir.path);
    const rows = await db.all("SELECT source_file, count(*) AS n FROM measurements WHERE float_id = '5900446' GROUP BY ALL ORDER BY 1");
    const [fl] = await db.all("SELECT count(*) AS n FROM floats WHERE float_id = '5900446'");
    db.close();
    const other = fixtureFiles(["5900446"]).find((x) => x.rest === "profiles/D5900446_000.nc")!;
    expect(rows).toEqual([{ source_file: "D5900446_000.nc", n: String(countKeptLevels(other.file)) }]);
    expect(Number(fl!.n)).toBe(1);
    const status = await parseStatus(store);
    expect(status.quarantine.map((q) => q.file)).toEqual([f.key]);
    expect(formatParseStatus(status)).toContain(f.key);

    await store.put(f.key, good);
    const fixed = await runParse(configFor(dir.path), store, log);
    expect(fixed.floats_parsed).toBe(1);
    expect(fixed.quarantined).toBe(0);
    expect(await listQuarantine(store)).toEqual([]);
  });

  it("removes a float's files from partitions it no longer has", async () => {
    // 13857 has profiles in 1997 and 2000; without its 2000 cycle (R13857_090) that partition goes.
    const gone = fixtureFiles(["13857"]).find((x) => x.rest === "profiles/R13857_090.nc")!;
    const beforeKeys = [...(await parquetFiles(dir.path)).keys()].filter((k) => k.includes("/13857.parquet"));
    expect(beforeKeys).toContain("measurements/dac=aoml/year=2000/13857.parquet");
    await store.delete(gone.key);
    const s = await runParse(configFor(dir.path), store, log);
    expect(s.floats_parsed).toBe(1);
    expect(s.parquet_files_deleted).toBe(2);
    const afterKeys = [...(await parquetFiles(dir.path)).keys()].filter((k) => k.includes("/13857.parquet"));
    expect(afterKeys).not.toContain("measurements/dac=aoml/year=2000/13857.parquet");
    expect(afterKeys).not.toContain("profiles/dac=aoml/year=2000/13857.parquet");
    expect(afterKeys).toContain("measurements/dac=aoml/year=1997/13857.parquet");
  });
});

describe("parse options", () => {
  let dir: TempDir;
  let store: LocalLakeStore;
  const floats = ["5900446", "2902696", "13857", "2901780"];

  beforeAll(async () => {
    dir = await tempDir("parse-opts");
    store = new LocalLakeStore(dir.path);
    await landFixtures(store, floats);
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  it("parses only the floats asked for, by id and by shard, and stops scheduling when aborted", async () => {
    const one = await runParse(configFor(dir.path, { MAX_WORKERS: "1" }), store, log, { floatIds: ["13857"] });
    expect(one.floats_parsed).toBe(1);
    const shard = await runParse(configFor(dir.path, { MAX_WORKERS: "1" }), store, log, { shard: (wmo) => wmo.startsWith("29") });
    expect(shard.floats_parsed).toBe(2); // 2902696 and 2901780
    const aborted = new AbortController();
    aborted.abort();
    const none = await runParse(configFor(dir.path), store, log, { signal: aborted.signal });
    expect(none).toMatchObject({ floats_parsed: 0, aborted: true });
    const status = await parseStatus(store);
    expect(status.floats.map((f) => f.wmo).sort()).toEqual(["13857", "2901780", "2902696"]);
  });

  it("honours PROFILE_BATCH_LIMIT, lowest cycles first, and reparses when the limit changes", async () => {
    const limited = await runParse(configFor(dir.path, { PROFILE_BATCH_LIMIT: "1", MAX_WORKERS: "1" }), store, log, { force: true });
    const db = await viewsOver(dir.path);
    const cycles = await db.all("SELECT float_id, list(DISTINCT cycle_number ORDER BY cycle_number) AS c FROM profiles GROUP BY ALL ORDER BY 1");
    db.close();
    expect(cycles).toEqual([
      { float_id: "13857", c: [1] },
      { float_id: "2901780", c: [1] },
      { float_id: "2902696", c: [1] },
      { float_id: "5900446", c: [0] },
    ]);
    expect(limited.floats_parsed).toBe(4);
    const all = await runParse(configFor(dir.path, { MAX_WORKERS: "1" }), store, log);
    expect(all.floats_parsed).toBe(4); // the limit changed back to None: every float is parsed again
    const again = await runParse(configFor(dir.path, { MAX_WORKERS: "1" }), store, log);
    expect(again.floats_skipped).toBe(4);
  });
});
