/**
 * The load's full check, over a real lake (fixture floats through the real
 * sync and parse) with real Postgres and Redis. A parse that dies after a
 * float's tables land and before its change-journal entry is written leaves a
 * change no entry names (here: a real parse rewrites a float, and the entry it
 * wrote is deleted). Incremental loads miss it; the full pass the load makes
 * FULL_CHECK_EVERY hours after its cursor's last one (or with FULL_CHECK,
 * `load --full-check`) loads it, and the load after that is incremental again
 * and opens no Parquet file. A cursor from before loads recorded their full
 * passes counts as due, and the full check keeps the load's removal guard.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { journalPrefix, rawFloatPrefix } from "../lib/lake/layout.ts";
import { type LoadCursor, LoadCursorSchema } from "../lib/load/cursor.ts";
import { runLoad } from "../lib/load/run.ts";
import { runParse } from "../lib/parse/run.ts";
import { dumpPostgresRows } from "./support/compare.ts";
import { runJobProcess } from "./support/jobs.ts";
import { type LoadBed, loadBed } from "./support/load-bed.ts";
import type { TestDatabase } from "./support/postgres.ts";

const FLOATS: Record<string, string> = { "5900865": "csiro", "6903247": "coriolis" };
let bed: LoadBed;

beforeAll(async () => {
  bed = await loadBed("loadfull", FLOATS);
}, 180_000);

afterAll(async () => {
  await bed?.cleanup();
});

/** The targets of one deployment: a database and a Redis prefix. */
interface Targets {
  db: TestDatabase;
  prefix: string;
  env: Record<string, string>;
}

async function newTargets(name: string): Promise<Targets> {
  const db = await bed.newDb(name);
  const prefix = bed.newPrefix();
  return { db, prefix, env: { DATABASE_URL: db.url, REDIS_URL: bed.redis.url, REDIS_PREFIX: prefix } };
}

const load = (t: Targets, env: Record<string, string> = {}) => runLoad(bed.config({ ...t.env, ...env }), bed.store, bed.quiet);

/** The cursor each target keeps for the whole lake (scope "all"). */
async function cursors(t: Targets): Promise<{ pg: LoadCursor; redis: LoadCursor }> {
  const row = (await t.db.pool.query("SELECT cursor::text AS c FROM load_cursors WHERE scope = 'all'")).rows[0];
  const hot = await bed.redis.client.get(`${t.prefix}load:cursor:all`);
  return { pg: LoadCursorSchema.parse(JSON.parse(row.c)), redis: LoadCursorSchema.parse(JSON.parse(hot!)) };
}

/** Rewrites both targets' cursors with `edit` (Redis keeps the key's TTL). */
async function editCursors(t: Targets, edit: (c: LoadCursor) => LoadCursor): Promise<void> {
  const now = await cursors(t);
  await t.db.pool.query("UPDATE load_cursors SET cursor = $1::jsonb WHERE scope = 'all'", [JSON.stringify(edit(now.pg))]);
  await bed.redis.client.set(`${t.prefix}load:cursor:all`, JSON.stringify(edit(now.redis)), "KEEPTTL");
}

/**
 * Runs a real parse that must change something, then deletes the parquet
 * change-journal entry it wrote: the lake as a parse killed between landing
 * its tables and writing the entry leaves it.
 */
async function parseLosingItsJournalEntry(expected: Record<string, number>): Promise<void> {
  const keys = async () => (await bed.store.list(journalPrefix("parquet"))).map((o) => o.key);
  const before = new Set(await keys());
  expect(await runParse(bed.config(), bed.store, bed.quiet)).toMatchObject({ ...expected, errors: 0 });
  const written = (await keys()).filter((k) => !before.has(k));
  expect(written).toHaveLength(1);
  await bed.store.delete(written[0]!);
}

const profilesOf = async (t: Targets, wmo: string): Promise<number> =>
  (await t.db.pool.query("SELECT count(*)::int AS n FROM profiles WHERE float_id = $1", [wmo])).rows[0].n;

/** Both targets equal a full load of the lake as it is now into fresh ones. */
async function expectLikeFullLoad(t: Targets): Promise<void> {
  const ref = await bed.reference();
  expect(await dumpPostgresRows(t.db.pool)).toEqual(ref.pg);
  expect(await bed.hotDump(t.prefix)).toEqual(ref.redis);
}

/** Both cursors' last full pass started at or after `iso`. */
async function expectFullPassSince(t: Targets, iso: string): Promise<string> {
  const c = await cursors(t);
  for (const at of [c.pg.full_at, c.redis.full_at]) expect(at !== undefined && at >= iso, `full_at ${at} is not at or after ${iso}`).toBe(true);
  return c.pg.full_at!;
}

