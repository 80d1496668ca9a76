/**
 * Hostile input through the whole pipeline: jobs spawned against the HTTPS
 * test server serving a temporary GDAC copy whose index is poisoned and whose
 * float folder holds hostile NetCDF files.
 *
 * - Index rows naming `../../x`, absolute paths, URL-encoded traversals,
 *   malformed DACs and WMOs, huge or negative fields, over-long lines are
 *   refused with a logged reason; nothing outside the lake changes (sentinel
 *   files where the traversals would land, and a file the server would
 *   serve for the traversal URL); the float's good files land, parse and load.
 * - NetCDF files declaring N_LEVELS = 2^31 or N_PROF = 2^32-1, or whose
 *   variables overlap or point past the end, land in the raw zone (they are
 *   what the GDAC lists) and are quarantined by the parse stage with their
 *   reason; the rest of the float lands; the job's peak RSS stays within a
 *   margin of a run without them.
 * - A body larger than HTTP_MAX_BYTES is cut off (with and without
 *   Content-Length) and not landed; a redirect to http:// or to another host
 *   is refused; a same-host https redirect is followed.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { manifestProblems, visibleTempKeys } from "./support/compare.ts";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { stagesOf } from "./support/runs.ts";
import { INDEX_FILES, startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { type JobHandle, type JobResult, jsonLines, spawnJobProcess } from "./support/jobs.ts";
import { argoProfileFile, writeNetcdf3 } from "./support/netcdf3-writer.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

const WMO = "2902269";
const FLOAT_DIR = `dac/incois/${WMO}`;
const CORE_INDEX = "ar_index_global_prof.txt";
/** The rest of a core index row after its path. */
const TAIL = "20200101000000,15.000,62.000,I,846,IN,20200101000000";

let root: TempDir; // holds the mirror, the lake and the sentinels
let mirror: string;
let srv: TestHttpsServer;
let db: TestDatabase;
const lakes: TempDir[] = [];

/** Every file below `dir` (symbolic links not followed), skipping `skip`, with its SHA-256. */
function tree(dir: string, skip: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = join(e.parentPath, e.name);
    const rel = relative(dir, full).split(sep).join("/");
    if (skip.some((s) => rel === s || rel.startsWith(s + "/"))) continue;
    if (e.isFile()) out[rel] = createHash("sha256").update(readFileSync(full)).digest("hex");
    else if (e.isSymbolicLink() || e.isDirectory()) out[rel] = e.isDirectory() ? "dir" : "link";
  }
  return out;
}

/** Offset of the 4-byte size that follows a dimension's name in a NetCDF-3 header. */
function dimensionSizeOffset(bytes: Uint8Array, name: string): number {
  const at = new TextDecoder("latin1").decode(bytes.subarray(0, 8192)).indexOf(name);
  if (at < 0) throw new Error(`no dimension ${name}`);
  return at + Math.ceil(name.length / 4) * 4;
}

/** Hostile NetCDF files, by the name they are served under, and what their quarantine reason says. */
function hostileFiles(): { name: string; bytes: Uint8Array; reason: RegExp }[] {
  const real = new Uint8Array(readFileSync(join(fixturesDir, FLOAT_DIR, "profiles", `R${WMO}_001.nc`)));
  const patched = (dim: string, size: number) => {
    const b = real.slice();
    new DataView(b.buffer).setUint32(dimensionSizeOffset(b, dim), size);
    return b;
  };
  const written = argoProfileFile([{ platformNumber: WMO, cycleNumber: 902, parameters: { PRES: { raw: [1, 2] } } }]);
  const huge = writeNetcdf3({
    ...written,
    dimensions: written.dimensions.map(([n, s]) => [n, n === "N_LEVELS" ? 2 ** 31 : s] as const),
    variables: written.variables.map((v) => (v.dimensions.includes("N_LEVELS") ? { ...v, data: undefined } : v)),
  });
  const overlap = writeNetcdf3({
    dimensions: [["N", 4]],
    variables: [
      { name: "A", type: "int", dimensions: ["N"], data: [1, 2, 3, 4] },
      { name: "B", type: "int", dimensions: ["N"], data: [5, 6, 7, 8] },
    ],
  });
  const ov = new DataView(overlap.buffer);
  ov.setUint32(overlap.length - 36, ov.getUint32(overlap.length - 36) - 8); // B's begin points into A
  const pastEnd = writeNetcdf3({ dimensions: [["N", 2]], variables: [{ name: "X", type: "double", dimensions: ["N"], data: [1, 2] }] });
  new DataView(pastEnd.buffer).setUint32(pastEnd.length - 20, pastEnd.length); // X begins at the end of the file
  return [
    { name: `R${WMO}_900.nc`, bytes: patched("N_LEVELS", 2 ** 31 - 1), reason: /declares shape .* bytes, but the file has/ },
    { name: `R${WMO}_901.nc`, bytes: patched("N_PROF", 2 ** 32 - 1), reason: /declares shape .* bytes, but the file has/ },
    { name: `R${WMO}_902.nc`, bytes: huge, reason: /declares shape \[1, 2147483648\]/ },
    { name: `R${WMO}_903.nc`, bytes: overlap, reason: /overlaps A/ },
    { name: `R${WMO}_904.nc`, bytes: pastEnd, reason: /past the end of the file/ },
  ];
}

