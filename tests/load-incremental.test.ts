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
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rawFloatPrefix } from "../lib/lake/layout.ts";
import { runLoad } from "../lib/load/run.ts";
import { runParse } from "../lib/parse/run.ts";
import { dumpPostgresRows } from "./support/compare.ts";
import { spawnJobProcess } from "./support/jobs.ts";
import { type LoadBed, loadBed } from "./support/load-bed.ts";
import { dumpPostgres } from "./load-dump.ts";

const FLOATS: Record<string, string> = { "2902269": "incois", "5900865": "csiro", "6903247": "coriolis" };
let bed: LoadBed;

beforeAll(async () => {
  // Sync and parse only (no load target): the lake as a deployment's cycle leaves it.
  bed = await loadBed("loadinc", FLOATS, { REDIS_TTL: "3600", ALLOW_REMOVALS: "true" });
}, 120_000);

afterAll(async () => {
  await bed?.cleanup();
});

describe("incremental load", () => {
  test("a no-op load after a load opens no Parquet file and changes nothing; a changed float is loaded alone and the targets equal a full load", async () => {
    const db = await bed.newDb("li_noop");
    const prefix = bed.newPrefix();
    const env = { DATABASE_URL: db.url, REDIS_URL: bed.redis.url, REDIS_PREFIX: prefix };
    const first = await runLoad(bed.config(env), bed.store, bed.quiet);
    expect(first).toMatchObject({ mode: "full", full_reason: expect.stringContaining("keeps no load cursor"), floats_loaded: 3, cursor: "advanced" });

    const before = { pg: await dumpPostgres(db.pool), redis: await bed.hotDump(prefix) };
    const noop = await bed.withParquetUnreadable(() => runLoad(bed.config(env), bed.store, bed.quiet));
    expect(noop).toMatchObject({ mode: "incremental", floats_selected: 0, floats_loaded: 0, floats_failed: 0, journal_entries_read: 0, cursor: "advanced" });
    // Not a row rewritten (ctids included), not a hot key changed.
    expect(await dumpPostgres(db.pool)).toEqual(before.pg);
    expect(await bed.hotDump(prefix)).toEqual(before.redis);

    await bed.dropLastProfile("5900865");
    const parsed = await runParse(bed.config(), bed.store, bed.quiet);
    expect(parsed).toMatchObject({ floats_parsed: 1, errors: 0 });
    const inc = await runLoad(bed.config(env), bed.store, bed.quiet);
    expect(inc).toMatchObject({ mode: "incremental", journal_entries_read: 1, floats_selected: 1, floats_loaded: 1, profiles_read: 79, profiles_deleted: 1 });
    const ref = await bed.reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await bed.hotDump(prefix)).toEqual(ref.redis);

    // And then nothing again, without touching Parquet.
    expect(await bed.withParquetUnreadable(() => runLoad(bed.config(env), bed.store, bed.quiet))).toMatchObject({ mode: "incremental", floats_selected: 0 });
  }, 120_000);

  test("a float parse removed is removed from both targets; --full and named floats load in full", async () => {
    const db = await bed.newDb("li_gone");
    const prefix = bed.newPrefix();
    const env = { DATABASE_URL: db.url, REDIS_URL: bed.redis.url, REDIS_PREFIX: prefix };
    await runLoad(bed.config(env), bed.store, bed.quiet);
    for (const o of await bed.store.list(rawFloatPrefix("coriolis", "6903247"))) await bed.store.delete(o.key);
    expect(await runParse(bed.config(), bed.store, bed.quiet)).toMatchObject({ floats_removed: 1 });

    const inc = await runLoad(bed.config(env), bed.store, bed.quiet);
    expect(inc).toMatchObject({ mode: "incremental", floats_selected: 1, floats_removed: 1, floats_loaded: 0, profiles_deleted: 11 });
    expect((await db.pool.query("SELECT float_id FROM floats ORDER BY 1")).rows.map((r) => r.float_id)).toEqual(["2902269", "5900865"]);
    expect(await bed.redis.client.exists(`${prefix}float:6903247`)).toBe(0);
    const ref = await bed.reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await bed.hotDump(prefix)).toEqual(ref.redis);

    expect(await runLoad(bed.config(env), bed.store, bed.quiet, { full: true })).toMatchObject({ mode: "full", full_reason: "--full", floats_loaded: 2, profiles_inserted: 0 });
    expect(await runLoad(bed.config(env), bed.store, bed.quiet, { floatIds: ["2902269"] })).toMatchObject({ mode: "full", full_reason: "float ids named", cursor: "none" });
  }, 120_000);

  test("a load killed before advancing its cursor is redone by the next", async () => {
    const db = await bed.newDb("li_kill");
    const prefix = bed.newPrefix();
    const env = { DATABASE_URL: db.url, REDIS_URL: bed.redis.url, REDIS_PREFIX: prefix };
    await runLoad(bed.config(env), bed.store, bed.quiet);
    const cursorOf = async () => (await db.pool.query("SELECT cursor::text AS c FROM load_cursors")).rows.map((r) => r.c);
    const cursor = await cursorOf();
    expect(cursor).toHaveLength(1);

    await bed.dropLastProfile("2902269");
    await bed.dropLastProfile("5900865");
    expect(await runParse(bed.config(), bed.store, bed.quiet)).toMatchObject({ floats_parsed: 2 });
    const job = spawnJobProcess("load", [], {
      env: { ...env, LAKE_URL: bed.lake.path, LOG_FORMAT: "json", LOG_LEVEL: "debug", REDIS_TTL: "3600" },
      timeoutMs: 60_000,
    });
    await job.waitFor(/"msg":"float loaded into Postgres"/, "stderr", 30_000);
    job.kill("SIGKILL");
    const killed = await job.done;
    expect(killed.signal).toBe("SIGKILL");
    // It died between floats: the cursor still says where the last finished load left off.
    expect(await cursorOf()).toEqual(cursor);

    const redo = await runLoad(bed.config(env), bed.store, bed.quiet);
    expect(redo).toMatchObject({ mode: "incremental", floats_selected: 2, floats_loaded: 2, floats_failed: 0 });
    const ref = await bed.reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await bed.hotDump(prefix)).toEqual(ref.redis);
    expect(await cursorOf()).not.toEqual(cursor);
  }, 120_000);

  test("a Postgres-only and a Redis-only deployment of one lake each keep their own cursor", async () => {
    const db = await bed.newDb("li_pgonly");
    const prefix = bed.newPrefix();
    const pgOnly = bed.config({ DATABASE_URL: db.url });
    const redisOnly = bed.config({ REDIS_URL: bed.redis.url, REDIS_PREFIX: prefix });
    expect(await runLoad(pgOnly, bed.store, bed.quiet)).toMatchObject({ mode: "full", redis: "skipped" });
    // Postgres's cursor is not Redis's: Redis has none and gets a full load.
    expect(await runLoad(redisOnly, bed.store, bed.quiet)).toMatchObject({ mode: "full", full_reason: expect.stringMatching(/^Redis keeps no load cursor/), postgres: "skipped" });

    await bed.dropLastProfile("2902269");
    expect(await runParse(bed.config(), bed.store, bed.quiet)).toMatchObject({ floats_parsed: 1 });
    // The Redis-only load takes the change; the Postgres-only one still has it to do.
    expect(await runLoad(redisOnly, bed.store, bed.quiet)).toMatchObject({ mode: "incremental", floats_loaded: 1 });
    expect(await runLoad(redisOnly, bed.store, bed.quiet)).toMatchObject({ mode: "incremental", floats_selected: 0 });
    expect(await runLoad(pgOnly, bed.store, bed.quiet)).toMatchObject({ mode: "incremental", floats_loaded: 1, profiles_deleted: 1 });
    expect(await runLoad(pgOnly, bed.store, bed.quiet)).toMatchObject({ mode: "incremental", floats_selected: 0 });
    const ref = await bed.reference();
    expect(await dumpPostgresRows(db.pool)).toEqual(ref.pg);
    expect(await bed.hotDump(prefix)).toEqual(ref.redis);
    expect(await bed.redis.client.exists(`${prefix}load:cursor:all`)).toBe(1);
    expect((await db.pool.query("SELECT scope FROM load_cursors")).rows).toEqual([{ scope: "all" }]);
  }, 120_000);
});
