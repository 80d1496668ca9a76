/**
 * The sync against our local HTTPS server serving the fixture mirror, into a
 * local lake: a full sync lands every file byte for byte; a second run
 * fetches nothing; a bumped date_update re-fetches exactly that file; a
 * removed row moves its file to removed/; forced runs fetch again; unknown
 * floats, 404s and 403s are named errors while the rest lands; a lake that
 * cannot be written stops the run without advancing the manifest; an abort
 * stops early and leaves a consistent lake.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeEach, describe, expect, it } from "vitest";
import { LakeError } from "../lib/errors.ts";
import { indexKey, indexMetaKey, manifestKey } from "../lib/lake/layout.ts";
import { readManifest as readFloatManifest } from "../lib/gdac/manifest.ts";
import { openGdacSource } from "../lib/gdac/sources.ts";
import { runSync, type SyncStats } from "../lib/gdac/sync.ts";
import { checkRawZone } from "../lib/gdac/verify.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { readManifest } from "./support/fixtures.ts";
import { editIndex } from "./support/https-server.ts";
import { useSyncBed } from "./support/sync-bed.ts";

const fixtureFiles = readManifest().filter((r) => r.path.startsWith("dac/"));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
/** raw/dac=<dac>/wmo=<wmo>/<rest> for a fixture path dac/<dac>/<wmo>/<rest>. */
const rawKeyOf = (path: string) => path.replace(/^dac\/([^/]+)\/([^/]+)\//, "raw/dac=$1/wmo=$2/");

const bed = useSyncBed("sync-lake");
const { config } = bed;
let store: LocalLakeStore;
let logLines: string[];
let log: Logger;

beforeEach(() => {
  store = new LocalLakeStore(bed.lake.path);
  logLines = [];
  log = createLogger({ level: "info", write: (l) => logLines.push(l) });
});

/** GETs of data files answered 200 since the last resetCounts, by path below /dac/. */
function dataFilesServed(): string[] {
  return [...bed.srv.counts.byPath].filter(([p, o]) => p.startsWith("/dac/") && (o.ok ?? 0) > 0).map(([p]) => p.slice(5)).sort();
}

describe("a full sync over HTTPS into a local lake", () => {
  it("lands every fixture file byte for byte, with a manifest that matches the raw zone", async () => {
    const first: SyncStats = await runSync(config({ SYNC_FILES: "prof,Sprof" }), store, log);
    expect(first).toMatchObject({
      total_floats: 15,
      files_downloaded: fixtureFiles.length,
      files_skipped: 0,
      errors: 0,
      files_removed: 0,
      // prof of 6901929, 4902252, 6903247 and Sprof of 6903247 are not in the mirror
      files_absent: 4,
      aborted: false,
      error_details: [],
    });
    expect(first.bytes_downloaded).toBe(fixtureFiles.reduce((n, r) => n + r.size, 0));
    expect(Date.parse(first.end_time)).toBeGreaterThanOrEqual(Date.parse(first.start_time));
    for (const row of fixtureFiles) {
      const bytes = await store.get(rawKeyOf(row.path));
      expect(bytes, row.path).not.toBeNull();
      expect(sha256(bytes!), row.path).toBe(row.sha256);
    }
    const report = await checkRawZone(store, { hashes: true });
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ floats: 15, files: fixtureFiles.length });
    // Manifest entries record the index date_update (= the file's DATE_UPDATE), the validators and the source path.
    const m = (await readFloatManifest(store, "aoml", "13857"))!;
    const e = m.files["aoml/13857/profiles/R13857_001.nc"];
    expect(e).toMatchObject({ key: "raw/dac=aoml/wmo=13857/profiles/R13857_001.nc", date_update: "20181011180520", status: "present", size: 18212 });
    expect(e.etag).toMatch(/^".+"$/);
    expect(e.last_modified).not.toBeNull();
    expect(m.files["aoml/13857/13857_prof.nc"].date_update).toBeNull();
    // The index files are cached in the lake with their validators.
    expect(await store.stat(indexKey("ar_index_global_prof.txt"))).not.toBeNull();
    const sidecar = JSON.parse(new TextDecoder().decode((await store.get(indexMetaKey("ar_index_global_prof.txt")))!));
    expect(sidecar).toMatchObject({ name: "ar_index_global_prof.txt", source: bed.srv.url });
    expect(sidecar.etag).toMatch(/^".+"$/);
    // Nothing hidden (temporary) is left in the lake.
    const { readdirSync } = await import("node:fs");
    const all = readdirSync(bed.lake.path, { recursive: true }) as string[];
    expect(all.filter((p) => /(^|\/)\.[^/]*\.tmp$/.test(p))).toEqual([]);
  });

  it("asks for the .gz index files first and falls back to .txt on 404", async () => {
    await runSync(config({ FLOAT_IDS: "3902131" }), store, log);
    expect(bed.srv.countFor("/ar_index_global_prof.txt.gz", "not_found")).toBe(1);
    expect(bed.srv.countFor("/ar_index_global_prof.txt", "ok")).toBe(1);
    const { INDEX_FILES } = await import("./support/https-server.ts");
    for (const name of INDEX_FILES) await writeFile(join(bed.mirror.path, name + ".gz"), gzipSync(await readFile(join(bed.mirror.path, name))));
    try {
      bed.srv.resetCounts();
      const stats = await runSync(config({ FLOAT_IDS: "3902131", ENABLE_INCREMENTAL_SYNC: "false" }), store, log);
      expect(stats).toMatchObject({ total_floats: 1, files_downloaded: 10, errors: 0 });
      for (const name of INDEX_FILES) {
        expect(bed.srv.countFor(`/${name}.gz`, "ok"), name).toBe(1);
        expect(bed.srv.countFor(`/${name}`), name).toBe(0);
      }
      expect(await store.stat(indexKey("ar_index_global_prof.txt.gz"))).not.toBeNull();
    } finally {
      for (const name of INDEX_FILES) await rm(join(bed.mirror.path, name + ".gz"), { force: true });
    }
  });

  it("the source reports size, ETag and Last-Modified of a file (HEAD), null for a missing one", async () => {
    const source = openGdacSource(config());
    try {
      const st = await source.stat("aoml/13857/13857_meta.nc");
      expect(st).toMatchObject({ size: 25352, etag: expect.stringMatching(/^".+"$/) });
      expect(Date.parse(st!.lastModified!)).not.toBeNaN();
      expect(await source.stat("aoml/13857/profiles/R13857_999.nc")).toBeNull();
      await expect(source.stat("aoml/13857/../../x.nc")).rejects.toThrow(/refused GDAC path/);
    } finally {
      await source.close();
    }
  });

  it("a second run fetches no data file; index files and prof/Sprof are asked conditionally", async () => {
    await runSync(config({ SYNC_FILES: "prof,Sprof" }), store, log);
    bed.srv.resetCounts();
    const second = await runSync(config({ SYNC_FILES: "prof,Sprof" }), store, log);
    expect(second).toMatchObject({ files_downloaded: 0, files_skipped: fixtureFiles.length, errors: 0, bytes_downloaded: 0 });
    expect(dataFilesServed()).toEqual([]);
    expect(bed.srv.countFor("/ar_index_global_prof.txt", "not_modified")).toBe(1);
    expect(bed.srv.countFor("/dac/aoml/13857/13857_prof.nc", "not_modified")).toBe(1);
    expect((await checkRawZone(store)).problems).toEqual([]);
  });

  it("a newer date_update in the index re-fetches exactly that file", async () => {
    await runSync(config(), store, log);
    await editIndex(bed.mirror.path, "ar_index_global_prof.txt", (t) =>
      t.replace("aoml/13857/profiles/R13857_002.nc,19970809192112,0.072,-17.659,A,845,AO,20181011180521", "aoml/13857/profiles/R13857_002.nc,19970809192112,0.072,-17.659,A,845,AO,20240101000000"));
    bed.srv.resetCounts();
    const stats = await runSync(config(), store, log);
    expect(stats).toMatchObject({ files_downloaded: 1, errors: 0, files_skipped: 201 });
    expect(dataFilesServed()).toEqual(["aoml/13857/profiles/R13857_002.nc"]);
    const m = (await readFloatManifest(store, "aoml", "13857"))!;
    expect(m.files["aoml/13857/profiles/R13857_002.nc"].date_update).toBe("20240101000000");
    expect(m.files["aoml/13857/profiles/R13857_001.nc"].date_update).toBe("20181011180520");
  });

  it("a row gone from the index moves its file to removed/ and marks it removed; it comes back when the row does", async () => {
    await runSync(config(), store, log);
    const key = "raw/dac=aoml/wmo=5900446/profiles/D5900446_001.nc";
    const bytes = await store.get(key);
    await editIndex(bed.mirror.path, "ar_index_global_prof.txt", (t) => t.replace(/^aoml\/5900446\/profiles\/D5900446_001\.nc,.*\n/m, ""));
    const stats = await runSync(config(), store, log);
    expect(stats).toMatchObject({ files_removed: 1, files_downloaded: 0, errors: 0 });
    expect(await store.stat(key)).toBeNull();
    const moved = (await store.list("removed/")).map((o) => o.key);
    expect(moved).toEqual([expect.stringMatching(/^removed\/\d{8}T\d{6}Z\/raw\/dac=aoml\/wmo=5900446\/profiles\/D5900446_001\.nc$/)]);
    expect(sha256((await store.get(moved[0]))!)).toBe(sha256(bytes!));
    const e = (await readFloatManifest(store, "aoml", "5900446"))!.files["aoml/5900446/profiles/D5900446_001.nc"];
    expect(e).toMatchObject({ status: "removed", key: moved[0] });
    expect(e.removed_at).not.toBeNull();
    expect((await checkRawZone(store)).problems).toEqual([]);
    // A second run does not remove it again.
    expect((await runSync(config(), store, log)).files_removed).toBe(0);
    // The row is back: the file is fetched again and present.
    const { fixturesDir } = await import("./support/fixtures.ts");
    await writeFile(join(bed.mirror.path, "ar_index_global_prof.txt"), await readFile(join(fixturesDir, "ar_index_global_prof.txt")));
    const back = await runSync(config(), store, log);
    expect(back).toMatchObject({ files_downloaded: 1, files_removed: 0 });
    expect((await readFloatManifest(store, "aoml", "5900446"))!.files["aoml/5900446/profiles/D5900446_001.nc"].status).toBe("present");
  });

  it("ENABLE_INCREMENTAL_SYNC=false fetches everything again, index files included", async () => {
    await runSync(config({ FLOAT_IDS: "13857" }), store, log);
    bed.srv.resetCounts();
    const stats = await runSync(config({ FLOAT_IDS: "13857", ENABLE_INCREMENTAL_SYNC: "false" }), store, log);
    expect(stats).toMatchObject({ total_floats: 1, files_downloaded: 5, files_skipped: 0 });
    expect(bed.srv.countFor("/ar_index_global_prof.txt", "ok")).toBe(1);
    expect(bed.srv.countFor("/ar_index_global_prof.txt", "not_modified")).toBe(0);
  });

  it("a raw file deleted from the lake is fetched again even though the manifest has it", async () => {
    await runSync(config({ FLOAT_IDS: "13857" }), store, log);
    await store.delete("raw/dac=aoml/wmo=13857/profiles/R13857_003.nc");
    bed.srv.resetCounts();
    const stats = await runSync(config({ FLOAT_IDS: "13857" }), store, log);
    expect(stats.files_downloaded).toBe(1);
    expect(dataFilesServed()).toEqual(["aoml/13857/profiles/R13857_003.nc"]);
  });
});

