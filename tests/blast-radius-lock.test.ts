/**
 * The scheduler's lock cannot be held for ever by one bad record, and a lock
 * that really is stuck is reported rather than skipped on every tick.
 * `schedule --once --job sync` runs as a process against the fixture mirror
 * with a lock object planted in the lake (or a Postgres advisory lock held by
 * this test): a record with an absurd expiry, or whose owner process on this
 * host is gone, is taken over with a logged reason and the run lands exactly
 * what a clean run lands; a live holder past LOCK_STUCK_AFTER fails the tick
 * by name (exit 1) and nothing runs; below it, the tick is skipped (exit 0).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type LakeEntry } from "./support/compare.ts";
import { fixturesDir, type TempDir } from "./support/fixtures.ts";
import { lakeDir, rawByFloat } from "./support/blast-radius.ts";
import { type JobResult, runJobProcess } from "./support/jobs.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

const WMO = "13857";
const temps: TempDir[] = [];
let clean: Record<string, LakeEntry>;
let db: TestDatabase;

async function lake(name: string): Promise<string> {
  const t = await lakeDir(name);
  temps.push(t);
  return t.path;
}

function once(dir: string, env: Record<string, string> = {}): Promise<JobResult> {
  return runJobProcess("schedule", ["--once", "--job", "sync", "--float", WMO], {
    env: { GDAC_BASE_URL: fixturesDir, LAKE_URL: dir, ...env },
    timeoutMs: 60_000,
  });
}

/** Plants locks/scheduler.json as another process would have written it. */
async function plant(dir: string, record: Record<string, unknown>): Promise<void> {
  await mkdir(join(dir, "locks"), { recursive: true });
  await writeFile(join(dir, "locks", "scheduler.json"), JSON.stringify(record));
}

const iso = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();

beforeAll(async () => {
  db = await createTestDatabase("blast_lock");
  const dir = await lake("clean");
  const r = await once(dir);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  clean = (await rawByFloat(dir)).get(WMO)!;
  expect(Object.keys(clean).length).toBeGreaterThan(0);
});

afterAll(async () => {
  await db?.drop();
  for (const t of temps) await t.cleanup();
});

describe("a lock record that would hold the lock for ever is taken over", { timeout: 180_000 }, () => {
  test("an expiry in the year 9999 (another host): taken over with its reason; the run lands what a clean run lands and frees the lock", async () => {
    const dir = await lake("absurd");
    await plant(dir, { owner: "wedged", host: "elsewhere", pid: 4242, acquired_at: iso(-60_000), expires_at: "9999-12-31T23:59:59.000Z" });
    const r = await once(dir);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toMatch(/"msg":"lake lock has an absurd expiry: taken over".*"holder":"elsewhere\/4242","expires_at":"9999-12-31T23:59:59.000Z"/);
    expect((await rawByFloat(dir)).get(WMO)).toEqual(clean);
    expect(existsSync(join(dir, "locks", "scheduler.json"))).toBe(false);
  });

  test("an owner on this host whose process is gone (its expiry still ahead): taken over; the run lands what a clean run lands", async () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    const dir = await lake("dead-owner");
    await plant(dir, { owner: "gone", host: hostname(), pid: dead, acquired_at: iso(-30_000), expires_at: iso(90_000) });
    const r = await once(dir);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toContain(`"msg":"lake lock holder's process is gone: taken over"`);
    expect(r.stderr).toContain(`"holder":"${hostname()}/${dead}"`);
    expect((await rawByFloat(dir)).get(WMO)).toEqual(clean);
  });
});

describe("a stuck lock is reported, not skipped silently on every tick", { timeout: 180_000 }, () => {
  test("a live holder (renewed expiry) that has held the lake lock for 48 h: the tick fails by name, exit 1, nothing runs; within LOCK_STUCK_AFTER it is skipped", async () => {
    const dir = await lake("stuck");
    await plant(dir, { owner: "slow", host: "elsewhere", pid: 4242, acquired_at: iso(-48 * 3600_000), expires_at: iso(100_000) });
    const r = await once(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(
      `run lock stuck: expected lake lock ${dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}/locks/scheduler\\.json to be held for at most LOCK_STUCK_AFTER=86400 s, ` +
        "found it held by process 4242 on elsewhere \\(owner slow\\) since \\S+ \\(48 h\\); not taken over",
    ));
    expect((await rawByFloat(dir)).size).toBe(0);
    const skipped = await once(dir, { LOCK_STUCK_AFTER: String(72 * 3600) });
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toMatch(/is held by another process/);
    expect((await rawByFloat(dir)).size).toBe(0);
  });

  test("a Postgres advisory lock held past LOCK_STUCK_AFTER is reported with its backend; nothing runs", async () => {
    const holder = new pg.Client({ connectionString: db.url, application_name: "wedged-holder" });
    await holder.connect();
    try {
      expect((await holder.query("SELECT pg_try_advisory_lock(hashtextextended('argo-lake:scheduler', 0)) AS ok")).rows[0].ok).toBe(true);
      const pid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      await new Promise((r) => setTimeout(r, 1500));
      const dir = await lake("stuck-pg");
      const r = await once(dir, { DATABASE_URL: db.url, LOCK_STUCK_AFTER: "1" });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(
        `run lock stuck: expected postgres advisory lock argo-lake:scheduler to be held for at most LOCK_STUCK_AFTER=1 s, found it held by Postgres backend ${pid} \\(wedged-holder from 127\\.0\\.0\\.1/32\\) since `,
      ));
      expect((await rawByFloat(dir)).size).toBe(0);
    } finally {
      await holder.end();
    }
  });
});
