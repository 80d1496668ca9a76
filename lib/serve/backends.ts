/**
 * The API's read-only handles on Redis, Postgres and the lake. Each is opened
 * once and kept; each call is bounded in time, and a backend that is down or
 * not configured turns into a 503 naming it (lib/serve/http.ts), so the
 * endpoints that do not need it keep answering.
 */
import { type DuckDBConnection, type DuckDBInstance, DuckDBTypeId, type DuckDBResultReader } from "@duckdb/node-api";
import { Redis } from "ioredis";
import pg from "pg";
import type { Config } from "../config.ts";
import { float32ToShortest } from "../argo/decode.ts";
import { createLakeViews, openDuckDB } from "../duckdb.ts";
import { syncParquetCache, defaultCacheDir } from "../lake/cache.ts";
import { tablePrefix } from "../lake/layout.ts";
import { openLake } from "../lake/open.ts";
import type { LakeStore } from "../lake/store.ts";
import { pgMessage } from "../db/postgres.ts";
import { HttpError, unavailable } from "./http.ts";

/** Bound on one Redis command while serving: a hung Redis costs a request this long, then a 503. */
const REDIS_COMMAND_MS = 2_000;
/** Bound on one Postgres statement while serving. */
const PG_STATEMENT_MS = 5_000;

/**
 * A Redis client for serving: it connects in the background and keeps
 * reconnecting, and while it is disconnected commands fail at once (no
 * offline queue) instead of piling up behind the outage.
 */
export function serveRedis(url: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    // Commands of concurrent requests issued in the same tick go out in one write.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: REDIS_COMMAND_MS,
    retryStrategy: (times) => Math.min(100 * times, 1_000),
  });
  redis.on("error", () => {});
  return redis;
}

/** A read-only Postgres pool for serving, with bounded connects and statements. */
export function servePostgres(url: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    query_timeout: PG_STATEMENT_MS,
    statement_timeout: PG_STATEMENT_MS,
    application_name: "argo-lake-serve",
    options: "-c TimeZone=UTC -c default_transaction_read_only=on",
  });
  pool.on("error", () => {});
  return pool;
}

/** SQLSTATE classes of a database that is there and answered: an error of ours, not an outage. */
const ANSWERED = /^(22|23|42(?!P01))/;

/** Runs a backend call; an outage (connection refused, reset, timeout) becomes a 503 naming the service. */
export async function guard<T>(service: "redis" | "postgres", fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    const code = (err as { code?: string }).code ?? "";
    if (service === "postgres" && ANSWERED.test(code)) throw err;
    const reason = service === "postgres"
      ? code === "42P01" ? "the serving tables are not there yet (run the load first)" : pgMessage(err)
      : (err as Error).message;
    throw unavailable(service, reason);
  }
}

