/**
 * The test bed of the serving tests: a fixture lake filled by run-float
 * (sync, parse, load) for a few fixture floats, their Postgres database and
 * Redis prefix, and the API started on a free loopback port over them.
 */
import { type Config, loadConfig } from "../lib/config.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runFloat } from "../lib/runner.ts";
import { type RunningServer, startServer } from "../lib/serve/server.ts";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";

/**
 * The floats loaded: a delayed-mode float with 80 profiles (csiro), an
 * INCOIS float with 57, a BGC float (coriolis) and a float without PSAL (aoml).
 */
export const SERVE_FLOATS = ["5900865", "2902269", "6903247", "13857"] as const;

/** A filled lake, database and Redis prefix. */
export interface ServeBed {
  db: TestDatabase;
  redis: TestRedis;
  lake: TempDir;
  /** The configuration of a server over the bed (overrides win). */
  config(overrides?: Record<string, string>): Config;
  /** Starts a server over the bed; stopped by cleanup(). */
  start(overrides?: Record<string, string>): Promise<RunningServer>;
  cleanup(): Promise<void>;
}

/** Fills the bed with run-float for `floats`. */
export async function serveBed(name: string, floats: readonly string[] = SERVE_FLOATS): Promise<ServeBed> {
  const [db, redis, lake] = await Promise.all([createTestDatabase(name), testRedis(name), tempDir(name)]);
  const servers: RunningServer[] = [];
  const config = (overrides: Record<string, string> = {}) =>
    loadConfig({
      env: {
        GDAC_BASE_URL: fixturesDir,
        LAKE_URL: lake.path,
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: redis.prefix,
        REDIS_TTL: "3600",
        MAX_WORKERS: "1",
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        ...overrides,
      },
      envFile: "/nonexistent/.env",
    });
  const log = createLogger({ level: "error", write: () => {} });
  const store = new LocalLakeStore(lake.path);
  try {
    for (const wmo of floats) {
      const s = await runFloat(config(), store, log, wmo);
      if (s.verdict !== "succeeded") throw new Error(`run-float ${wmo} failed: ${s.error}`);
    }
  } finally {
    await store.close();
  }
  return {
    db,
    redis,
    lake,
    config,
    async start(overrides = {}) {
      const s = await startServer(config(overrides));
      servers.push(s);
      return s;
    },
    async cleanup() {
      await Promise.all(servers.map((s) => s.close().catch(() => {})));
      await redis.cleanup();
      await db.drop();
      await lake.cleanup();
    },
  };
}