describe("selection and bad input", () => {
  it("syncs the floats asked for (ids, DACs, float-level time window) and names an unknown WMO as an error", async () => {
    const stats = await runSync(config(), store, log, { floatIds: ["13857", "1234567"] });
    expect(stats.total_floats).toBe(1);
    expect(stats.files_downloaded).toBe(5);
    expect(stats.errors).toBe(1);
    expect(stats.error_details).toEqual([{ float_id: "1234567", file: null, stage: "plan", message: expect.stringContaining("1234567 is not in the GDAC index") }]);
    // meds/4901079's last listed profile is of 2012-06-08, kordi/2901780's of 2017: a window from 2013 keeps kordi only.
    const later = await runSync(config({ ARGO_DAC: "kordi,meds", SYNC_DATE_FROM: "2013-01-01" }), store, log);
    expect(later).toMatchObject({ total_floats: 1, errors: 0, files_downloaded: 3 });
    // From 2012 both floats are in, each with all its files (meds: 2007 profiles too).
    const both = await runSync(config({ ARGO_DAC: "kordi,meds", SYNC_DATE_FROM: "2012-01-01" }), store, log);
    expect(both).toMatchObject({ total_floats: 2, errors: 0, files_downloaded: 4, files_skipped: 3 });
  });

  it("refuses an invalid WMO passed by a caller before any request", async () => {
    await expect(runSync(config(), store, log, { floatIds: ["12ab"] })).rejects.toThrow(/invalid WMO float id "12ab"/);
    await expect(runSync(config(), store, log, { floatIds: ["../x"] })).rejects.toMatchObject({ exitCode: 2 });
    expect(bed.srv.counts.total).toBe(0);
  });

  it("a 404 on a listed file is a named error, the manifest has no entry for it, and the others land", async () => {
    bed.srv.setFaults({ rules: [{ path: "/dac/aoml/13857/profiles/R13857_003.nc", fault: { kind: "status", status: 404 } }] });
    const stats = await runSync(config({ FLOAT_IDS: "13857,5900446" }), store, log);
    expect(stats).toMatchObject({ files_downloaded: 7, errors: 1 });
    expect(stats.error_details).toEqual([{
      float_id: "13857",
      file: "aoml/13857/profiles/R13857_003.nc",
      stage: "fetch",
      message: expect.stringContaining("HTTP 404: listed in the index but not on the GDAC"),
    }]);
    expect(bed.srv.countFor("/dac/aoml/13857/profiles/R13857_003.nc")).toBe(1); // no retry
    const m = (await readFloatManifest(store, "aoml", "13857"))!;
    expect(m.files["aoml/13857/profiles/R13857_003.nc"]).toBeUndefined();
    expect(Object.keys(m.files).length).toBe(4);
  });

  it("a 403 is not retried either, and is named", async () => {
    bed.srv.setFaults({ rules: [{ path: "/dac/aoml/13857/13857_meta.nc", fault: { kind: "status", status: 403 } }] });
    const stats = await runSync(config({ FLOAT_IDS: "13857", HTTP_MAX_RETRIES: "3" }), store, log);
    expect(stats.errors).toBe(1);
    expect(stats.error_details[0]).toMatchObject({ file: "aoml/13857/13857_meta.nc", message: expect.stringContaining("HTTP 403") });
    expect(bed.srv.countFor("/dac/aoml/13857/13857_meta.nc")).toBe(1);
    expect(stats.retries).toBe(0);
  });
});

