/**
 * The run lock: at most one process runs a given scope (all floats, or one
 * shard) at a time, across machines. Two implementations:
 *
 * - Postgres (when DATABASE_URL is set): a session advisory lock,
 *   `pg_try_advisory_lock(hashtextextended('argo-lake:<name>', 0))`, held on
 *   a connection of its own for the length of a run. Postgres frees it when
 *   the holder's connection ends, so a killed process never leaves it behind.
 *
 * - The lake (otherwise): an object `locks/<name>.json` holding an owner id
 *   and an expiry. See LakeLock for the protocol and its race window.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import process from "node:process";
import pg from "pg";
import { z } from "zod";
import type { Config } from "../config.ts";
import { describeDatabase, pgMessage } from "../db/postgres.ts";
import { lockKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";

/** A lock on one scope. A lock object is used for one acquire/release pair at a time. */
export interface RunLock {
  /** What is locked, for logs: e.g. "postgres advisory lock argo-lake:scheduler". */
  readonly description: string;
  /** Takes the lock if it is free; false when another process holds it. Never waits. */
  tryAcquire(): Promise<boolean>;
  /** Fires when a held lock is lost (connection dropped, object taken over): the run must stop. */
  readonly lost: AbortSignal;
  /** Gives the lock back; safe to call when not held. */
  release(): Promise<void>;
  /** Who holds the lock now and since when, as far as can be told; null when nobody does. */
  holder(): Promise<LockHolder | null>;
}

/** The holder of a lock, for reports. */
export interface LockHolder {
  /** Host and process (lake lock), or the Postgres backend and its client (advisory lock). */
  who: string;
  /** When the holder took the lock (ISO UTC), or null when unknown. */
  since: string | null;
}

/**
 * Why a lock this process could not take counts as stuck, or null: its
 * holder has had it for longer than `maxHoldMs` (LOCK_STUCK_AFTER). A stuck
 * lock is reported (the tick fails by name, exit 1 with --once) rather than
 * skipped silently on every tick; it is not taken over, since its holder may
 * still be writing.
 */
export async function stuckLock(lock: RunLock, maxHoldMs: number, now = Date.now()): Promise<string | null> {
  const h = await lock.holder().catch(() => null);
  const since = h?.since ? Date.parse(h.since) : NaN;
  if (!h || !(now - since > maxHoldMs)) return null;
  const hours = Math.round((now - since) / 360_000) / 10;
  return `run lock stuck: expected ${lock.description} to be held for at most LOCK_STUCK_AFTER=${maxHoldMs / 1000} s, found it held by ${h.who} since ${h.since} (${hours} h); ` +
    "not taken over: stop that process (or remove the lock once it is gone)";
}

/** The lock object's content. */
export const LockFileSchema = z.object({
  owner: z.string(),
  host: z.string(),
  pid: z.number().int(),
  acquired_at: z.string(),
  expires_at: z.string(),
});
export type LockFile = z.infer<typeof LockFileSchema>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Postgres session advisory lock, on a connection opened for the run. */
export class PgAdvisoryLock implements RunLock {
  readonly description: string;
  private client: pg.Client | null = null;
  private lostController = new AbortController();