describe("the load's full check", () => {
  test("a change without its journal entry is missed by incremental loads, loaded by the full pass FULL_CHECK_EVERY hours after the last, and the next load is incremental again", async () => {
    const t = await newTargets("lf_every");
    const before = new Date().toISOString();
    expect(await load(t)).toMatchObject({ mode: "full", floats_loaded: 2, cursor: "advanced" });
    // Both targets' cursors record when that full pass started.
    await expectFullPassSince(t, before);

    await bed.dropLastProfile("5900865");
    await parseLosingItsJournalEntry({ floats_parsed: 1 });
    // No entry names the float: the load does nothing (the full pass is not due), the targets keep its old rows.
    expect(await load(t)).toMatchObject({ mode: "incremental", floats_selected: 0, journal_entries_read: 0 });
    expect(await profilesOf(t, "5900865")).toBe(80);

    // A week and an hour after the last full pass (moved back in both cursors): the load is a full pass.
    await editCursors(t, (c) => ({ ...c, full_at: new Date(Date.now() - 169 * 3600_000).toISOString() }));
    const started = new Date().toISOString();
    const full = await load(t);
    expect(full).toMatchObject({ mode: "full", full_reason: "FULL_CHECK_EVERY=168 hours", floats_loaded: 2, floats_removed: 0, profiles_deleted: 1 });
    expect(await profilesOf(t, "5900865")).toBe(79);
    await expectLikeFullLoad(t);
    const fullAt = await expectFullPassSince(t, started);

    // The next load is incremental again: it opens no Parquet file, and keeps the full pass's start.
    const next = await bed.withParquetUnreadable(() => load(t));
    expect(next).toMatchObject({ mode: "incremental", floats_selected: 0, floats_failed: 0, full_reason: null, cursor: "advanced" });
    expect((await cursors(t)).redis.full_at).toBe(fullAt);
  }, 240_000);

  test("load --full-check (FULL_CHECK) makes the job a full pass now; the load after it is incremental", async () => {
    const t = await newTargets("lf_flag");
    expect(await load(t)).toMatchObject({ mode: "full", floats_loaded: 2 });
    await bed.dropLastProfile("5900865");
    await parseLosingItsJournalEntry({ floats_parsed: 1 });
    expect(await load(t)).toMatchObject({ mode: "incremental", floats_selected: 0 });
    expect(await profilesOf(t, "5900865")).toBe(79);

    const started = new Date().toISOString();
    const job = await runJobProcess("load", ["--full-check", "--json"], { env: { ...t.env, LAKE_URL: bed.lake.path, LOG_FORMAT: "json" }, timeoutMs: 150_000 });
    expect(job.code, job.stderr).toBe(0);
    expect(JSON.parse(job.stdout)).toMatchObject({ mode: "full", full_reason: "FULL_CHECK", floats_loaded: 2, profiles_deleted: 1 });
    expect(await profilesOf(t, "5900865")).toBe(78);
    await expectLikeFullLoad(t);
    await expectFullPassSince(t, started);
    expect(await bed.withParquetUnreadable(() => load(t))).toMatchObject({ mode: "incremental", floats_selected: 0, floats_failed: 0 });
  }, 240_000);

  test("a cursor that records no full pass (written before loads kept one) is due, unless FULL_CHECK_EVERY=0; the full check keeps the removal guard", async () => {
    const t = await newTargets("lf_old");
    expect(await load(t)).toMatchObject({ mode: "full", floats_loaded: 2 });
    await editCursors(t, ({ full_at: _, ...old }) => old);
    // The float's raw files are withdrawn and parse removes its tables, but the entry naming it is lost.
    for (const o of await bed.store.list(rawFloatPrefix("coriolis", "6903247"))) await bed.store.delete(o.key);
    await parseLosingItsJournalEntry({ floats_removed: 1 });

    expect(await load(t, { FULL_CHECK_EVERY: "0" })).toMatchObject({ mode: "incremental", floats_selected: 0 });
    expect((await cursors(t)).pg.full_at).toBeUndefined();
    // Due, and its removal is more than the guard allows: refused whole, nothing removed, the cursor not advanced.
    await expect(load(t, { REMOVAL_MAX_FLOATS: "0" })).rejects.toThrow(/^load refused: it would remove 1 of 2 loaded floats .* more than REMOVAL_MAX_FLOATS=0/);
    expect(await profilesOf(t, "6903247")).toBe(11);
    expect(await bed.redis.client.exists(`${t.prefix}float:6903247`)).toBe(1);
    expect((await cursors(t)).redis.full_at).toBeUndefined();

    const started = new Date().toISOString();
    expect(await load(t)).toMatchObject({ mode: "full", full_reason: "FULL_CHECK_EVERY=168 hours (no full pass recorded)", floats_removed: 1, floats_loaded: 1 });
    expect(await profilesOf(t, "6903247")).toBe(0);
    await expectLikeFullLoad(t);
    await expectFullPassSince(t, started);
    expect(await bed.withParquetUnreadable(() => load(t))).toMatchObject({ mode: "incremental", floats_selected: 0 });
  }, 240_000);
});
