/**
 * Outages of the load targets: with Postgres (or Redis) unreachable,
 * run-float fails in its load stage with exit code 1 and a reason, the lake
 * keeps what sync and parse wrote, and a re-run once the target is back
 * completes. Outages are made with a TCP proxy in front of the real server.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { LoadError } from "../lib/errors.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { runLoad } from "../lib/load/run.ts";
import { createLogger } from "../lib/log.ts";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { stagesOf } from "./support/runs.ts";
import { runJobProcess } from "./support/jobs.ts";
import { createTestDatabase, PG_PORT, startTcpProxy, type TcpProxy, type TestDatabase } from "./support/postgres.ts";
import { redisUrl, type TestRedis, testRedis } from "./support/redis.ts";
import { duckRows, lakeSession } from "./load-dump.ts";

const WMO = "5900865";
let db: TestDatabase;
let redis: TestRedis;
let proxy: TcpProxy;
const dirs: TempDir[] = [];

beforeAll(async () => {
  [db, redis, proxy] = await Promise.all([createTestDatabase("outage"), testRedis("outage"), startTcpProxy(PG_PORT)]);
});

afterAll(async () => {
  await proxy?.close();
  await redis?.cleanup();
  await db?.drop();
  for (const d of dirs) await d.cleanup();
});

async function newLake(): Promise<TempDir> {
  const d = await tempDir("outage");
  dirs.push(d);
  return d;
}

/** The lake's Parquet files and their bytes, by key. */
async function lakeFiles(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const o of await new LocalLakeStore(root).list("parquet/")) {
    out.set(o.key, (await readFile(`${root}/${o.key}`)).toString("base64"));
  }
  return out;
}

describe("run-float when a load target is down", () => {
  test("Postgres down: exit 1 naming the load stage, the lake intact; the re-run once it is back completes", async () => {
    const lake = await newLake();
    const env = {
      DATABASE_URL: db.urlVia(proxy.port),
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LAKE_URL: lake.path,
      LOG_FORMAT: "json",
    };
    await proxy.cut();
    const down = await runJobProcess("run-float", [WMO, "--gdac", fixturesDir, "--json"], { env });
    expect(down.code, down.stderr).toBe(1);
    expect(down.stderr).toContain(`run-float: load stage failed for float ${WMO}: cannot connect to Postgres at 127.0.0.1:${proxy.port}/${db.name}`);
    expect(down.stderr).toMatch(/ECONNREFUSED/);
    const stats = stagesOf(JSON.parse(down.stdout));
    expect(stats).toMatchObject({ verdict: "failed", failed_stage: "load", load: null });
    expect(stats.sync.files_downloaded).toBe(81);
    expect(stats.parse.profiles).toBe(80);

    // The lake has what sync and parse wrote: every profile of the float.
    const files = await lakeFiles(lake.path);
    const duck = await lakeSession(lake.path);
    try {
      expect((await duckRows(duck, `SELECT CAST(count(*) AS INTEGER) AS n FROM profiles WHERE float_id = '${WMO}'`))[0].n).toBe(80);
    } finally {
      duck.close();
    }
    expect((await db.pool.query("SELECT to_regclass('profiles') AS t")).rows[0].t).toBeNull();

    await proxy.restore();
    const up = await runJobProcess("run-float", [WMO, "--gdac", fixturesDir, "--json"], { env });
    expect(up.code, up.stderr).toBe(0);
    const again = stagesOf(JSON.parse(up.stdout));
    expect(again.sync).toMatchObject({ files_downloaded: 0, files_skipped: 81 });
    expect(again.parse).toMatchObject({ floats_parsed: 0, floats_skipped: 1 });
    expect(again.load).toMatchObject({ profiles_inserted: 80, floats_loaded: 1 });
    expect(await lakeFiles(lake.path)).toEqual(files);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles")).rows[0].n).toBe(80);
    const runs = (await db.pool.query("SELECT job, status FROM job_runs")).rows;
    expect(runs).toEqual([{ job: "run-float", status: "succeeded" }]);
  });

  test("Redis down: exit 1 naming the load stage and Redis", async () => {
    const lake = await newLake();
    const closed = await startTcpProxy(6379);
    await closed.cut();
    try {
      const r = await runJobProcess("run-float", [WMO, "--gdac", fixturesDir], {
        env: { REDIS_URL: redisUrl(closed.port), REDIS_PREFIX: redis.prefix, LAKE_URL: lake.path },
      });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`run-float: load stage failed for float ${WMO}: cannot connect to Redis at 127.0.0.1:${closed.port}`);
    } finally {
      await closed.close();
    }
  });

  test("Postgres lost in the middle of a load: the load stops with the reason, loaded floats stay, a re-run completes", async () => {
    const lake = await newLake();
    const gdacLog = createLogger({ level: "error", write: () => {} });
    // Build a two-float lake without any target.
    const base = { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake.path, MAX_WORKERS: "1" };
    const { runFloat } = await import("../lib/runner.ts");
    for (const wmo of ["2902269", WMO]) {
      const s = await runFloat(loadConfig({ env: base, envFile: "/nonexistent/.env" }), new LocalLakeStore(lake.path), gdacLog, wmo);
      expect(s.verdict, s.error ?? "").toBe("succeeded");
    }
    const mid = await startTcpProxy(PG_PORT);
    const config = loadConfig({ env: { ...base, DATABASE_URL: db.urlVia(mid.port), BATCH_SIZE: "1" }, envFile: "/nonexistent/.env" });
    // Cut the connection as soon as the first float is in.
    let cut: Promise<void> | null = null;
    const log = createLogger({
      level: "debug",
      write: (line) => {
        if (!cut && line.includes("float loaded into Postgres")) cut = mid.cut();
      },
    });
    try {
      const err = await runLoad(config, new LocalLakeStore(lake.path), log).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(LoadError);
      expect(err.message).toMatch(/^lost the connection to Postgres at 127\.0\.0\.1:\d+\//);
      expect(err.context).toMatchObject({ stage: "load", target: "postgres" });
      expect(cut).not.toBeNull();
      // The first float's transaction committed before the cut; the second's never did.
      const loaded = (await db.pool.query("SELECT float_id, n_profiles FROM floats ORDER BY float_id")).rows;
      expect(loaded).toContainEqual({ float_id: "2902269", n_profiles: 57 });
      expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles")).rows[0].n).toBe(loaded.reduce((a, r) => a + r.n_profiles, 0));

      await mid.restore();
      const stats = await runLoad(config, new LocalLakeStore(lake.path), createLogger({ level: "error", write: () => {} }));
      expect(stats.floats_loaded).toBe(2);
      expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles")).rows[0].n).toBe(57 + 80);
    } finally {
      await mid.close();
    }
  });
});
