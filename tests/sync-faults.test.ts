/**
 * The sync against a misbehaving GDAC: with ~20% of requests failing (503,
 * 429, resets, truncated bodies) every file still lands intact and retries
 * are counted; a file that always fails is named while the rest lands;
 * Retry-After is honoured; a server that never answers is bounded by
 * timeout x retries; a body that is not NetCDF never lands. And hostile input
 * (issue 8): bad index rows, redirects to http:// or another host, bodies
 * over HTTP_MAX_BYTES are refused and nothing is written outside the lake.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../lib/config.ts";
import { runSync } from "../lib/gdac/sync.ts";
import { checkRawZone } from "../lib/gdac/verify.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { parseJournalKey } from "../lib/lake/layout.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { fixturesDir, readManifest, tempDir, type TempDir } from "./support/fixtures.ts";
import { INDEX_FILES, startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";

const fixtureFiles = readManifest().filter((r) => r.path.startsWith("dac/"));
const indexed = fixtureFiles.filter((r) => !/_S?prof\.nc$/.test(r.path));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const rawKeyOf = (path: string) => path.replace(/^dac\/([^/]+)\/([^/]+)\//, "raw/dac=$1/wmo=$2/");

let srv: TestHttpsServer;
let work: TempDir;
let lake: LocalLakeStore;
let lakePath: string;
let logLines: string[];
let log: Logger;
let n = 0;

beforeAll(async () => {
  srv = await startHttpsServer();
});

afterAll(async () => {
  await srv?.stop();
});

beforeEach(async () => {
  // Each test: a work directory holding only the lake, so "nothing outside the lake" can be checked.
  work = await tempDir(`sync-faults-${n++}`);
  lakePath = join(work.path, "lake");
  lake = new LocalLakeStore(lakePath);
  logLines = [];
  log = createLogger({ level: "info", write: (l) => logLines.push(l) });
  srv.setFaults({ rules: [], failureRate: 0, latencyMs: 0, retryAfter: "1", chunked: false });
  srv.resetCounts();
  return () => work.cleanup();
});

function config(env: Record<string, string> = {}, server: TestHttpsServer = srv): Config {
  return loadConfig({
    env: { GDAC_BASE_URL: server.url, GDAC_CA_FILE: server.caFile, LAKE_URL: lakePath, HTTP_TIMEOUT: "5", HTTP_RETRY_DELAY: "0.01", ...env },
    envFile: "/nonexistent/.env",
  });
}

async function expectAllLanded(rows = indexed): Promise<void> {
  for (const row of rows) {
    const bytes = await lake.get(rawKeyOf(row.path));
    expect(bytes, row.path).not.toBeNull();
    expect(sha256(bytes!), row.path).toBe(row.sha256);
  }
  expect((await checkRawZone(lake, { hashes: true })).problems).toEqual([]);
}

describe("faults injected by the server", () => {
  it("with ~20% of requests failing (503, 429, resets, truncated bodies) every file lands intact and retries are counted", async () => {
    srv.setFaults({
      failureRate: 0.2,
      seed: 20240501,
      retryAfter: "0",
      randomFaults: [{ kind: "status", status: 503 }, { kind: "429" }, { kind: "reset" }, { kind: "truncate" }],
    });
    const stats = await runSync(config({ HTTP_MAX_RETRIES: "8", SYNC_FILES: "prof,Sprof" }), lake, log);
    const injected = (srv.counts.byOutcome.status ?? 0) + (srv.counts.byOutcome["429"] ?? 0) +
      (srv.counts.byOutcome.reset ?? 0) + (srv.counts.byOutcome.truncate ?? 0);
    expect(injected).toBeGreaterThan(25);
    for (const kind of ["status", "429", "reset", "truncate"] as const) expect(srv.counts.byOutcome[kind] ?? 0, kind).toBeGreaterThan(0);
    expect(stats).toMatchObject({ errors: 0, files_downloaded: fixtureFiles.length, files_absent: 4 });
    // Every injected fault cost a retry, except resets that undici itself replays on a reused connection.
    expect(stats.retries).toBeGreaterThanOrEqual(injected - (srv.counts.byOutcome.reset ?? 0));
    expect(stats.retries).toBeLessThanOrEqual(injected);
    await expectAllLanded(fixtureFiles);
  });

  it("a file that always fails is named in the errors after its retries, and everything else lands", async () => {
    const bad = "/dac/coriolis/3902131/profiles/BR3902131_002.nc";
    srv.setFaults({ rules: [{ path: bad, fault: { kind: "status", status: 503 } }], retryAfter: "0" });
    const stats = await runSync(config({ HTTP_MAX_RETRIES: "2" }), lake, log);
    expect(stats.errors).toBe(1);
    expect(stats.error_details).toEqual([{
      float_id: "3902131",
      file: "coriolis/3902131/profiles/BR3902131_002.nc",
      stage: "fetch",
      message: expect.stringContaining("HTTP 503"),
    }]);
    expect(srv.countFor(bad)).toBe(3);
    expect(stats.retries).toBe(2);
    expect(stats.files_downloaded).toBe(indexed.length - 1);
    await expectAllLanded(indexed.filter((r) => "/" + r.path !== bad));
    expect(await lake.stat(rawKeyOf(bad.slice(1)))).toBeNull();
  });

  it("honours Retry-After on 429 (the wait happens), then lands the file", async () => {
    const path = "/dac/aoml/13857/profiles/R13857_001.nc";
    srv.setFaults({ rules: [{ path, fault: { kind: "429", retryAfter: "1" }, times: 1 }] });
    const t = performance.now();
    const stats = await runSync(config({ FLOAT_IDS: "13857", HTTP_RETRY_DELAY: "0" }), lake, log);
    expect(performance.now() - t).toBeGreaterThanOrEqual(1000);
    expect(stats).toMatchObject({ errors: 0, retries: 1, files_downloaded: 5 });
  });

  it("a stalled body is cut by the timeout and retried; a server that never answers is bounded by timeout x retries", async () => {
    const stalled = "/dac/aoml/13857/profiles/R13857_002.nc";
    const silent = "/dac/aoml/13857/profiles/R13857_003.nc";
    srv.setFaults({ rules: [{ path: stalled, fault: { kind: "stall" }, times: 1 }, { path: silent, fault: { kind: "hang" } }] });
    const stats = await runSync(config({ FLOAT_IDS: "13857", HTTP_TIMEOUT: "0.3", HTTP_MAX_RETRIES: "2" }), lake, log);
    expect(srv.countFor(stalled)).toBe(2);
    expect(srv.countFor(silent)).toBe(3);
    expect(stats.errors).toBe(1);
    expect(stats.error_details[0]).toMatchObject({ file: silent.slice(5), message: expect.stringMatching(/HEADERS_TIMEOUT/) });
    expect(stats.files_downloaded).toBe(4);
    expect(await lake.stat(rawKeyOf(silent.slice(1)))).toBeNull();
  });

  it("bodies without Content-Length land too", async () => {
    srv.setFaults({ chunked: true });
    const stats = await runSync(config({ FLOAT_IDS: "3902131", SYNC_FILES: "prof,Sprof" }), lake, log);
    expect(stats).toMatchObject({ errors: 0, files_downloaded: 12 });
    await expectAllLanded(fixtureFiles.filter((r) => r.wmo === "3902131"));
  });
});

describe("hostile input (issue 8)", () => {
  let hostile: TempDir;
  let evil: TestHttpsServer;

  beforeAll(async () => {
    // A mirror whose profile index has hostile rows among real ones, and a data file that is not NetCDF.
    hostile = await tempDir("hostile-mirror");
    for (const name of INDEX_FILES) await writeFile(join(hostile.path, name), await readFile(join(fixturesDir, name)));
    await mkdir(join(hostile.path, "dac", "aoml"), { recursive: true });
    await symlink(join(fixturesDir, "dac", "aoml", "13857"), join(hostile.path, "dac", "aoml", "13857"));
    await mkdir(join(hostile.path, "dac", "aoml", "5900446", "profiles"), { recursive: true });
    await writeFile(join(hostile.path, "dac", "aoml", "5900446", "profiles", "D5900446_000.nc"), "<html><body>Service unavailable</body></html>\n");
    for (const f of ["5900446_meta.nc", "profiles/D5900446_001.nc"]) {
      await symlink(join(fixturesDir, "dac", "aoml", "5900446", f), join(hostile.path, "dac", "aoml", "5900446", f));
    }
    const rows = [
      "../../x.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "../../../../tmp/evil.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "/etc/passwd,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "aoml/13857/profiles/%2e%2e/%2e%2e/%2e%2e/x.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "%2e%2e/%2e%2e/x.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "evil/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "aoml/12ab5/profiles/R12ab5_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "aoml/123456789/profiles/R123456789_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "aoml/13857/profiles/../../../x.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      "aoml/13857/profiles/R13857_001.nc.sh,19970729200300,0.267,-16.032,A,845,AO,20181011180520",
      `aoml/13857/profiles/R13857_004.nc,19970729200300,0.267,-16.032,A,845,${"A".repeat(100_000)},20181011180520`,
      "aoml/13857/profiles/R13857_005.nc,19970729200300,0.267,-16.032,A,845,AO,-20181011180520",
      "aoml/13857/profiles/R13857_006.nc,19970729200300,99999999999999999999,-16.032,A,845,AO,20181011180520",
    ];
    const core = join(hostile.path, "ar_index_global_prof.txt");
    await writeFile(core, (await readFile(core, "utf8")) + rows.join("\n") + "\n");
    evil = await startHttpsServer({ root: hostile.path });
  });

  afterAll(async () => {
    await evil?.stop();
    await hostile?.cleanup();
  });

  it("refuses hostile index rows with logged reasons, fetches none of them, and writes nothing outside the lake", async () => {
    const stats = await runSync(config({ FLOAT_IDS: "13857" }, evil), lake, log);
    expect(stats.index_rows_refused).toBe(13);
    expect(stats).toMatchObject({ errors: 0, files_downloaded: 5 });
    const requested = [...evil.counts.byPath.keys()];
    expect(requested.filter((p) => !/^\/(ar_index_global_prof|argo_bio-profile_index|argo_synthetic-profile_index|ar_index_global_meta)\.txt(\.gz)?$|^\/dac\/aoml\/13857\//.test(p))).toEqual([]);
    expect(await readdir(work.path)).toEqual(["lake"]);
    const keys = (await lake.list("")).map((o) => o.key);
    expect(keys.every((k) => /^raw\/(dac=aoml\/wmo=13857\/|_manifest\/dac=aoml\/wmo=13857\.json$|_index\/|_changes\/)/.test(k)), keys.join("\n")).toBe(true);
    // The change journal names the one float synced.
    const journal = keys.filter((k) => parseJournalKey(k) !== null);
    expect(journal.length).toBe(1);
    expect(JSON.parse(new TextDecoder().decode((await lake.get(journal[0]!))!)).changes).toEqual([{ dac: "aoml", wmo: "13857", change: "changed" }]);
    const reasons = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === "index row refused").map((l) => l.reason as string);
    expect(reasons.length).toBe(13);
    for (const want of [/traversal/, /absolute/, /percent-encoded/, /unknown DAC/, /malformed WMO/, /file name does not match/, /longer than/, /date_update/, /latitude/]) {
      expect(reasons.some((r) => want.test(r)), String(want)).toBe(true);
    }
  });

  it("a body that is not NetCDF is a failed attempt, retried, then an error: it never lands", async () => {
    const stats = await runSync(config({ FLOAT_IDS: "5900446", HTTP_MAX_RETRIES: "1" }, evil), lake, log);
    expect(stats.errors).toBe(1);
    expect(stats.error_details[0]).toMatchObject({ file: "aoml/5900446/profiles/D5900446_000.nc", message: expect.stringContaining("not a NetCDF/HDF5 file") });
    expect(evil.countFor("/dac/aoml/5900446/profiles/D5900446_000.nc")).toBe(2);
    expect(await lake.stat("raw/dac=aoml/wmo=5900446/profiles/D5900446_000.nc")).toBeNull();
  });

  it("refuses redirects to http:// and to another host; follows a same-host https redirect; stops a redirect loop", async () => {
    const base = `/dac/aoml/13857`;
    srv.setFaults({
      rules: [
        { path: `${base}/profiles/R13857_001.nc`, fault: { kind: "redirect", location: `http://127.0.0.1:${srv.port}${base}/profiles/R13857_001.nc` } },
        { path: `${base}/profiles/R13857_002.nc`, fault: { kind: "redirect", location: `https://localhost:${srv.port}${base}/profiles/R13857_002.nc` } },
        { path: `${base}/profiles/R13857_003.nc`, fault: { kind: "redirect", location: `${base}/profiles/R13857_003.nc?moved=1`, status: 301 }, times: 1 },
        { path: `${base}/profiles/R13857_090.nc`, fault: { kind: "redirect", location: `${base}/profiles/R13857_090.nc?again=1` } },
      ],
    });
    const stats = await runSync(config({ FLOAT_IDS: "13857" }), lake, log);
    const byFile = Object.fromEntries(stats.error_details.map((e) => [e.file, e.message]));
    expect(byFile["aoml/13857/profiles/R13857_001.nc"]).toMatch(/refused redirect .* to http:\/\/.*only https:\/\/ is allowed/);
    expect(byFile["aoml/13857/profiles/R13857_002.nc"]).toMatch(/refused redirect .* to another host \(localhost:\d+\)/);
    expect(byFile["aoml/13857/profiles/R13857_090.nc"]).toMatch(/too many redirects/);
    expect(stats.errors).toBe(3);
    expect(srv.countFor(`${base}/profiles/R13857_001.nc`)).toBe(1); // not retried, not followed
    expect(stats.files_downloaded).toBe(2); // meta and the redirected 003
    const landed = await lake.get("raw/dac=aoml/wmo=13857/profiles/R13857_003.nc");
    expect(sha256(landed!)).toBe(fixtureFiles.find((r) => r.path.endsWith("R13857_003.nc"))!.sha256);
    expect(await readdir(work.path)).toEqual(["lake"]);
  });

  it("a response larger than HTTP_MAX_BYTES is cut off and fails, with or without Content-Length", async () => {
    for (const chunked of [false, true]) {
      srv.setFaults({ chunked });
      srv.resetCounts();
      const stats = await runSync(config({ FLOAT_IDS: "13857", SYNC_FILES: "prof", HTTP_MAX_BYTES: "100000", ENABLE_INCREMENTAL_SYNC: "false" }), lake, log);
      expect(stats.errors).toBe(1);
      expect(stats.error_details[0]).toMatchObject({ file: "aoml/13857/13857_prof.nc", message: expect.stringContaining("larger than HTTP_MAX_BYTES=100000") });
      expect(srv.countFor("/dac/aoml/13857/13857_prof.nc")).toBe(1);
      expect(stats.files_downloaded).toBe(5);
      expect(await lake.stat("raw/dac=aoml/wmo=13857/13857_prof.nc")).toBeNull();
    }
  });
});
