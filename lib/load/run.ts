/**
 * The load stage: aggregates computed by DuckDB over the lake, written to
 * Postgres (DATABASE_URL) and the Redis hot layer (REDIS_URL). Either target
 * may be unset, and is then skipped with one log line: the lake alone is a
 * valid deployment.
 *
 * Floats are read from the lake a batch (BATCH_SIZE) at a time and written
 * a batch per Postgres transaction (each float's update whole; a batch that
 * fails is written again float by float, so only the float at fault fails)
 * and one float per Redis script; after each batch
 * the climatology cells its floats changed are recomputed, once. A float
 * that the targets hold but the lake no longer does is removed from them:
 * with explicit float ids, any of those not in the lake; on a full load,
 * every float of the selected DACs and shard that is not in the lake; but
 * never from a lake path that does not exist, and never more than the
 * removal guard allows (lib/removal-guard.ts). A float whose lake rows are
 * defective (two rows for one profile, an unreadable file, files under two
 * DACs) is refused alone: the targets keep its last good rows.
 *
 * A load's cost follows what changed: each target keeps a cursor into the
 * lake's parquet change journal (lib/load/cursor.ts), and a load whose
 * targets all have one loads, or removes, exactly the floats the journal
 * names since the oldest of them (within the DAC filter and shard), then
 * advances the cursors. Without a cursor, with float ids named, with
 * `full`, or on a full check (FULL_CHECK, or FULL_CHECK_EVERY hours after the
 * cursor's last full pass started: what landed without a journal entry is
 * loaded then), it is a full load. A load with nothing to do opens no Parquet file.
 */
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { type DuckSession, openDuckDB } from "../duckdb.ts";
import { ArgoLakeError, LakeError, LoadError } from "../errors.ts";
import { type Change, fullCheckDue, type JournalRead, readJournalSince } from "../lake/changes.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import {
  flushClimatology,
  type InsertMethod,
  loadFloatPostgres,
  loadFloatsPostgres,
  type PgFloatStats,
  postgresFloatIds,
  readPostgresCursor,
  removeFloatPostgres,
  syncPressureBands,
  writePostgresCursor,
} from "../db/loader.ts";
import { connectPostgres, describeDatabase, migrate, type PgClient, pgMessage } from "../db/postgres.ts";
import { connectRedis, describeRedis, hotFloatIds, readHotCursor, refreshHotTtl, removeHotFloat, writeHotCursor, writeHotFloat } from "../db/redis.ts";
import type { FloatLoad } from "../db/rows.ts";
import { assertLakeExists, checkRemoval } from "../removal-guard.ts";
import { type BatchLoads, floatIdsOf, focusOnFloats, type LakeFiles, listLakeFiles, readFloatLoads, readPressureBands } from "./lake.ts";
import { cursorAfterFullPass, cursorAfterIncremental, cursorScope, journalBeforeFullPass, type LoadCursor, loadDerivation, oldestCursor, parseCursor } from "./cursor.ts";
import { localLakeFor } from "./root.ts";
import type { LoadStats } from "./stats.ts";

export { type LoadStats, LoadStatsSchema } from "./stats.ts";

/** What a load can be told besides the config. */
export interface LoadOptions {
  /** Only these floats (otherwise FLOAT_IDS, otherwise every float of the lake in ARGO_DAC). */
  floatIds?: string[];
  /** Keep only floats this accepts (the scheduler's shard). */
  shard?: (wmo: string) => boolean;
  /** Stops between floats; the stats then say `aborted`. */
  signal?: AbortSignal;
  /** How rows are sent to Postgres (bench/load.ts compares them); "batch" by default. */
  insertMethod?: InsertMethod;
  /**
   * The run's scope ("all", "shard-i-of-n"; lib/runner.ts): with the DAC
   * filter it names the cursor the targets keep. A load given a shard but no
   * scope keeps none (it is always full).
   */
  scope?: string;
  /** Load every selected float, whatever the change journal says (load --full). */
  full?: boolean;
}

/** DuckDB settings of the load's session: memory bounded whatever the lake's size (see {@link openLoadSession}). */
export const LOAD_DUCKDB_SETTINGS = {
  threads: 2,
  memory_limit: "512MB",
  // DuckDB keeps every file it reads in its external file cache, so memory would follow the lake's bytes.
  enable_external_file_cache: false,
} as const;

