/**
 * The load with the lake on S3 (s3rver on loopback): run-float syncs and
 * parses into the bucket, and the load reads the bucket's Parquet files
 * through the local cache, with the same result as a local lake.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { stagesOf } from "./support/runs.ts";
import { runJobProcess } from "./support/jobs.ts";
import { startS3, type TestS3 } from "./support/s3.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { dumpPostgres } from "./load-dump.ts";

const WMO = "5900865";
let s3: TestS3;
let onS3: TestDatabase;
let onDisk: TestDatabase;
let lake: TempDir;

beforeAll(async () => {
  [s3, onS3, onDisk, lake] = await Promise.all([startS3(), createTestDatabase("s3lake"), createTestDatabase("disklake"), tempDir("disklake")]);
});

afterAll(async () => {
  await s3?.stop();
  await onS3?.drop();
  await onDisk?.drop();
  await lake?.cleanup();
});

describe("load from a lake on S3", () => {
  test("run-float into an S3 lake loads what a local lake loads; a second run changes nothing", async () => {
    // TMPDIR keeps the job's lake cache (under the OS temp dir) out of other runs' way.
    const cacheHome = await tempDir("s3cache");
    try {
      const env = { ...s3.env, LAKE_URL: s3.url("lake"), DATABASE_URL: onS3.url, GDAC_BASE_URL: fixturesDir, TMPDIR: cacheHome.path };
      const first = await runJobProcess("run-float", [WMO, "--json"], { env, timeoutMs: 120_000 });
      expect(first.code, first.stderr).toBe(0);
      expect(stagesOf(JSON.parse(first.stdout)).load).toMatchObject({ profiles_inserted: 80, floats_loaded: 1 });
      const local = await runJobProcess("run-float", [WMO, "--json"], {
        env: { LAKE_URL: lake.path, DATABASE_URL: onDisk.url, GDAC_BASE_URL: fixturesDir },
      });
      expect(local.code, local.stderr).toBe(0);
      const strip = (d: Record<string, string[]>) => Object.fromEntries(Object.entries(d).filter(([k]) => !k.endsWith("#ctid") && k !== "schema_migrations"));
      const fromS3 = strip(await dumpPostgres(onS3.pool));
      expect(fromS3.profiles.length).toBe(80);
      expect(fromS3).toEqual(strip(await dumpPostgres(onDisk.pool)));

      const again = await runJobProcess("run-float", [WMO, "--json"], { env, timeoutMs: 120_000 });
      expect(again.code, again.stderr).toBe(0);
      expect(stagesOf(JSON.parse(again.stdout)).load).toMatchObject({ profiles_unchanged: 80, profiles_inserted: 0, climatology_cells_changed: 0 });
      expect(strip(await dumpPostgres(onS3.pool))).toEqual(fromS3);
    } finally {
      await cacheHome.cleanup();
    }
  });
});
