/**
 * The incremental load over a real lake (fixture floats through the real
 * sync and parse), with real Postgres and Redis: each target keeps a cursor
 * into the parquet change journal that parse writes, and a load loads exactly
 * the floats named since. A no-op opens no Parquet file (every file is made
 * unreadable, and the load still succeeds, changing nothing); after a parse
 * that changed or removed floats the targets equal a full load into fresh
 * ones; a load killed before its cursor advanced is redone; a Postgres-only
 * and a Redis-only deployment of one lake keep their own cursors.
 */
import { copyFile, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Config, loadConfig } from "../lib/config.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { rawFloatPrefix } from "../lib/lake/layout.ts";
import { runLoad } from "../lib/load/run.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";
import { runFloat } from "../lib/runner.ts";
import { dumpPostgresRows, dumpRedisPrefix } from "./support/compare.ts";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { spawnJobProcess } from "./support/jobs.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";
import { dumpPostgres } from "./load-dump.ts";

const FLOATS: Record<string, string> = { "2902269": "incois", "5900865": "csiro", "6903247": "coriolis" };
let lake: TempDir;
let store: LocalLakeStore;
let redis: TestRedis;
const dbs: TestDatabase[] = [];
const quiet = createLogger({ level: "error", write: () => {} });
let prefixes = 0;

function config(env: Record<string, string> = {}): Config {
  return loadConfig({
    env: { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake.path, MAX_WORKERS: "1", REDIS_TTL: "3600", ALLOW_REMOVALS: "true", ...env },
    envFile: "/nonexistent/.env",
  });
}

async function newDb(name: string): Promise<TestDatabase> {
  const db = await createTestDatabase(name);
  dbs.push(db);
  return db;
}

/** A Redis prefix of its own under the test file's. */
const newPrefix = () => `${redis.prefix}${++prefixes}:`;

/** The lake's floats as they are now, loaded in full into fresh targets: what an incremental load must equal. */
async function reference(): Promise<{ pg: Record<string, string[] | null>; redis: Record<string, unknown> }> {
  const db = await newDb("li_ref");
  const prefix = newPrefix();
  const s = await runLoad(config({ DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: prefix }), store, quiet);
  expect(s.mode).toBe("full");
  return { pg: await dumpPostgresRows(db.pool), redis: await hotDump(prefix) };
}

/** The hot layer under a prefix without the load's cursor (its stamps differ between runs by nature). */
async function hotDump(prefix: string): Promise<Record<string, unknown>> {
  const d = await dumpRedisPrefix(redis.client, prefix);
  return Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith("load:cursor:")));
}

/** Removes a float's last profile file from the raw zone (as a GDAC withdrawal would), for parse to rewrite the float. */
async function dropLastProfile(wmo: string): Promise<void> {
  const files = (await store.list(`${rawFloatPrefix(FLOATS[wmo]!, wmo)}profiles/`)).map((o) => o.key).sort();
  await store.delete(files.at(-1)!);
}

/** Runs `work` while every Parquet file of the lake holds garbage: a load that opened one would fail that float. */
async function withParquetUnreadable<T>(work: () => Promise<T>): Promise<T> {
  const root = join(lake.path, "parquet");
  const saved = join(lake.path, "..", `${lake.path.split("/").at(-1)}-saved`);
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".parquet"));
  expect(files.length).toBeGreaterThan(10);
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
}

beforeAll(async () => {
  [lake, redis] = await Promise.all([tempDir("loadinc"), testRedis("loadinc")]);
  store = new LocalLakeStore(lake.path);
  // Sync and parse only (no load target): the lake as a deployment's cycle leaves it.
  for (const wmo of Object.keys(FLOATS)) {
    const s = await runFloat(config(), store, quiet, wmo);
    expect(s.verdict, s.error ?? "").toBe("succeeded");
  }
}, 120_000);

afterAll(async () => {
  await redis?.cleanup();
  for (const db of dbs) await db.drop();
  await lake?.cleanup();
});