function emptyStats(method: InsertMethod): LoadStats {
  return {
    postgres: "skipped",
    redis: "skipped",
    floats_selected: 0,
    floats_loaded: 0,
    floats_removed: 0,
    floats_failed: 0,
    profiles_read: 0,
    profiles_inserted: 0,
    profiles_updated: 0,
    profiles_unchanged: 0,
    profiles_deleted: 0,
    climatology_contributions_changed: 0,
    climatology_cells_changed: 0,
    migrations_applied: [],
    redis_floats_written: 0,
    redis_latest_profiles: 0,
    redis_levels_written: 0,
    redis_geo_skipped: 0,
    insert_method: method,
    mode: "full",
    full_reason: null,
    journal_entries_read: 0,
    cursor: "none",
    aborted: false,
    errors: [],
    start_time: new Date().toISOString(),
    end_time: "",
    duration_ms: 0,
    timings_ms: { lake: 0, postgres: 0, redis: 0 },
  };
}

/** How long a load goes between two recomputations of the climatology cells it changed (see flush in runLoad). */
const CLIMATOLOGY_FLUSH_MS = 30_000;

/** Milliseconds since `t0`, to 0.1 ms. */
const since = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

/**
 * Loads the lake's aggregates into Postgres and Redis. Throws LoadError when
 * a target cannot be reached (before or during the load) and, after trying
 * every float, when any float failed (the stats are in the error's context).
 */