  constructor(private readonly databaseUrl: string, private readonly name: string, private readonly log?: Logger) {
    this.description = `postgres advisory lock argo-lake:${name}`;
  }

  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.client) throw new Error(`${this.description} is already held by this process`);
    this.lostController = new AbortController();
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: `argo-lake ${this.name}`,
      connectionTimeoutMillis: 10_000,
      // TCP keepalive, so a connection to a vanished server errors (and `lost` fires) instead of idling on.
      keepAlive: true,
    });
    // A dropped connection frees the lock on the server: whoever runs under it must stop.
    client.on("error", (err) => {
      this.log?.error("lock connection lost; stopping the run", { lock: this.description, error: err.message });
      this.lostController.abort(new Error(`${this.description} lost: ${err.message}`));
    });
    try {
      await client.connect();
      const res = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok",
        [`argo-lake:${this.name}`],
      );
      if (res.rows[0]?.ok) {
        this.client = client;
        return true;
      }
    } catch (err) {
      await client.end().catch(() => {});
      throw new Error(`cannot reach Postgres at ${describeDatabase(this.databaseUrl)}: ${pgMessage(err)}`, { cause: err });
    }
    await client.end().catch(() => {});
    return false;
  }

  async holder(): Promise<LockHolder | null> {
    const client = new pg.Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 10_000 });
    try {
      await client.connect();
      // A bigint advisory key is stored as classid (high 32 bits) and objid (low 32 bits).
      const res = await client.query<{ pid: number; application_name: string; client_addr: string | null; backend_start: Date }>(
        `SELECT a.pid, a.application_name, a.client_addr::text AS client_addr, a.backend_start
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid,
                (SELECT hashtextextended($1, 0) AS k) key
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.classid::text::bigint = ((key.k >> 32) & 4294967295) AND l.objid::text::bigint = (key.k & 4294967295)`,
        [`argo-lake:${this.name}`],
      );
      const r = res.rows[0];
      if (!r) return null;
      return { who: `Postgres backend ${r.pid} (${r.application_name || "?"} from ${r.client_addr ?? "local socket"})`, since: r.backend_start.toISOString() };
    } finally {
      await client.end().catch(() => {});
    }
  }

  async release(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    // Ending the session frees the lock anyway, so a failed unlock (dead connection) is no error.
    if (!this.lost.aborted) {
      await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [`argo-lake:${this.name}`]).catch(() => {});
    }
    await client.end().catch(() => {});
  }
}

export interface LakeLockOptions {
  /** How long a lock object stays valid without renewal (ms). */
  ttlMs?: number;
  /** How long to wait after writing before re-reading to confirm ownership (ms). */
  settleMs?: number;
  log?: Logger;
}

/**
 * A lock object in the lake, `locks/<name>.json`: { owner, host, pid,
 * acquired_at, expires_at }. The LakeStore has no conditional put, so:
 *
 * 1. read it; if another owner's lock has not expired, give up;
 * 2. write our own, wait `settleMs`, read it again: we hold the lock only if
 *    the object still names us (the last writer wins, everyone else backs off);
 * 3. while held, rewrite it every ttl/4 with a new expiry, checking first
 *    that it still names us; if not, `lost` fires and the run stops;
 * 4. on release, delete it if it still names us.
 *
 * The race window, honestly: two processes both hold the lock only if one of
 * them takes longer than `settleMs` between its read (1) and the moment its
 * write becomes visible (2), e.g. a process paused mid-acquire or an S3 PUT
 * slower than settleMs; and after a holder stalls for longer than the TTL, a
 * second process may take over while the first still runs (the first learns
 * it at its next renewal). Expiry compares wall clocks of different machines,
 * so their skew must stay well below the TTL. When that is not acceptable,
 * set DATABASE_URL: the Postgres lock has no such window.
 */
export class LakeLock implements RunLock {
  readonly description: string;
  readonly key: string;
  private readonly ttlMs: number;
  private readonly settleMs: number;
  private owner: string | null = null;
  private renewTimer: ReturnType<typeof setInterval> | null = null;
  private renewing: Promise<void> = Promise.resolve();
  private lostController = new AbortController();

  constructor(private readonly store: LakeStore, name: string, private readonly opts: LakeLockOptions = {}) {
    this.key = lockKey(name);
    this.ttlMs = opts.ttlMs ?? 120_000;
    this.settleMs = opts.settleMs ?? 1_000;
    this.description = `lake lock ${store.description.replace(/\/+$/, "")}/${this.key}`;
  }

  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  /** The lock object as stored now, or null. An unreadable object counts as absent, so it cannot wedge the lake. */
  async read(): Promise<LockFile | null> {
    const bytes = await this.store.get(this.key);
    if (!bytes) return null;
    try {
      return LockFileSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    } catch {
      return null;
    }
  }

  private async write(owner: string, acquiredAt: string): Promise<void> {
    const now = Date.now();
    const body: LockFile = {
      owner,
      host: hostname(),
      pid: process.pid,
      acquired_at: acquiredAt,
      expires_at: new Date(now + this.ttlMs).toISOString(),
    };
    await this.store.put(this.key, new TextEncoder().encode(JSON.stringify(body)));
  }