/** Index rows that must be refused, with what their logged reason says. */
function hostileRows(): { row: string; reason: RegExp }[] {
  const abs = join(root.path, "sentinel.nc");
  const long = `incois/${WMO}/profiles/R${WMO}_001.nc,${"9".repeat(70 * 1024)}`;
  return [
    { row: `../../x.nc,${TAIL}`, reason: /traversal|unknown DAC/ },
    { row: `incois/${WMO}/profiles/../../../../../x.nc,${TAIL}`, reason: /traversal/ },
    { row: `${abs},${TAIL}`, reason: /absolute/ },
    { row: `incois/${WMO}/profiles/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/x.nc,${TAIL}`, reason: /percent-encoded/ },
    { row: `%2e%2e%2f%2e%2e%2fx.nc,${TAIL}`, reason: /percent-encoded/ },
    { row: `INCOIS/${WMO}/profiles/R${WMO}_001.nc,${TAIL}`, reason: /unknown DAC/ },
    { row: `evil/${WMO}/profiles/R${WMO}_001.nc,${TAIL}`, reason: /unknown DAC/ },
    { row: `incois/290226/profiles/R290226_001.nc,${TAIL}`, reason: /malformed WMO/ },
    { row: `incois/${WMO}x/profiles/R${WMO}x_001.nc,${TAIL}`, reason: /malformed WMO/ },
    { row: `incois/${WMO}/profiles/R${WMO}_001.nc,20200101000000,15.000,62.000,I,846,IN,99999999999999999999999`, reason: /date_update/ },
    { row: `incois/${WMO}/profiles/R${WMO}_002.nc,20200101000000,15.000,62.000,I,846,IN,-20200101000000`, reason: /date_update/ },
    { row: `incois/${WMO}/profiles/R${WMO}_003.nc,20200101000000,1e308,62.000,I,846,IN,20200101000000`, reason: /latitude/ },
    { row: `incois/${WMO}/profiles/R${WMO}_004.nc,20200101000000,15.000,62.000,I,846,${"X".repeat(5000)},20200101000000`, reason: /longer than/ },
    { row: long, reason: /line longer than/ },
  ];
}

beforeAll(async () => {
  root = await tempDir("hostile");
  mirror = join(root.path, "mirror");
  // The mirror: copies of the index files, the float's real files linked in place, and the hostile files.
  await mkdir(join(mirror, FLOAT_DIR, "profiles"), { recursive: true });
  for (const name of INDEX_FILES) await copyFile(join(fixturesDir, name), join(mirror, name));
  const real = join(fixturesDir, FLOAT_DIR);
  for (const e of readdirSync(real, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) await symlink(join(e.parentPath, e.name), join(mirror, FLOAT_DIR, relative(real, join(e.parentPath, e.name))));
  }
  // What a traversal would fetch (the server normalises /dac/../../x.nc to /x.nc) and where it would write.
  await writeFile(join(mirror, "x.nc"), "served to a traversal\n");
  for (const s of ["x.nc", "sentinel.nc", "lake-sibling/x.nc"]) {
    await mkdir(join(root.path, s, ".."), { recursive: true });
    await writeFile(join(root.path, s), `sentinel ${s}\n`);
  }
  srv = await startHttpsServer({ root: mirror });
  db = await createTestDatabase("hostile");
});

afterAll(async () => {
  await srv?.stop();
  await db?.drop();
  for (const l of lakes) await l.cleanup();
  await root?.cleanup();
});

/** A fresh lake directory inside the test root, next to the sentinels. */
async function newLake(): Promise<{ path: string; store: LocalLakeStore }> {
  const dir = join(root.path, `lake-${lakes.length}`);
  await mkdir(dir);
  lakes.push({ path: dir, cleanup: async () => {} });
  return { path: dir, store: new LocalLakeStore(dir) };
}

/** The mirror's core index with `rows` appended (the original is restored by `restore`). */
async function withIndexRows(rows: string[]): Promise<() => Promise<void>> {
  const file = join(mirror, CORE_INDEX);
  const original = await readFile(file, "utf8");
  await writeFile(file, original + rows.join("\n") + "\n");
  return () => writeFile(file, original);
}

