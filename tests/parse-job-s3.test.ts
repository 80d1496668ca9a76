/**
 * The parse job with LAKE_URL=s3://...: raw files read from and Parquet written
 * to S3 (s3rver on loopback) through the SDK, then queried through the local
 * Parquet cache, in-process and with the query job.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../lib/config.ts";
import { openLake } from "../lib/lake/open.ts";
import { openLakeSession } from "../lib/lake/query.ts";
import type { LakeStore } from "../lib/lake/store.ts";
import { createLogger } from "../lib/log.ts";
import { listQuarantine } from "../lib/parse/quarantine.ts";
import { runParse } from "../lib/parse/run.ts";
import { startS3, type TestS3 } from "./support/s3.ts";
import { repoRoot, tempDir, type TempDir } from "./support/fixtures.ts";
import { countKeptLevels, fixtureFiles, isCoreProfile, landFixtures } from "./parse-job-support.ts";

const floats = ["6901929", "3902131", "2902696"];
const log = createLogger({ level: "error" });

describe("parse job on an S3 lake", () => {
  let s3: TestS3;
  let cache: TempDir;
  let config: Config;
  let store: LakeStore;

  beforeAll(async () => {
    s3 = await startS3();
    cache = await tempDir("s3-cache");
    config = loadConfig({ env: { ...s3.env, LAKE_URL: s3.url("lake"), MAX_WORKERS: "2", LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
    store = openLake(config);
    await landFixtures(store, floats);
  });
  afterAll(async () => {
    await store?.close();
    await s3?.stop();
    await cache?.cleanup();
  });

  it("reads raw files from S3, writes Parquet to S3, and skips unchanged floats next time", async () => {
    const stats = await runParse(config, store, log);
    expect(stats).toMatchObject({ floats_parsed: 3, errors: 0, quarantined: 0 });
    const expected = fixtureFiles(floats).filter(isCoreProfile).reduce((n, f) => n + countKeptLevels(f.file), 0);
    expect(stats.measurement_rows).toBe(expected);
    const keys = (await store.list("parquet/")).map((o) => o.key);
    expect(keys).toContain("parquet/floats/dac=coriolis/3902131.parquet");
    expect(keys).toContain("parquet/_state/dac=bodc/wmo=6901929.json");
    expect(keys.filter((k) => k.startsWith("parquet/measurements/")).every((k) => /\/dac=[a-z]+\/year=\d{4}\/\d+\.parquet$/.test(k))).toBe(true);

    const again = await runParse(config, store, log);
    expect(again).toMatchObject({ floats_parsed: 0, floats_skipped: 3 });

    const lake = await openLakeSession(config, store, { cacheDir: cache.path });
    try {
      expect(lake.cache?.downloaded).toBe(keys.filter((k) => k.endsWith(".parquet") && !k.startsWith("parquet/_state/")).length);
      const [row] = await lake.session.all("SELECT count(*) AS n, count(doxy) AS doxy FROM measurements_bgc");
      expect(Number(row!.n)).toBe(expected);
      expect(Number(row!.doxy)).toBeGreaterThan(0);
    } finally {
      lake.close();
    }
  });

  it("quarantines a corrupt file in S3 and lands the float's other files", async () => {
    const f = fixtureFiles(["2902696"]).find((x) => x.rest === "profiles/D2902696_002.nc")!;
    await store.put(f.key, new TextEncoder().encode("CDF\x01 but not really a NetCDF file"));
    const stats = await runParse(config, store, log);
    expect(stats).toMatchObject({ floats_parsed: 1, quarantined: 1, errors: 0 });
    const q = await listQuarantine(store);
    expect(q.map((r) => r.file)).toEqual([f.key]);
    const lake = await openLakeSession(config, store, { cacheDir: cache.path });
    try {
      // The cache follows the lake: the float's rewritten file is fetched again, nothing else.
      expect(lake.cache?.downloaded).toBe(3);
      const rows = await lake.session.all("SELECT DISTINCT source_file FROM measurements WHERE float_id = '2902696'");
      expect(rows).toEqual([{ source_file: "D2902696_001.nc" }]);
    } finally {
      lake.close();
    }
  });

  it("answers the query job through the local cache", async () => {
    const { stdout } = await promisify(execFile)(
      join(repoRoot, "node_modules/.bin/tsx"),
      ["jobs/query.ts", "--cache-dir", join(cache.path, "job"), "--format", "json", "SELECT float_id, count(*) AS n FROM profiles GROUP BY ALL ORDER BY 1"],
      { cwd: repoRoot, env: { ...process.env, ...s3.env, LAKE_URL: s3.url("lake"), LOG_LEVEL: "warn" } },
    );
    const rows = JSON.parse(stdout) as Array<{ float_id: string; n: number }>;
    expect(rows.map((r) => r.float_id)).toEqual(["2902696", "3902131", "6901929"]);
    expect(rows.every((r) => r.n > 0)).toBe(true);
  }, 60_000);
});