/** Rows of a lake query, JSON-ready: FLOAT columns as the file holds them, timestamps as ISO UTC, BIGINT as numbers. */
export function lakeRows(reader: DuckDBResultReader): Record<string, unknown>[] {
  const names = reader.columnNames();
  const types = reader.columnTypes().map((t) => t.typeId);
  return reader.getRowsJson().map((row) => {
    const out: Record<string, unknown> = {};
    row.forEach((v, i) => {
      const t = types[i];
      let x: unknown = v;
      if (v !== null && t === DuckDBTypeId.FLOAT) x = Number.isNaN(Number(v)) ? null : float32ToShortest(Number(v));
      else if (v !== null && (t === DuckDBTypeId.TIMESTAMP || t === DuckDBTypeId.TIMESTAMP_TZ)) {
        // DuckDB prints a TIMESTAMPTZ with a bare hour offset ("+00"): make it ISO 8601 ("+00:00").
        const text = String(v).replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00");
        x = new Date(/Z|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`).toISOString();
      }
      else if (v !== null && (t === DuckDBTypeId.BIGINT || t === DuckDBTypeId.HUGEINT) && Number.isSafeInteger(Number(v))) x = Number(v);
      else if (typeof v === "number" && Number.isNaN(v)) x = null;
      out[names[i]!] = x;
    });
    return out;
  });
}

/** SQL over the lake's views with bound parameters. */
export interface LakeQuery {
  all(sql: string, params?: (string | number)[]): Promise<Record<string, unknown>[]>;
}

/** Runs one statement on its own connection of an instance (connections run one statement at a time). */
export async function queryInstance(instance: DuckDBInstance, sql: string, params: (string | number)[] = []): Promise<Record<string, unknown>[]> {
  const conn: DuckDBConnection = await instance.connect();
  try {
    return lakeRows(await conn.runAndReadAll(sql, params));
  } finally {
    conn.closeSync();
  }
}

/** How long the lake's views are trusted before their file lists are read again. */
const LAKE_REFRESH_MS = 60_000;

/**
 * The lake through DuckDB for serving: one in-memory instance with the lake's
 * views, made on first use and made again every minute (a table that had no
 * file, or a new parameter column, then shows). An S3 lake is read through
 * the local cache of its Parquet files. Read only: nothing is written to the lake.
 */
export class LakeReader implements LakeQuery {
  #opened: Promise<{ instance: DuckDBInstance; at: number; close(): void }> | null = null;
  readonly store: LakeStore;
  constructor(config: Config) {
    this.store = openLake(config);
  }

  async #open() {
    const session = await openDuckDB({ threads: 2 });
    try {
      if (this.store.localRoot) await createLakeViews(session, this.store.localRoot);
      else {
        const { stats, snapshot } = await syncParquetCache(this.store, defaultCacheDir(this.store));
        await createLakeViews(session, stats.root, snapshot.sources);
      }
      return { instance: session.instance, at: Date.now(), close: () => session.close() };
    } catch (err) {
      session.close();
      throw err;
    }
  }

  async #session() {
    if (this.#opened) {
      const prior = await this.#opened.catch(() => null);
      if (prior && Date.now() - prior.at < LAKE_REFRESH_MS) return prior;
      // Let queries still running on the old instance finish before it goes.
      if (prior) setTimeout(() => prior.close(), 30_000).unref?.();
    }
    this.#opened = this.#open();
    try {
      return await this.#opened;
    } catch (err) {
      this.#opened = null;
      throw unavailable("lake", `cannot open the lake at ${this.store.description}: ${(err as Error).message}`);
    }
  }

  async all(sql: string, params: (string | number)[] = []): Promise<Record<string, unknown>[]> {
    const s = await this.#session();
    return queryInstance(s.instance, sql, params);
  }

  /** Whether the lake can be listed (for /healthz). */
  async reachable(): Promise<void> {
    await this.store.list(tablePrefix("floats"));
  }

  async close(): Promise<void> {
    const s = await this.#opened?.catch(() => null);
    s?.close();
    await this.store.close();
  }
}

/** Everything the API reads from; absent when not configured. */
export interface Backends {
  config: Config;
  redis: Redis | null;
  postgres: pg.Pool | null;
  lake: LakeReader;
  /** Waits (at most `ms`) for Redis to be connected, so the first requests do not find it still connecting. */
  ready(ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens the backends a configuration names (without waiting for Redis or Postgres to answer). */
export function openBackends(config: Config): Backends {
  const redis = config.REDIS_URL ? serveRedis(config.REDIS_URL) : null;
  const postgres = config.DATABASE_URL ? servePostgres(config.DATABASE_URL) : null;
  const lake = new LakeReader(config);
  return {
    config,
    redis,
    postgres,
    lake,
    async ready(ms = 2_000) {
      if (!redis || redis.status === "ready") return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => redis.once("ready", () => resolve())),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
      ]);
      clearTimeout(timer);
    },
    async close() {
      redis?.disconnect();
      await postgres?.end().catch(() => {});
      await lake.close();
    },
  };
}