describe("incremental load", () => {
  test("a no-op load after a load opens no Parquet file and changes nothing; a changed float is loaded alone and the targets equal a full load", async () => {
    const db = await newDb("li_noop");
    const prefix = newPrefix();
    const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    const first = await runLoad(config(env), store, quiet);
    expect(first).toMatchObject({ mode: "full", full_reason: expect.stringContaining("keeps no load cursor"), floats_loaded: 3, cursor: "advanced" });

    const before = { pg: await dumpPostgres(db.pool), redis: await hotDump(prefix) };
    const noop = await withParquetUnreadable(() => runLoad(config(env), store, quiet));
    expect(noop).toMatchObject({ mode: "incremental", floats_selected: 0, floats_loaded: 0, floats_failed: 0, journal_entries_read: 0, cursor: "advanced" });
    // Not a row rewritten (ctids included), not a hot key changed.
    expect(await dumpPostgres(db.pool)).toEqual(before.pg);
    expect(await hotDump(prefix)).toEqual(before.redis);

    await dropLastProfile("5900865");
    const parsed = await runParse(config(), store, quiet);
    expect(parsed).toMatchObject({ floats_parsed: 1, errors: 0 });
    const inc = await runLoad(config(env), store, quiet);
    expect(inc).toMatchObject({ mode: "incremental", journal_entries_read: 1, floats_selected: 1, floats_loaded: 1, profiles_read: 79, profiles_deleted: 1 });
    const ref = await reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await hotDump(prefix)).toEqual(ref.redis);

    // And then nothing again, without touching Parquet.
    expect(await withParquetUnreadable(() => runLoad(config(env), store, quiet))).toMatchObject({ mode: "incremental", floats_selected: 0 });
  }, 120_000);

  test("a float parse removed is removed from both targets; --full and named floats load in full", async () => {
    const db = await newDb("li_gone");
    const prefix = newPrefix();
    const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    await runLoad(config(env), store, quiet);
    for (const o of await store.list(rawFloatPrefix("coriolis", "6903247"))) await store.delete(o.key);
    expect(await runParse(config(), store, quiet)).toMatchObject({ floats_removed: 1 });

    const inc = await runLoad(config(env), store, quiet);
    expect(inc).toMatchObject({ mode: "incremental", floats_selected: 1, floats_removed: 1, floats_loaded: 0, profiles_deleted: 11 });
    expect((await db.pool.query("SELECT float_id FROM floats ORDER BY 1")).rows.map((r) => r.float_id)).toEqual(["2902269", "5900865"]);
    expect(await redis.client.exists(`${prefix}float:6903247`)).toBe(0);
    const ref = await reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await hotDump(prefix)).toEqual(ref.redis);

    expect(await runLoad(config(env), store, quiet, { full: true })).toMatchObject({ mode: "full", full_reason: "--full", floats_loaded: 2, profiles_inserted: 0 });
    expect(await runLoad(config(env), store, quiet, { floatIds: ["2902269"] })).toMatchObject({ mode: "full", full_reason: "float ids named", cursor: "none" });
  }, 120_000);

  test("a load killed before advancing its cursor is redone by the next", async () => {
    const db = await newDb("li_kill");
    const prefix = newPrefix();
    const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    await runLoad(config(env), store, quiet);
    const cursorOf = async () => (await db.pool.query("SELECT cursor::text AS c FROM load_cursors")).rows.map((r) => r.c);
    const cursor = await cursorOf();
    expect(cursor).toHaveLength(1);

    await dropLastProfile("2902269");
    await dropLastProfile("5900865");
    expect(await runParse(config(), store, quiet)).toMatchObject({ floats_parsed: 2 });
    const job = spawnJobProcess("load", [], {
      env: { ...env, LAKE_URL: lake.path, LOG_FORMAT: "json", LOG_LEVEL: "debug", REDIS_TTL: "3600" },
      timeoutMs: 60_000,
    });
    await job.waitFor(/"msg":"float loaded into Postgres"/, "stderr", 30_000);
    job.kill("SIGKILL");
    const killed = await job.done;
    expect(killed.signal).toBe("SIGKILL");
    // It died between floats: the cursor still says where the last finished load left off.
    expect(await cursorOf()).toEqual(cursor);

    const redo = await runLoad(config(env), store, quiet);
    expect(redo).toMatchObject({ mode: "incremental", floats_selected: 2, floats_loaded: 2, floats_failed: 0 });
    const ref = await reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await hotDump(prefix)).toEqual(ref.redis);
    expect(await cursorOf()).not.toEqual(cursor);
  }, 120_000);

  test("a Postgres-only and a Redis-only deployment of one lake each keep their own cursor", async () => {
    const db = await newDb("li_pgonly");
    const prefix = newPrefix();
    const pgOnly = config({ DATABASE_URL: db.url });
    const redisOnly = config({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
    expect(await runLoad(pgOnly, store, quiet)).toMatchObject({ mode: "full", redis: "skipped" });
    // Postgres's cursor is not Redis's: Redis has none and gets a full load.
    expect(await runLoad(redisOnly, store, quiet)).toMatchObject({ mode: "full", full_reason: expect.stringMatching(/^Redis keeps no load cursor/), postgres: "skipped" });

    await dropLastProfile("2902269");
    expect(await runParse(config(), store, quiet)).toMatchObject({ floats_parsed: 1 });
    // The Redis-only load takes the change; the Postgres-only one still has it to do.
    expect(await runLoad(redisOnly, store, quiet)).toMatchObject({ mode: "incremental", floats_loaded: 1 });
    expect(await runLoad(redisOnly, store, quiet)).toMatchObject({ mode: "incremental", floats_selected: 0 });
    expect(await runLoad(pgOnly, store, quiet)).toMatchObject({ mode: "incremental", floats_loaded: 1, profiles_deleted: 1 });
    expect(await runLoad(pgOnly, store, quiet)).toMatchObject({ mode: "incremental", floats_selected: 0 });
    const ref = await reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await hotDump(prefix)).toEqual(ref.redis);
    expect(await redis.client.exists(`${prefix}load:cursor:all`)).toBe(1);
    expect((await db.pool.query("SELECT scope FROM load_cursors")).rows).toEqual([{ scope: "all" }]);
  }, 120_000);
});
