/**
 * Postgres: connecting, the versioned schema migrations and the job_runs
 * table. The serving schema is created and migrated by whoever connects
 * first (load, scheduler), under an advisory lock so two of them never race.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import pg from "pg";
import { z } from "zod";
import { LoadError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { runtimeName } from "../runtime.ts";

/** A connected Postgres client. */
export type PgClient = pg.Client;

/** The folder of migration files: NNNN_name.sql, applied in order of NNNN. */
const migrationsDir = new URL("./migrations/", import.meta.url);

/**
 * Key of the session advisory lock held while migrating (any constant shared
 * by every argo-lake process; "argolake" in ASCII).
 */
const MIGRATION_LOCK_KEY = 0x6172676f6c616b65n;

/** Where a database URL points, without credentials, for messages. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "(unparsable DATABASE_URL)";
  }
}

/**
 * Connects to Postgres with a bounded connect time, UTC session time zone
 * and an application name. A failure is a LoadError naming the server (never
 * the password) and the cause (refused, timeout, authentication...).
 */
export async function connectPostgres(url: string, opts: { connectTimeoutMs?: number } = {}): Promise<PgClient> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    application_name: "argo-lake",
    // A server that stops answering fails the statement instead of holding the job for ever;
    // the load's statements take well under a second each, the largest (a batch's climatology
    // cells) seconds.
    query_timeout: 120_000,
    keepAlive: true,
  });
  // A server that goes away between queries emits 'error' on the client; without a
  // listener that would crash the process instead of failing the next query.
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SET TIME ZONE 'UTC'");
  } catch (err) {
    await client.end().catch(() => {});
    throw new LoadError(
      `cannot connect to Postgres at ${describeDatabase(url)}: ${pgMessage(err)}`,
      { target: "postgres", unreachable: true },
      { cause: err },
    );
  }
  return client;
}

/** A readable one-line reason from a pg or socket error. */
export function pgMessage(err: unknown): string {
  const e = err as { code?: string; message?: string; errors?: { message?: string }[] };
  // AggregateError (IPv4 and IPv6 both refused) has an empty message and the reasons inside.
  const msg = e?.message || e?.errors?.map((x) => x.message).filter(Boolean).join("; ") || String(err);
  return e?.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** The migrations shipped with this code, in version order. */
export function listMigrations(): Migration[] {
  const files = readdirSync(migrationsDir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return files.map((f) => {
    const sql = readFileSync(new URL(f, migrationsDir), "utf8");
    return {
      version: Number(f.slice(0, 4)),
      name: f.slice(5, -4),
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    };
  });
}

/**
 * Brings the schema up to date: applies each migration not yet recorded in
 * schema_migrations, each in its own transaction, under a session advisory
 * lock (a second process waits, then finds nothing left to do). A recorded
 * migration whose file changed since is refused: the schema would no longer
 * be what the code expects. Returns the versions applied now.
 */
export async function migrate(client: PgClient, log?: Logger): Promise<number[]> {
  const applied: number[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
  } catch (err) {
    throw new LoadError(`cannot lock the schema for migration: ${pgMessage(err)}`, { target: "postgres" }, { cause: err });
  }
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Map<number, { name: string; checksum: string }>();
    for (const r of (await client.query("SELECT version, name, checksum FROM schema_migrations")).rows) {
      done.set(r.version, { name: r.name, checksum: r.checksum });
    }
    const known = listMigrations();
    for (const m of known) {
      const prior = done.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new LoadError(
            `migration ${m.version} (${m.name}) was applied with different content (checksum ${prior.checksum.slice(0, 12)} in the database, ${m.checksum.slice(0, 12)} here): refusing to run against a schema this code does not know`,
            { target: "postgres", migration: m.version },
          );
        }
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [m.version, m.name, m.checksum]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw new LoadError(`migration ${m.version} (${m.name}) failed: ${pgMessage(err)}`, { target: "postgres", migration: m.version }, { cause: err });
      }
      applied.push(m.version);
      log?.info("applied migration", { version: m.version, name: m.name });
    }
    const newest = Math.max(0, ...known.map((m) => m.version));
    const future = [...done.keys()].filter((v) => v > newest);
    if (future.length) {
      throw new LoadError(
        `the database has migrations this code does not know (${future.join(", ")}): it was migrated by a newer argo-lake`,
        { target: "postgres" },
      );
    }
  } catch (err) {
    if (err instanceof LoadError) throw err;
    throw new LoadError(`schema migration failed: ${pgMessage(err)}`, { target: "postgres" }, { cause: err });
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()]).catch(() => {});
  }
  return applied;
}