const baseEnv = (lake: string, extra: Record<string, string> = {}) => ({
  GDAC_BASE_URL: srv.url,
  GDAC_CA_FILE: srv.caFile,
  LAKE_URL: lake,
  LOG_FORMAT: "json",
  HTTP_RETRY_DELAY: "0.05",
  ...extra,
});

/** Peak resident memory (VmHWM) of a running job, read from /proc until it exits. */
function watchPeakRss(job: JobHandle): Promise<number> {
  return new Promise((resolve) => {
    let peak = 0;
    const read = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${job.child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch { /* exited */ }
    };
    const timer = setInterval(read, 10);
    job.done.finally(() => {
      clearInterval(timer);
      resolve(peak);
    }).catch(() => {});
  });
}

async function runMeasured(args: string[], env: Record<string, string>): Promise<{ result: JobResult; peak: number }> {
  const job = spawnJobProcess("run-float", args, { env });
  const [result, peak] = await Promise.all([job.done, watchPeakRss(job)]);
  return { result, peak };
}

describe("a poisoned GDAC through run-float", () => {
  test("hostile index rows are refused with a logged reason, nothing outside the lake changes; hostile files are quarantined; the rest lands and loads; peak RSS stays low", async () => {
    // Baseline: the same float from the same mirror without the hostile rows and files.
    const base = await newLake();
    const baseline = await runMeasured([WMO], baseEnv(base.path, { DATABASE_URL: db.url }));
    expect(baseline.result.code, baseline.result.stderr.slice(-2000)).toBe(0);
    await db.pool.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");

    const files = hostileFiles();
    for (const f of files) await writeFile(join(mirror, FLOAT_DIR, "profiles", f.name), f.bytes);
    const rows = hostileRows();
    const restore = await withIndexRows([
      ...rows.map((r) => r.row),
      ...files.map((f) => `incois/${WMO}/profiles/${f.name},${TAIL}`),
    ]);
    const lake = await newLake();
    const outside = tree(root.path, ["mirror", ...lakes.map((l) => relative(root.path, l.path))]);
    let run: { result: JobResult; peak: number };
    try {
      run = await runMeasured([WMO, "--json"], baseEnv(lake.path, { DATABASE_URL: db.url, MAX_WORKERS: "2" }));
    } finally {
      await restore();
    }
    const { result, peak } = run;
    // Partial (exit 1): the hostile files are quarantined, everything else landed and loaded.
    expect(result.code, result.stderr.slice(-3000)).toBe(1);
    const stats = stagesOf(JSON.parse(result.stdout));
    expect(stats).toMatchObject({ verdict: "partial", failed_stage: "parse" });

    // Every hostile row refused, each with its reason in a log line.
    expect(stats.sync.index_rows_refused).toBe(rows.length);
    const refusals = jsonLines(result.stderr).filter((l) => l.msg === "index row refused").map((l) => String(l.reason));
    expect(refusals.length).toBe(rows.length);
    for (const r of rows) expect(refusals.some((reason) => r.reason.test(reason)), `${r.row.slice(0, 80)}: ${r.reason}`).toBe(true);

    // Nothing outside the lake changed; nothing in the lake outside the float's folders.
    expect(tree(root.path, ["mirror", ...lakes.map((l) => relative(root.path, l.path))])).toEqual(outside);
    const keys = (await lake.store.list("")).map((o) => o.key);
    expect(keys.filter((k) => !/^(raw\/dac=incois\/wmo=2902269\/|raw\/_manifest\/dac=incois\/wmo=2902269\.json$|raw\/_index\/|raw\/_changes\/|raw\/_applied\/|parquet\/|quarantine\/dac=incois\/wmo=2902269\/|runs\/)/.test(k))).toEqual([]);
    expect(await manifestProblems(lake.store)).toEqual([]);
    expect(await visibleTempKeys(lake.store)).toEqual([]);

    // The hostile files landed as listed, were quarantined with their reasons; the float's 57 profiles loaded.
    expect(stats.sync).toMatchObject({ errors: 0, files_downloaded: 58 + files.length });
    expect(stats.parse).toMatchObject({ errors: 0, quarantined: files.length, profiles: 57 });
    for (const f of files) {
      const rec = await lake.store.get(`quarantine/dac=incois/wmo=${WMO}/${f.name}.json`);
      expect(rec, f.name).not.toBeNull();
      const q = JSON.parse(new TextDecoder().decode(rec!));
      expect(q, f.name).toMatchObject({ file: `raw/dac=incois/wmo=${WMO}/profiles/${f.name}`, float_id: WMO, stage: "parse" });
      expect(q.reason, f.name).toMatch(f.reason);
    }
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles")).rows[0].n).toBe(57);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles WHERE cycle_number >= 900")).rows[0].n).toBe(0);

    // Memory: the hostile headers declare gigabytes; the job stays within 150 MB of the clean run's peak.
    console.info(`peak RSS: ${(baseline.peak / 2 ** 20).toFixed(0)} MiB clean, ${(peak / 2 ** 20).toFixed(0)} MiB with ${files.length} hostile files`);
    expect(peak).toBeGreaterThan(0);
    expect(peak - baseline.peak).toBeLessThan(150 * 2 ** 20);
  }, 90_000);

  test("the sync job under Deno refuses the same rows and writes nothing outside the lake", async () => {
    const restore = await withIndexRows(hostileRows().map((r) => r.row));
    const lake = await newLake();
    const outside = tree(root.path, ["mirror", ...lakes.map((l) => relative(root.path, l.path))]);
    let r: JobResult;
    try {
      r = await spawnJobProcess("sync", ["--float", WMO, "--json"], { env: baseEnv(lake.path), runtime: "deno", timeoutMs: 90_000 }).done;
    } finally {
      await restore();
    }
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ errors: 0, files_downloaded: 58, index_rows_refused: hostileRows().length });
    expect(tree(root.path, ["mirror", ...lakes.map((l) => relative(root.path, l.path))])).toEqual(outside);
    expect(await manifestProblems(lake.store)).toEqual([]);
  }, 100_000);
});

