/**
 * A lake for load tests: fixture floats through the real sync and parse
 * (run-float with no load target, as a deployment's cycle leaves the lake),
 * a Redis prefix of the test file's own and fresh Postgres databases, all
 * removed by `cleanup`. Also what load tests ask of it: a full load into
 * fresh targets to compare with, the hot layer without the load's cursor,
 * a float rewritten by parse, and the lake's Parquet made unreadable (a load
 * that opens a file then fails).
 */
import { copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import { type Config, loadConfig } from "../../lib/config.ts";
import { rawFloatPrefix } from "../../lib/lake/layout.ts";
import { LocalLakeStore } from "../../lib/lake/local.ts";
import { runLoad } from "../../lib/load/run.ts";
import { createLogger, type Logger } from "../../lib/log.ts";
import { runFloat } from "../../lib/runner.ts";
import { dumpPostgresRows, dumpRedisPrefix } from "./compare.ts";
import { fixturesDir, type TempDir, tempDir } from "./fixtures.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";
import { type TestRedis, testRedis } from "./redis.ts";

/** What {@link loadBed} sets up. */
export interface LoadBed {
  lake: TempDir;
  store: LocalLakeStore;
  redis: TestRedis;
  /** A logger that writes nothing. */
  quiet: Logger;
  /** The config of this lake (fixture GDAC, one parse worker, the bed's base env) with `env` on top. */
  config(env?: Record<string, string>): Config;
  /** A fresh database, dropped by `cleanup`. */
  newDb(name: string): Promise<TestDatabase>;
  /** A Redis prefix of its own under the bed's. */
  newPrefix(): string;
  /** The lake's floats as they are now, loaded in full into fresh targets: what an incremental load must equal. */
  reference(): Promise<{ pg: Record<string, string[] | null>; redis: Record<string, unknown> }>;
  /** The hot layer under a prefix without the load's cursor (its stamps differ between runs by nature). */
  hotDump(prefix: string): Promise<Record<string, unknown>>;
  /** Removes a float's last profile file from the raw zone (as a GDAC withdrawal would), for parse to rewrite the float. */
  dropLastProfile(wmo: string): Promise<void>;
  /** Runs `work` while every Parquet file of the lake holds garbage: a load that opened one would fail that float. */
  withParquetUnreadable<T>(work: () => Promise<T>): Promise<T>;
  cleanup(): Promise<void>;
}

/**
 * Builds the lake from `floats` (WMO to DAC) under a temporary directory named
 * after `name`, with `baseEnv` in every config it gives.
 */
export async function loadBed(name: string, floats: Record<string, string>, baseEnv: Record<string, string> = {}): Promise<LoadBed> {
  const [lake, redis] = await Promise.all([tempDir(name), testRedis(name)]);
  const store = new LocalLakeStore(lake.path);
  const quiet = createLogger({ level: "error", write: () => {} });
  const dbs: TestDatabase[] = [];
  let prefixes = 0;
  const config = (env: Record<string, string> = {}): Config =>
    loadConfig({ env: { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake.path, MAX_WORKERS: "1", ...baseEnv, ...env }, envFile: "/nonexistent/.env" });
  const newDb = async (dbName: string) => {
    const db = await createTestDatabase(dbName);
    dbs.push(db);
    return db;
  };
  const newPrefix = () => `${redis.prefix}${++prefixes}:`;
  const hotDump = async (prefix: string) => {
    const d = await dumpRedisPrefix(redis.client, prefix);
    return Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith("load:cursor:")));
  };
  const bed: LoadBed = {
    lake,
    store,
    redis,
    quiet,
    config,
    newDb,
    newPrefix,
    hotDump,
    async reference() {
      const db = await newDb(`${name}_ref`);
      const prefix = newPrefix();
      const s = await runLoad(config({ DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: prefix }), store, quiet);
      expect(s.mode).toBe("full");
      return { pg: await dumpPostgresRows(db.pool), redis: await hotDump(prefix) };
    },
    async dropLastProfile(wmo) {
      const files = (await store.list(`${rawFloatPrefix(floats[wmo]!, wmo)}profiles/`)).map((o) => o.key).sort();
      await store.delete(files.at(-1)!);
    },
    async withParquetUnreadable(work) {
      const root = join(lake.path, "parquet");
      const saved = join(lake.path, "..", `${lake.path.split("/").at(-1)}-saved`);
      const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".parquet"));
      expect(files.length).toBeGreaterThan(5);
      for (const f of files) {
        await mkdir(dirname(join(saved, f)), { recursive: true });
        await copyFile(join(root, f), join(saved, f));
        await writeFile(join(root, f), "not a parquet file");
      }
      try {
        return await work();
      } finally {
        for (const f of files) await copyFile(join(saved, f), join(root, f));
        await rm(saved, { recursive: true, force: true });
      }
    },
    async cleanup() {
      await redis.cleanup();
      for (const db of dbs) await db.drop();
      await lake.cleanup();
    },
  };
  try {
    for (const wmo of Object.keys(floats)) {
      const s = await runFloat(config(), store, quiet, wmo);
      expect(s.verdict, s.error ?? "").toBe("succeeded");
    }
  } catch (err) {
    await bed.cleanup();
    throw err;
  }
  return bed;
}