export async function runLoad(config: Config, store: LakeStore, log: Logger, opts: LoadOptions = {}): Promise<LoadStats> {
  const t0 = performance.now();
  const method = opts.insertMethod ?? "batch";
  const stats = emptyStats(method);
  const llog = log.child({ stage: "load" });
  const finish = () => {
    stats.end_time = new Date().toISOString();
    stats.duration_ms = since(t0);
    for (const k of ["lake", "postgres", "redis"] as const) stats.timings_ms[k] = Math.round(stats.timings_ms[k] * 10) / 10;
    return stats;
  };
  if (!config.DATABASE_URL) llog.info("DATABASE_URL is not set: skipping the Postgres load (the lake alone is a valid deployment)");
  if (!config.REDIS_URL) llog.info("REDIS_URL is not set: skipping the Redis hot layer (the lake alone is a valid deployment)");
  if (!config.DATABASE_URL && !config.REDIS_URL) return finish();
  // A lake path that does not exist is a mistake, never "every float is gone".
  assertLakeExists(store, "load");

  const startedAt = new Date();
  const explicit = opts.floatIds?.length ? opts.floatIds : config.FLOAT_IDS.length ? config.FLOAT_IDS : null;
  const dacs = new Set<string>(config.ARGO_DAC);
  const keep = (id: string) => !opts.shard || opts.shard(id);
  let pg: PgClient | null = null;
  let redis: Redis | null = null;
  // Opened when the first Parquet file is to be read: a load with nothing to do never opens one.
  let session: DuckSession | null = null;
  const duck = async () => (session ??= await openLoadSession());
  let flushedAt = performance.now();
  try {
    if (config.DATABASE_URL) {
      pg = await connectPostgres(config.DATABASE_URL);
      stats.migrations_applied = await migrate(pg, llog);
      // Everything the load writes is derived from the lake and the next load repairs whatever a
      // crash lost (it compares with the lake), so a commit need not wait for its WAL flush.
      // Commits stay atomic and ordered; this only saves one disk flush per float.
      await pg.query("SET synchronous_commit TO off");
      stats.postgres = "loaded";
      llog.info("loading into Postgres", { database: describeDatabase(config.DATABASE_URL), insert_method: method });
    }
    if (config.REDIS_URL) {
      redis = await connectRedis(config.REDIS_URL);
      stats.redis = "loaded";
      llog.info("loading into Redis", { redis: describeRedis(config.REDIS_URL), prefix: config.REDIS_PREFIX, ttl_s: config.REDIS_TTL });
    }

    // The cursor this selection keeps in each target: none for named floats (they are not the selection).
    const scope = explicit || (opts.shard && !opts.scope) ? null : cursorScope(opts.scope ?? "all", dacs);
    const tl = performance.now();
    const plan = scope && !opts.full ? await incremental(scope) : null;
    if (plan) {
      stats.mode = "incremental";
      stats.journal_entries_read = plan.read.entries;
    } else {
      stats.full_reason = explicit ? "float ids named" : !scope ? "a shard without a scope keeps no cursor" : opts.full ? "--full" : stats.full_reason;
    }
    // A full pass lists the journal before the lake: the entries listed are covered by what it reads.
    const listedJournal = scope && !plan ? await journalBeforeFullPass(store) : [];
    // Targeted loads (named floats, or the journal's) take exactly their floats; a full load the lake's.
    const targeted = explicit ?? plan?.ids ?? null;
    const named = targeted ? new Set(targeted) : null;
    if (plan && plan.ids.length === 0) {
      stats.timings_ms.lake += since(tl);
      await flush(true);
      await advanceCursors(scope!, cursorAfterIncremental(store.description, plan.read.cursor, plan.from, []));
      stats.aborted = opts.signal?.aborted ?? false;
      return report();
    }

    // Only the floats this load may touch are read: named ones, or this shard's.
    const local = await localLakeFor(store, llog, (id) => (!named || named.has(id)) && keep(id));
    const files = await listLakeFiles(local.store, local.root, local.snapshot);
    stats.timings_ms.lake += since(tl);
    const inLake = new Set(floatIdsOf(files));

    // Explicit ids are taken whatever their DAC; the journal's and a full load's within ARGO_DAC (all when unset).
    const inDacs = (id: string) => !dacs.size || dacs.has(files.dac.get(id)!);
    let wanted = (explicit ? [...new Set(explicit)].sort() : plan ? plan.ids.filter((id) => !inLake.has(id) || inDacs(id)) : [...inLake].filter(inDacs))
      .filter(keep);
    // Floats under two DACs in the lake are refused whole: the targets keep their last good rows.
    for (const [id, under] of files.conflicts) {
      if (!targeted && !keep(id)) continue;
      if (targeted && !wanted.includes(id)) continue;
      refuseFloat(id, `float ${id} has Parquet files under ${under.length} DACs (${under.join(", ")}) in the lake: expected one; not loaded, its last good rows stay`);
    }

    // What the targets hold that the lake lost is removed, but never implausibly much at once.
    // (Targeted floats that are all in the lake remove nothing: the targets need not be asked.)
    const mayRemove = !targeted || wanted.some((id) => !inLake.has(id));
    const held = mayRemove ? (await targetFloatIds(pg, redis, config, explicit ? new Set() : dacs)).filter(keep) : [];
    const heldSet = new Set(held);
    const gone = targeted ? wanted.filter((id) => !inLake.has(id) && heldSet.has(id)) : held.filter((id) => !inLake.has(id));
    // The journal's floats that are neither in the lake nor in the targets need nothing.
    if (plan) wanted = wanted.filter((id) => inLake.has(id) || heldSet.has(id));
    stats.floats_selected = wanted.length;
    checkRemoval(config, {
      stage: "load",
      where: `Postgres/Redis (lake ${store.description})`,
      what: "loaded floats",
      removing: gone.length,
      held: held.length,
      because: "the lake no longer has them",
    });

    if (pg) {
      // The bands come from the SQL the climatology is computed with; Postgres keeps a copy to join on.
      const { conn } = await duck();
      await focusOnFloats(conn, files, []);
      await syncPressureBands(pg, await readPressureBands(conn));
      // Cells a load that died left marked are recomputed before anything else.
      await flush(true);
    }

    const batchSize = Math.max(1, config.BATCH_SIZE);
    for (let i = 0; i < wanted.length && !opts.signal?.aborted; i += batchSize) {
      const batch = wanted.slice(i, i + batchSize);
      const tr = performance.now();
      const inBatch = batch.filter((id) => inLake.has(id));
      const { loads, refused } = inBatch.length ? await readBatch((await duck()).conn, files, inBatch) : { loads: new Map(), refused: new Map() };
      stats.timings_ms.lake += since(tr);
      const todo = batch.filter((id) => !files.conflicts.has(id));
      for (const [id, why] of refused) refuseFloat(id, `float ${id}: ${why}; not loaded, its last good rows stay`);
      const ready = todo.flatMap((id) => (refused.has(id) ? [] : [loads.get(id)].filter((d): d is FloatLoad => d !== undefined)));
      const written = pg && ready.length ? await postgresBatch(ready) : new Map<string, PgFloatStats | Error>();
      for (const id of todo) {
        if (opts.signal?.aborted) break;
        if (!refused.has(id)) await loadOne(id, loads.get(id) ?? null, written.get(id));
      }
      await flush();
    }

    if (!targeted && !opts.signal?.aborted) {
      // A full load also removes what the targets hold of the selected DACs and shard that the lake lost.
      for (const id of gone) {
        if (!opts.signal?.aborted) await loadOne(id, null);
      }
    }
    await flush(true);
    stats.aborted = opts.signal?.aborted ?? false;
    if (scope && !stats.aborted) {
      // The floats that failed stay pending in the cursor: the next load tries them again.
      const dacOf = (id: string) => files.dac.get(id) ?? plan?.changes.find((c) => c.wmo === id)?.dac ?? "";
      const pending: Change[] = stats.errors.map((e) => ({ dac: dacOf(e.float_id), wmo: e.float_id, change: "changed" }));
      await advanceCursors(
        scope,
        plan ? cursorAfterIncremental(store.description, plan.read.cursor, plan.from, pending) : cursorAfterFullPass(store.description, startedAt, listedJournal, pending),
      );
    }
  } catch (err) {
    // Whatever failed, a target that went away is the reason to report.
    if (!(err instanceof ArgoLakeError && err.context.unreachable)) await assertReachable(pg, redis, config, err);
    if (err instanceof ArgoLakeError) throw err;
    throw new LoadError(`load failed: ${(err as Error).message}`, {}, { cause: err });
  } finally {
    (session as DuckSession | null)?.close();
    await pg?.end().catch(() => {});
    redis?.disconnect();
  }
  return report();

  /** Ends the run: its stats, or a LoadError carrying them when a float failed. */
  function report(): LoadStats {
  finish();
  llog.info("load finished", {
    floats_loaded: stats.floats_loaded,
    floats_removed: stats.floats_removed,
    floats_failed: stats.floats_failed,
    profiles_read: stats.profiles_read,
    profiles_changed: stats.profiles_inserted + stats.profiles_updated + stats.profiles_deleted,
    climatology_cells_changed: stats.climatology_cells_changed,
    duration_ms: stats.duration_ms,
  });
  if (stats.floats_failed > 0) {
    const first = stats.errors[0];
    throw new LoadError(
      `${stats.floats_failed} of ${stats.floats_selected} floats failed to load; first: float ${first.float_id}: ${first.error}`,
      { floatId: first.float_id, stats },
    );
  }
  return stats;
  }

  /**
   * The floats to load since the targets' cursors, or null (with the reason
   * in the stats) when the load must be full: a target without a cursor, a
   * change in what the load derives, a full check due, an unreadable journal.
   */
  async function incremental(scope: string): Promise<{ ids: string[]; changes: Change[]; read: JournalRead; from: LoadCursor } | null> {
    const found: LoadCursor[] = [];
    for (const [target, text] of [
      ...(pg ? [["Postgres", await readPostgresCursor(pg, scope)] as const] : []),
      ...(redis ? [["Redis", await readHotCursor(redis, config.REDIS_PREFIX, scope)] as const] : []),
    ]) {
      const c = parseCursor(text);
      if (!c) {
        stats.full_reason = `${target} keeps no load cursor for ${scope}`;
        return null;
      }
      if (c.derivation !== loadDerivation()) {
        stats.full_reason = `what the load computes changed since ${target}'s last load`;
        return null;
      }
      if (c.lake !== store.description) {
        stats.full_reason = `${target}'s load cursor is of another lake (${c.lake})`;
        return null;
      }
      found.push(c);
    }
    const cursor = oldestCursor(found);
    const due = fullCheckDue(config, cursor.full_at ?? null, startedAt);
    if (due !== null) {
      stats.full_reason = due;
      llog.info("full check: full load", { scope, reason: due, last_full_pass: cursor.full_at ?? null });
      return null;
    }
    let read: JournalRead;
    try {
      read = await readJournalSince(store, "parquet", cursor);
    } catch (err) {
      if (!(err instanceof LakeError)) throw err;
      stats.full_reason = err.message;
      llog.warn("the change journal cannot be read: full load", { error: err.message });
      return null;
    }
    // Floats whose hot keys expired are written again (the others get a fresh TTL).
    const expired = redis ? await refreshHotTtl(redis, config.REDIS_PREFIX, config.REDIS_TTL) : [];
    const changes = [...read.changes, ...cursor.pending].filter((c) => keep(c.wmo) && (!dacs.size || dacs.has(c.dac)));
    const ids = [...new Set([...changes.map((c) => c.wmo), ...expired.filter(keep)])].sort();
    llog.info("incremental load", { scope, journal_entries: read.entries, floats: ids.length, pending: cursor.pending.length, expired: expired.length });
    return { ids, changes, read, from: cursor };
  }

  /** Keeps the cursor in every target, now that the floats it covers are loaded. */
  async function advanceCursors(scope: string, cursor: LoadCursor): Promise<void> {
    if (pg) await writePostgresCursor(pg, scope, cursor);
    if (redis) await writeHotCursor(redis, config.REDIS_PREFIX, config.REDIS_TTL, scope, cursor);
    stats.cursor = "advanced";
  }

  /**
   * Recomputes the climatology cells the floats loaded since the last
   * recomputation changed: when `now`, or CLIMATOLOGY_FLUSH_MS after the
   * last one (between batches). A cell is recomputed from every float's
   * contribution to it, so doing it after every batch made a first load cost
   * the square of a crowded cell's float count; the marks are kept in
   * Postgres (climatology_dirty), so a load that stops between two
   * recomputations leaves them for the next load.
   */
  async function flush(now = false): Promise<void> {
    if (!pg || (!now && performance.now() - flushedAt < CLIMATOLOGY_FLUSH_MS)) return;
    const tp = performance.now();
    stats.climatology_cells_changed += await flushClimatology(pg);
    stats.timings_ms.postgres += since(tp);
    flushedAt = performance.now();
  }

  /** Records a float the lake's data does not allow to load; the targets keep what they hold of it. */
  function refuseFloat(id: string, why: string): void {
    // One line, whatever the reason quoted (DuckDB's errors point at SQL over several lines).
    const message = why.replace(/\s*\n\s*/g, " ");
    stats.floats_failed++;
    stats.errors.push({ float_id: id, error: message });
    llog.error("float refused", { float_id: id, error: message });
  }

    /**
   * Writes a batch's floats into Postgres in one transaction (one round trip
   * per statement for all of them); when that fails, each float alone, so
   * only the float at fault fails. Each float's update stays whole.
   */
  async function postgresBatch(ready: FloatLoad[]): Promise<Map<string, PgFloatStats | Error>> {
    const tp = performance.now();
    const out = new Map<string, PgFloatStats | Error>();
    try {
      for (const [id, r] of await loadFloatsPostgres(pg!, ready, method)) out.set(id, r);
    } catch (err) {
      await assertReachable(pg, redis, config, err);
      for (const d of ready) {
        try {
          out.set(d.float.float_id, ready.length === 1 ? (err as Error) : await loadFloatPostgres(pg!, d, method));
        } catch (e) {
          await assertReachable(pg, redis, config, e);
          out.set(d.float.float_id, e as Error);
        }
      }
    }
    stats.timings_ms.postgres += since(tp);
    return out;
  }

  /** Loads one float into each target (Postgres's part given when its batch wrote it), or removes it from them when `data` is null. */
  async function loadOne(id: string, data: FloatLoad | null, inPostgres?: PgFloatStats | Error): Promise<void> {
    const flog = llog.child({ float_id: id });
    try {
      if (pg) {
        const tp = performance.now();
        if (data) {
          if (inPostgres instanceof Error) throw inPostgres;
          const r = inPostgres ?? (await loadFloatPostgres(pg, data, method));
          stats.profiles_inserted += r.profiles_inserted;
          stats.profiles_updated += r.profiles_updated;
          stats.profiles_unchanged += r.profiles_unchanged;
          stats.profiles_deleted += r.profiles_deleted;
          stats.climatology_contributions_changed += r.contributions_changed;
          flog.debug("float loaded into Postgres", { ...r });
        } else {
          const r = await removeFloatPostgres(pg, id);
          stats.profiles_deleted += r.profiles_deleted;
          stats.climatology_contributions_changed += r.contributions_changed;
        }
        stats.timings_ms.postgres += since(tp);
      }
      if (redis) {
        const tr = performance.now();
        if (data) {
          const geo = await writeHotFloat(redis, config.REDIS_PREFIX, config.REDIS_TTL, data.float, data.latest);
          stats.redis_floats_written++;
          if (data.latest) {
            stats.redis_latest_profiles++;
            stats.redis_levels_written += data.latest.measurements.length;
          }
          if (geo !== "indexed") stats.redis_geo_skipped++;
        } else {
          await removeHotFloat(redis, config.REDIS_PREFIX, id);
        }
        stats.timings_ms.redis += since(tr);
      }
      if (data) {
        stats.floats_loaded++;
        stats.profiles_read += data.profiles.length;
      } else {
        stats.floats_removed++;
        flog.info("float is not in the lake: removed from the load targets");
      }
    } catch (err) {
      // A target that went away fails every float after this one: stop now with its reason.
      await assertReachable(pg, redis, config, err);
      const message = err instanceof Error ? err.message : String(err);
      stats.floats_failed++;
      stats.errors.push({ float_id: id, error: message });
      flog.error("float failed to load", { error: message });
    }
  }
}