/** One job run as recorded in job_runs. */
export const JobRunSchema = z.object({
  run_id: z.string().min(1),
  job: z.string().min(1),
  status: z.enum(["running", "succeeded", "partial", "failed", "skipped"]),
  started_at: z.date(),
  ended_at: z.date().nullable().default(null),
  stats: z.record(z.string(), z.unknown()).default({}),
  error: z.string().nullable().default(null),
});
export type JobRun = z.input<typeof JobRunSchema>;

/**
 * Records a job run: inserts it, or updates the row with the same run_id
 * (so a job can record "running" when it starts and its outcome when it
 * ends). Migrates the schema first if needed.
 */
export async function recordJobRun(client: PgClient, run: JobRun): Promise<void> {
  const r = JobRunSchema.parse(run);
  try {
    await client.query(
      `INSERT INTO job_runs (run_id, job, status, started_at, ended_at, stats, error, runtime, host)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
       ON CONFLICT (run_id) DO UPDATE SET
         job = EXCLUDED.job, status = EXCLUDED.status, started_at = EXCLUDED.started_at,
         ended_at = EXCLUDED.ended_at, stats = EXCLUDED.stats, error = EXCLUDED.error,
         runtime = EXCLUDED.runtime, host = EXCLUDED.host`,
      [r.run_id, r.job, r.status, r.started_at, r.ended_at, JSON.stringify(r.stats, bigintSafe), r.error, runtimeName, hostname()],
    );
  } catch (err) {
    throw new LoadError(`cannot record job run ${r.run_id}: ${pgMessage(err)}`, { target: "postgres" }, { cause: err });
  }
}

/**
 * Records a job run given only a database URL: connects, migrates, records,
 * disconnects. For callers (scheduler, jobs) that hold no client.
 */
export async function recordJobRunAt(url: string, run: JobRun): Promise<void> {
  const client = await connectPostgres(url);
  try {
    await migrate(client);
    await recordJobRun(client, run);
  } finally {
    await client.end().catch(() => {});
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? Number(value) : value;
}

/** Options of {@link withAdvisoryLock}. */
export interface AdvisoryLockOptions {
  /** Longest wait for another holder before running unlocked (ms); 15 minutes by default. */
  maxWaitMs?: number;
  /** Stops waiting (the work then runs and sees the signal itself). */
  signal?: AbortSignal;
  /** Told why the work runs without the lock (Postgres unreachable, waited too long, stopping). */
  onUnlocked?: (reason: string) => void;
}

/**
 * Runs `work` while holding the session advisory lock
 * `hashtextextended('argo-lake:<name>', 0)` on a connection of its own,
 * waiting while another process holds it. For work that is correct run
 * twice at once but wasteful (shard workers fetching the same index): when
 * Postgres cannot be reached, or the holder keeps the lock past `maxWaitMs`,
 * the work runs anyway and `onUnlocked` says why. A holder that dies frees
 * the lock with its connection.
 */
export async function withAdvisoryLock<T>(url: string, name: string, work: () => Promise<T>, opts: AdvisoryLockOptions = {}): Promise<T> {
  const key = `argo-lake:${name}`;
  let client: PgClient | null = null;
  try {
    client = await connectPostgres(url, { connectTimeoutMs: 5_000 });
    const deadline = Date.now() + (opts.maxWaitMs ?? 15 * 60_000);
    for (;;) {
      const got = (await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [key])).rows[0]?.ok;
      if (got) break;
      if (opts.signal?.aborted || Date.now() > deadline) {
        opts.onUnlocked?.(opts.signal?.aborted ? "stopping" : `lock ${key} still held after ${opts.maxWaitMs ?? 900_000} ms`);
        await client.end().catch(() => {});
        client = null;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    opts.onUnlocked?.(`cannot take lock ${key}: ${(err as Error).message}`);
    await client?.end().catch(() => {});
    client = null;
  }
  try {
    return await work();
  } finally {
    // Ending the session frees the lock.
    await client?.end().catch(() => {});
  }
}
