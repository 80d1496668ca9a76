/**
 * The run lock, both kinds: a lake object (local directory and S3 through
 * s3rver) and a Postgres advisory lock (a database of this file's own).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { S3LakeStore } from "../lib/lake/s3.ts";
import type { LakeStore } from "../lib/lake/store.ts";
import { lockKey } from "../lib/lake/layout.ts";
import { LakeLock, PgAdvisoryLock } from "../lib/schedule/lock.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

let dir: TempDir;
let s3: TestS3;
let db: TestDatabase;

beforeAll(async () => {
  dir = await tempDir("lock");
  s3 = await startS3();
  db = await createTestDatabase("schedule_lock");
});
afterAll(async () => {
  await db?.drop();
  await s3?.stop();
  await dir?.cleanup();
});

/** Several locks on one scope ask at the same moment: exactly one may win, and only it. */
async function race(store: LakeStore, scope: string, n: number): Promise<boolean[]> {
  const locks = Array.from({ length: n }, () => new LakeLock(store, scope, { settleMs: 400, ttlMs: 10_000 }));
  const got = await Promise.all(locks.map((l) => l.tryAcquire()));
  const winner = locks[got.indexOf(true)];
  if (winner) {
    const held = await winner.read();
    expect(held?.pid).toBe(process.pid);
    await winner.release();
  }
  for (const l of locks) await l.release();
  return got;
}

describe("lake lock", () => {
  it("lets exactly one of several simultaneous takers win, on a local lake and on S3", async () => {
    const local = new LocalLakeStore(dir.path);
    const remote = new S3LakeStore(s3.client, s3.bucket, "lake");
    for (const store of [local, remote]) {
      for (let round = 0; round < 2; round++) {
        const got = await race(store, "scheduler", 4);
        expect(got.filter(Boolean)).toHaveLength(1);
        // Released: the object is gone and the next taker gets it at once.
        expect(await store.get(lockKey("scheduler"))).toBeNull();
      }
    }
  });

  it("refuses a live lock, takes over an expired one, and keeps scopes apart", async () => {
    const store = new LocalLakeStore(dir.path);
    const a = new LakeLock(store, "scope-a", { settleMs: 20, ttlMs: 60_000 });
    const b = new LakeLock(store, "scope-a", { settleMs: 20, ttlMs: 60_000 });
    const other = new LakeLock(store, "scope-b", { settleMs: 20, ttlMs: 60_000 });
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(await other.tryAcquire()).toBe(true);
    await other.release();
    await a.release();
    expect(await b.tryAcquire()).toBe(true);
    await b.release();

    // A holder that died long ago: its object has expired, so it no longer blocks anyone.
    await store.put(lockKey("scope-a"), enc({ owner: "dead", host: "gone", pid: 1, acquired_at: "2020-01-01T00:00:00Z", expires_at: "2020-01-01T00:02:00Z" }));
    expect(await a.tryAcquire()).toBe(true);
    expect((await a.read())?.owner).not.toBe("dead");
    await a.release();
  });

  it("renews a held lock, and a holder that was taken over learns it and leaves the new owner's object alone", async () => {
    const store = new LocalLakeStore(dir.path);
    const a = new LakeLock(store, "renew", { settleMs: 10, ttlMs: 1000 });
    expect(await a.tryAcquire()).toBe(true);
    const first = (await a.read())!;
    await sleep(1300); // longer than the TTL: only renewal keeps it alive
    const renewed = (await a.read())!;
    expect(renewed.owner).toBe(first.owner);
    expect(Date.parse(renewed.expires_at)).toBeGreaterThan(Date.parse(first.expires_at));
    expect(await new LakeLock(store, "renew", { settleMs: 10 }).tryAcquire()).toBe(false);

    // Someone else's object replaces ours (as after a long stall past the TTL).
    const intruder = { owner: "intruder", host: "h", pid: 2, acquired_at: new Date().toISOString(), expires_at: new Date(Date.now() + 60_000).toISOString() };
    await store.put(lockKey("renew"), enc(intruder));
    // The next renewal (every third of the TTL) finds the object is not ours; a busy machine may delay it by seconds.
    for (let i = 0; i < 400 && !a.lost.aborted; i++) await sleep(50);
    expect(a.lost.aborted).toBe(true);
    await a.release();
    expect((await a.read())?.owner).toBe("intruder");
  });
});

describe("postgres advisory lock", () => {
  it("is exclusive per scope across connections and free again after release", async () => {
    const a = new PgAdvisoryLock(db.url, "scheduler");
    const b = new PgAdvisoryLock(db.url, "scheduler");
    const c = new PgAdvisoryLock(db.url, "shard-0-of-2");
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(await c.tryAcquire()).toBe(true);
    const held = await db.pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND granted");
    expect(held.rows[0].n).toBe(2);
    await a.release();
    expect(await b.tryAcquire()).toBe(true);
    await b.release();
    await c.release();
    const after = await db.pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    expect(after.rows[0].n).toBe(0);
  });

  it("fires `lost` when its connection dies, and the server frees the lock", async () => {
    const a = new PgAdvisoryLock(db.url, "dies");
    expect(await a.tryAcquire()).toBe(true);
    await db.pool.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'argo-lake dies'",
    );
    for (let i = 0; i < 50 && !a.lost.aborted; i++) await sleep(50);
    expect(a.lost.aborted).toBe(true);
    const b = new PgAdvisoryLock(db.url, "dies");
    expect(await b.tryAcquire()).toBe(true);
    await b.release();
    await a.release();
  });
});