describe("failures of the lake and interruptions", () => {
  it("a lake that cannot be written stops the run with a clear LakeError and no manifest entry for the file", async () => {
    // A file where the float's folder must go: every write under it fails.
    await mkdir(join(bed.lake.path, "raw", "dac=aoml"), { recursive: true });
    await writeFile(join(bed.lake.path, "raw", "dac=aoml", "wmo=13857"), "in the way");
    const err = await runSync(config({ FLOAT_IDS: "13857" }), store, log).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(LakeError);
    expect(String(err.message)).toMatch(/cannot write raw\/dac=aoml\/wmo=13857\/.+ to the lake/);
    expect(await store.stat(manifestKey("aoml", "13857"))).toBeNull();
  });

  it("an abort stops starting files, keeps what landed recorded, and says aborted", async () => {
    bed.srv.setFaults({ latencyMs: 40 });
    const ac = new AbortController();
    let landed = 0;
    const stats = await runSync(config({ HTTP_CONCURRENCY: "2" }), store, log, {
      signal: ac.signal,
      onProgress: (p) => {
        landed = p.files_downloaded;
        if (p.files_downloaded >= 10) ac.abort();
      },
    });
    expect(stats.aborted).toBe(true);
    expect(landed).toBeGreaterThanOrEqual(10);
    expect(stats.files_downloaded).toBeLessThan(60);
    expect(stats.errors).toBe(0);
    const report = await checkRawZone(store, { hashes: true });
    expect(report.problems).toEqual([]);
    expect(report.files).toBe(stats.files_downloaded);
    // A re-run completes the work.
    bed.srv.setFaults({ latencyMs: 0 });
    const rest = await runSync(config(), store, log);
    expect(rest.files_downloaded + stats.files_downloaded).toBe(202);
    expect((await checkRawZone(store)).files).toBe(202);
  });
});
