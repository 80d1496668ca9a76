/**
 * jobs/sync.ts as a process: bad sources and ids are refused with exit code 2
 * before any request; a sync killed with SIGKILL halfway and run again ends
 * with a complete, intact raw zone and a manifest that matches it; exit code
 * 1 when a file failed; --json prints the stats; it runs under Deno too.
 */
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SyncStatsSchema } from "../lib/gdac/sync.ts";
import { checkRawZone } from "../lib/gdac/verify.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { readManifest, tempDir } from "./support/fixtures.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { runJobProcess, spawnJobProcess } from "./support/jobs.ts";

const indexed = readManifest().filter((r) => r.path.startsWith("dac/") && !/_S?prof\.nc$/.test(r.path));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const rawKeyOf = (path: string) => path.replace(/^dac\/([^/]+)\/([^/]+)\//, "raw/dac=$1/wmo=$2/");

let srv: TestHttpsServer;

beforeAll(async () => {
  srv = await startHttpsServer();
});

afterAll(async () => {
  await srv?.stop();
});

/** Visible (not hidden temporary) .nc files under the lake's raw zone. */
function landedFiles(lake: string): number {
  try {
    return (readdirSync(join(lake, "raw"), { recursive: true }) as string[]).filter((p) => p.endsWith(".nc") && !p.split("/").pop()!.startsWith(".")).length;
  } catch {
    return 0;
  }
}

describe("refused before any request (exit code 2)", () => {
  it("refuses http:// and ftp:// sources, bad WMO ids (flag or argument) and unknown DACs", async () => {
    const lake = await tempDir("sync-job-refused");
    try {
      const env = { LAKE_URL: lake.path, GDAC_CA_FILE: srv.caFile };
      const cases: { args: string[]; env?: Record<string, string>; says: RegExp }[] = [
        { args: ["--gdac", `http://127.0.0.1:${srv.port}`], says: /GDAC_BASE_URL=.*http:\/\/ and ftp:\/\/ are refused/ },
        { args: [], env: { GDAC_BASE_URL: "ftp://ftp.ifremer.fr/ifremer/argo" }, says: /GDAC_BASE_URL=.*HTTPS only/ },
        { args: ["--gdac", srv.url, "--float", "12ab"], says: /FLOAT_IDS="12ab": expected WMO float ids/ },
        { args: ["--gdac", srv.url, "13857", "../x"], says: /"\.\.\/x" is not a WMO float number/ },
        { args: ["--gdac", srv.url, "12345678"], says: /"12345678" is not a WMO float number/ },
        { args: ["--gdac", srv.url, "--dac", "evil"], says: /ARGO_DAC="evil": expected DAC names/ },
      ];
      srv.resetCounts();
      const results = await Promise.all(cases.map((c) => runJobProcess("sync", c.args, { env: { ...env, ...c.env } })));
      results.forEach((r, i) => {
        expect(r.code, `${cases[i].args.join(" ")}\n${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(cases[i].says);
      });
      expect(srv.counts.total).toBe(0);
      expect(landedFiles(lake.path)).toBe(0);
    } finally {
      await lake.cleanup();
    }
  });
});

describe("killed and run again", () => {
  it("a sync killed with SIGKILL halfway, then re-run, ends with a complete, intact raw zone and a matching manifest", async () => {
    const lake = await tempDir("sync-job-kill");
    try {
      const env = { GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: lake.path, HTTP_CONCURRENCY: "2", LOG_LEVEL: "warn" };
      srv.setFaults({ latencyMs: 50 });
      const job = spawnJobProcess("sync", ["--json"], { env, timeoutMs: 120_000 });
      let atKill = 0;
      while (job.child.exitCode === null) {
        atKill = landedFiles(lake.path);
        if (atKill >= indexed.length / 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      job.kill("SIGKILL");
      const killed = await job.done;
      expect(killed.signal).toBe("SIGKILL");
      expect(atKill).toBeGreaterThanOrEqual(indexed.length / 2);
      expect(atKill).toBeLessThan(indexed.length);
      const store = new LocalLakeStore(lake.path);
      // Whatever the kill left, the manifests never claim a file that is not there.
      const half = await checkRawZone(store, { hashes: true });
      expect(half.problems.filter((p) => /not in the lake|differs|bytes in the lake/.test(p))).toEqual([]);
      expect(half.files).toBeLessThan(indexed.length);

      srv.setFaults({ latencyMs: 0 });
      const rerun = await runJobProcess("sync", ["--json"], { env });
      expect(rerun.code, rerun.stderr).toBe(0);
      const stats = SyncStatsSchema.parse(JSON.parse(rerun.stdout));
      expect(stats.errors).toBe(0);
      expect(stats.files_downloaded + stats.files_skipped).toBe(indexed.length);
      expect(stats.files_skipped).toBeGreaterThanOrEqual(half.files);
      for (const row of indexed) {
        const bytes = await store.get(rawKeyOf(row.path));
        expect(bytes, row.path).not.toBeNull();
        expect(sha256(bytes!), row.path).toBe(row.sha256);
      }
      const after = await checkRawZone(store, { hashes: true });
      expect(after.problems).toEqual([]);
      expect(after.files).toBe(indexed.length);
      // Readers see the landed files and nothing else (temporary files are hidden).
      const visible = (await store.list("raw/dac=")).map((o) => o.key).sort();
      expect(visible).toEqual(indexed.map((r) => rawKeyOf(r.path)).sort());
    } finally {
      srv.setFaults({ latencyMs: 0 });
      await lake.cleanup();
    }
  });
});

describe("exit codes and output", () => {
  it("exits 1 and names the file when one failed, with the stats as JSON on stdout", async () => {
    const lake = await tempDir("sync-job-404");
    try {
      srv.setFaults({ rules: [{ path: "/dac/aoml/13857/profiles/R13857_090.nc", fault: { kind: "status", status: 404 } }] });
      const r = await runJobProcess("sync", ["13857", "--json"], { env: { GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: lake.path } });
      expect(r.code, r.stderr).toBe(1);
      const stats = SyncStatsSchema.parse(JSON.parse(r.stdout));
      expect(stats).toMatchObject({ total_floats: 1, files_downloaded: 4, errors: 1 });
      expect(stats.error_details[0]).toMatchObject({ float_id: "13857", file: "aoml/13857/profiles/R13857_090.nc", stage: "fetch" });
    } finally {
      srv.setFaults({ rules: [] });
      await lake.cleanup();
    }
  });

  it("runs under Deno as well (deno run -A jobs/sync.ts)", async () => {
    const lake = await tempDir("sync-job-deno");
    try {
      const r = await runJobProcess("sync", ["--float", "3902131", "--sync-files", "prof,Sprof", "--json"], {
        runtime: "deno",
        env: { GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: lake.path },
      });
      expect(r.code, r.stderr).toBe(0);
      const stats = SyncStatsSchema.parse(JSON.parse(r.stdout));
      expect(stats).toMatchObject({ total_floats: 1, files_downloaded: 12, errors: 0 });
      expect((await checkRawZone(new LocalLakeStore(lake.path), { hashes: true })).problems).toEqual([]);
    } finally {
      await lake.cleanup();
    }
  });
});