/** The load's DuckDB session, with {@link LOAD_DUCKDB_SETTINGS}. */
async function openLoadSession(): Promise<DuckSession> {
  const session = await openDuckDB({ threads: LOAD_DUCKDB_SETTINGS.threads });
  await session.run(`SET memory_limit = '${LOAD_DUCKDB_SETTINGS.memory_limit}'`);
  await session.run(`SET enable_external_file_cache = ${LOAD_DUCKDB_SETTINGS.enable_external_file_cache}`);
  return session;
}

/**
 * Reads a batch's floats from the lake. When the batch cannot be read (a
 * damaged Parquet file fails the whole query), each float is read alone, so
 * only the floats whose files fail are refused.
 */
async function readBatch(con: Parameters<typeof readFloatLoads>[0], files: LakeFiles, ids: string[]): Promise<BatchLoads> {
  try {
    await focusOnFloats(con, files, ids);
    return await readFloatLoads(con);
  } catch (err) {
    if (!(err instanceof ArgoLakeError) || ids.length === 0) throw err;
    if (ids.length === 1) return { loads: new Map(), refused: new Map([[ids[0]!, err.message]]) };
  }
  const out: BatchLoads = { loads: new Map(), refused: new Map() };
  for (const id of ids) {
    const one = await readBatch(con, files, [id]);
    for (const [k, v] of one.loads) out.loads.set(k, v);
    for (const [k, v] of one.refused) out.refused.set(k, v);
  }
  return out;
}