  async tryAcquire(): Promise<boolean> {
    if (this.owner) throw new Error(`${this.description} is already held by this process`);
    this.lostController = new AbortController();
    const current = await this.read();
    if (current && !this.stale(current)) return false;
    const owner = randomUUID();
    const acquiredAt = new Date().toISOString();
    await this.write(owner, acquiredAt);
    await sleep(this.settleMs);
    if ((await this.read())?.owner !== owner) return false;
    this.owner = owner;
    let busy = false;
    this.renewTimer = setInterval(() => {
      // One renewal at a time: a slow store must not pile them up.
      if (busy) return;
      busy = true;
      this.renewing = this.renew(owner, acquiredAt).finally(() => (busy = false));
    }, Math.max(10, Math.floor(this.ttlMs / 4)));
    return true;
  }

  /**
   * Whether a lock object no longer holds the lock: expired, or not to be
   * believed. An expiry further ahead than twice the TTL (plus a minute of
   * clock skew) was never written by a renewing holder, and a holder on this
   * host whose process is gone can renew nothing: either would otherwise keep
   * the lock for ever.
   */
  private stale(current: LockFile): boolean {
    const now = Date.now();
    const expires = Date.parse(current.expires_at);
    if (!(expires > now)) return true;
    if (expires > now + 2 * this.ttlMs + 60_000) {
      this.opts.log?.warn("lake lock has an absurd expiry: taken over", { lock: this.description, holder: `${current.host}/${current.pid}`, expires_at: current.expires_at });
      return true;
    }
    if (current.host === hostname() && current.pid !== process.pid && !processAlive(current.pid)) {
      this.opts.log?.warn("lake lock holder's process is gone: taken over", { lock: this.description, holder: `${current.host}/${current.pid}`, expires_at: current.expires_at });
      return true;
    }
    return false;
  }

  async holder(): Promise<LockHolder | null> {
    const current = await this.read();
    if (!current || this.stale(current)) return null;
    return { who: `process ${current.pid} on ${current.host} (owner ${current.owner})`, since: current.acquired_at };
  }

  private async renew(owner: string, acquiredAt: string): Promise<void> {
    if (this.owner !== owner) return;
    try {
      const current = await this.read();
      if (current?.owner !== owner) {
        this.stopRenewing();
        this.owner = null;
        this.opts.log?.error("lake lock taken over by another process; stopping the run", { lock: this.description, holder: current?.owner });
        this.lostController.abort(new Error(`${this.description} was taken over by ${current?.owner ?? "nobody (deleted)"}`));
        return;
      }
      await this.write(owner, acquiredAt);
    } catch (err) {
      // A failed renewal is retried at the next tick; the TTL leaves room for three more.
      this.opts.log?.warn("cannot renew the lake lock", { lock: this.description, error: (err as Error).message });
    }
  }

  private stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  async release(): Promise<void> {
    const owner = this.owner;
    this.stopRenewing();
    await this.renewing;
    this.owner = null;
    if (!owner) return;
    // Deleting another owner's object would hand the lock to a third process: check first.
    if ((await this.read())?.owner === owner) await this.store.delete(this.key);
  }
}

/**
 * Whether a process of this host is alive. Only "no such process" counts as
 * dead: a permission error, or a runtime that may not send signals, leaves
 * the lock to its expiry.
 */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code !== "ESRCH";
  }
}

/** The lock's name for a run scope: "scheduler" for all floats, "scheduler-shard-i-of-n" for a shard. */
export const lockName = (scope: string): string => (scope === "all" ? "scheduler" : `scheduler-${scope}`);

/**
 * The lock for a run scope under a config: Postgres when DATABASE_URL is set,
 * the lake (locks/scheduler.json, locks/scheduler-shard-i-of-n.json) otherwise.
 */
export function openRunLock(config: Config, store: LakeStore, scope: string, opts: LakeLockOptions = {}): RunLock {
  return openLock(config, store, lockName(scope), opts);
}

/** A named lock (e.g. "compact"): Postgres when DATABASE_URL is set, the lake's locks/<name>.json otherwise. */
export function openLock(config: Config, store: LakeStore, name: string, opts: LakeLockOptions = {}): RunLock {
  return config.DATABASE_URL ? new PgAdvisoryLock(config.DATABASE_URL, name, opts.log) : new LakeLock(store, name, opts);
}