describe("responses the sync must not trust", () => {
  test("a body far larger than expected is cut off at HTTP_MAX_BYTES, with or without Content-Length, and never lands", async () => {
    const big = `R${WMO}_905.nc`;
    await writeFile(join(mirror, FLOAT_DIR, "profiles", big), Buffer.alloc(24 * 2 ** 20, 7));
    const restore = await withIndexRows([`incois/${WMO}/profiles/${big},${TAIL}`]);
    try {
      for (const chunked of [false, true]) {
        srv.setFaults({ chunked });
        const lake = await newLake();
        const r = await spawnJobProcess("sync", ["--float", WMO, "--json"], {
          env: baseEnv(lake.path, { HTTP_MAX_BYTES: String(2 * 2 ** 20) }),
        }).done;
        expect(r.code, r.stderr.slice(-2000)).toBe(1);
        const stats = JSON.parse(r.stdout);
        expect(stats, `chunked=${chunked}`).toMatchObject({ errors: 1, files_downloaded: 58 });
        expect(stats.error_details[0].file).toBe(`incois/${WMO}/profiles/${big}`);
        expect(stats.error_details[0].message).toMatch(/larger than HTTP_MAX_BYTES=2097152/);
        expect(await lake.store.stat(`raw/dac=incois/wmo=${WMO}/profiles/${big}`)).toBeNull();
        expect(await manifestProblems(lake.store)).toEqual([]);
        // Bytes read stop near the ceiling: the server sent at most the ceiling plus what was in flight.
        expect(stats.bytes_downloaded).toBeLessThan(5 * 2 ** 20);
      }
    } finally {
      srv.setFaults({ chunked: false });
      await restore();
    }
  }, 60_000);

  test("a redirect to http:// or to another host is refused by name; a same-host https redirect is followed", async () => {
    const p = (n: string) => `/dac/incois/${WMO}/profiles/R${WMO}_${n}.nc`;
    srv.setFaults({
      rules: [
        { path: p("010"), fault: { kind: "redirect", location: `http://127.0.0.1:${srv.port}${p("010")}` } },
        { path: p("011"), fault: { kind: "redirect", location: `https://localhost:${srv.port}${p("011")}` } },
        { path: p("012"), fault: { kind: "redirect", location: `${p("012")}?moved=1` }, times: 1 },
      ],
    });
    const lake = await newLake();
    let r: JobResult;
    try {
      r = await spawnJobProcess("sync", ["--float", WMO, "--json"], { env: baseEnv(lake.path) }).done;
    } finally {
      srv.setFaults({ rules: [] });
    }
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    const stats = JSON.parse(r.stdout);
    expect(stats).toMatchObject({ errors: 2, files_downloaded: 56 });
    const messages = stats.error_details.map((d: { file: string; message: string }) => `${d.file}: ${d.message}`).sort();
    expect(messages[0]).toMatch(/R2902269_010\.nc: .*refused redirect .* to http:\/\/127\.0\.0\.1:\d+\/.*only https:\/\/ is allowed/);
    expect(messages[1]).toMatch(/R2902269_011\.nc: .*refused redirect .* to another host \(localhost:\d+\)/);
    expect(await lake.store.stat(`raw/dac=incois/wmo=${WMO}/profiles/R${WMO}_012.nc`)).not.toBeNull();
    for (const n of ["010", "011"]) expect(await lake.store.stat(`raw/dac=incois/wmo=${WMO}/profiles/R${WMO}_${n}.nc`)).toBeNull();
    expect(await manifestProblems(lake.store)).toEqual([]);
  });
});