/** Floats the targets hold (of the selected DACs), for a full load's removals. */
async function targetFloatIds(pg: PgClient | null, redis: Redis | null, config: Config, dacs: Set<string>): Promise<string[]> {
  const ids = new Set<string>();
  if (pg) {
    for (const id of await postgresFloatIds(pg, dacs.size ? [...dacs] : null)) ids.add(id);
  }
  if (redis) {
    for (const id of await hotFloatIds(redis, config.REDIS_PREFIX, dacs.size ? [...dacs] : null)) ids.add(id);
  }
  return [...ids].sort();
}

/**
 * After a failed float: if Postgres or Redis no longer answers, throws a
 * LoadError saying which target is down; otherwise returns (the failure was
 * the float's own).
 */
async function assertReachable(pg: PgClient | null, redis: Redis | null, config: Config, cause: unknown): Promise<void> {
  if (pg) {
    try {
      await pg.query("SELECT 1");
    } catch (err) {
      throw new LoadError(
        `lost the connection to Postgres at ${describeDatabase(config.DATABASE_URL!)}: ${pgMessage(cause)} (then: ${pgMessage(err)})`,
        { target: "postgres", unreachable: true },
        { cause },
      );
    }
  }
  if (redis) {
    try {
      await redis.ping();
    } catch (err) {
      throw new LoadError(
        `lost the connection to Redis at ${describeRedis(config.REDIS_URL!)}: ${(cause as Error).message} (then: ${(err as Error).message})`,
        { target: "redis", unreachable: true },
        { cause },
      );
    }
  }
}
