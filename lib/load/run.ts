/**
 * The load stage: aggregates computed by DuckDB over the lake, written to
 * Postgres (DATABASE_URL) and the Redis hot layer (REDIS_URL). Either target
 * may be unset, and is then skipped with one log line: the lake alone is a
 * valid deployment.
 *
 * Floats are read from the lake a batch (BATCH_SIZE) at a time and written
 * one float per Postgres transaction and per Redis script; after each batch
 * the climatology cells its floats changed are recomputed, once. A float
 * that the targets hold but the lake no longer does is removed from them:
 * with explicit float ids, any of those not in the lake; on a full load,
 * every float of the selected DACs and shard that is not in the lake; but
 * never from a lake path that does not exist, and never more than the
 * removal guard allows (lib/removal-guard.ts). A float whose lake rows are
 * defective (two rows for one profile, an unreadable file, files under two
 * DACs) is refused alone: the targets keep its last good rows.
 */
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { openDuckDB } from "../duckdb.ts";
import { ArgoLakeError, LoadError } from "../errors.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { flushClimatology, type InsertMethod, loadFloatPostgres, postgresFloatIds, removeFloatPostgres, syncPressureBands } from "../db/loader.ts";
import { connectPostgres, describeDatabase, migrate, type PgClient, pgMessage } from "../db/postgres.ts";
import { connectRedis, describeRedis, hotFloatIds, removeHotFloat, writeHotFloat } from "../db/redis.ts";
import type { FloatLoad } from "../db/rows.ts";
import { assertLakeExists, checkRemoval } from "../removal-guard.ts";
import { type BatchLoads, floatIdsOf, focusOnFloats, type LakeFiles, listLakeFiles, readFloatLoads, readPressureBands } from "./lake.ts";
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
}

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
    aborted: false,
    errors: [],
    start_time: new Date().toISOString(),
    end_time: "",
    duration_ms: 0,
    timings_ms: { lake: 0, postgres: 0, redis: 0 },
  };
}

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

  let pg: PgClient | null = null;
  let redis: Redis | null = null;
  const session = await openDuckDB({ threads: 2 });
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

    const explicit = opts.floatIds?.length ? opts.floatIds : config.FLOAT_IDS.length ? config.FLOAT_IDS : null;
    const dacs = new Set<string>(config.ARGO_DAC);
    const keep = (id: string) => !opts.shard || opts.shard(id);
    const named = explicit ? new Set(explicit) : null;

    const tl = performance.now();
    // Only the floats this load may touch are read: named ones, or this shard's.
    const local = await localLakeFor(store, llog, (id) => (!named || named.has(id)) && keep(id));
    const files = await listLakeFiles(local.store, local.root, local.snapshot);
    stats.timings_ms.lake += since(tl);
    const inLake = new Set(floatIdsOf(files));

    // Explicit ids are taken whatever their DAC; a full load takes the lake's floats of ARGO_DAC (all when unset).
    const wanted = (explicit ? [...new Set(explicit)].sort() : [...inLake].filter((id) => !dacs.size || dacs.has(files.dac.get(id)!)))
      .filter(keep);
    stats.floats_selected = wanted.length;
    // Floats under two DACs in the lake are refused whole: the targets keep their last good rows.
    for (const [id, under] of files.conflicts) {
      if (!explicit && !keep(id)) continue;
      if (explicit && !wanted.includes(id)) continue;
      refuseFloat(id, `float ${id} has Parquet files under ${under.length} DACs (${under.join(", ")}) in the lake: expected one; not loaded, its last good rows stay`);
    }

    // What the targets hold that the lake lost is removed, but never implausibly much at once.
    // (Explicit floats that are all in the lake remove nothing: the targets need not be asked.)
    const mayRemove = !explicit || wanted.some((id) => !inLake.has(id));
    const held = mayRemove ? (await targetFloatIds(pg, redis, config, explicit ? new Set() : dacs)).filter(keep) : [];
    const heldSet = new Set(held);
    const gone = explicit ? wanted.filter((id) => !inLake.has(id) && heldSet.has(id)) : held.filter((id) => !inLake.has(id));
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
      await focusOnFloats(session.conn, files, []);
      await syncPressureBands(pg, await readPressureBands(session.conn));
      // Cells a load that died left marked are recomputed before anything else.
      await flush();
    }

    const batchSize = Math.max(1, config.BATCH_SIZE);
    for (let i = 0; i < wanted.length && !opts.signal?.aborted; i += batchSize) {
      const batch = wanted.slice(i, i + batchSize);
      const tr = performance.now();
      const { loads, refused } = await readBatch(session.conn, files, batch.filter((id) => inLake.has(id)));
      stats.timings_ms.lake += since(tr);
      for (const id of batch) {
        if (opts.signal?.aborted) break;
        if (files.conflicts.has(id)) continue;
        const why = refused.get(id);
        if (why !== undefined) refuseFloat(id, `float ${id}: ${why}; not loaded, its last good rows stay`);
        else await loadOne(id, loads.get(id) ?? null);
      }
      await flush();
    }

    if (!explicit && !opts.signal?.aborted) {
      // A full load also removes what the targets hold of the selected DACs and shard that the lake lost.
      for (const id of gone) {
        if (!opts.signal?.aborted) await loadOne(id, null);
      }
      await flush();
    }
    stats.aborted = opts.signal?.aborted ?? false;
  } catch (err) {
    // Whatever failed, a target that went away is the reason to report.
    if (!(err instanceof ArgoLakeError && err.context.unreachable)) await assertReachable(pg, redis, config, err);
    if (err instanceof ArgoLakeError) throw err;
    throw new LoadError(`load failed: ${(err as Error).message}`, {}, { cause: err });
  } finally {
    session.close();
    await pg?.end().catch(() => {});
    redis?.disconnect();
  }

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

  /** Recomputes the climatology cells the floats loaded since the last call changed. */
  async function flush(): Promise<void> {
    if (!pg) return;
    const tp = performance.now();
    stats.climatology_cells_changed += await flushClimatology(pg);
    stats.timings_ms.postgres += since(tp);
  }

  /** Records a float the lake's data does not allow to load; the targets keep what they hold of it. */
  function refuseFloat(id: string, why: string): void {
    // One line, whatever the reason quoted (DuckDB's errors point at SQL over several lines).
    const message = why.replace(/\s*\n\s*/g, " ");
    stats.floats_failed++;
    stats.errors.push({ float_id: id, error: message });
    llog.error("float refused", { float_id: id, error: message });
  }

  /** Loads one float into each target, or removes it from them when `data` is null. */
  async function loadOne(id: string, data: FloatLoad | null): Promise<void> {
    const flog = llog.child({ float_id: id });
    try {
      if (pg) {
        const tp = performance.now();
        if (data) {
          const r = await loadFloatPostgres(pg, data, method);
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
