/**
 * `deno run -A jobs/run-float.ts 2902269 --gdac ../shared/fixtures/gdac` and
 * the Node form (tsx) build the same lake and load the same database and
 * hot layer.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { stagesOf } from "./support/runs.ts";
import { type JobResult, runJobProcess, type Runtime } from "./support/jobs.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { duckRows, dumpPostgres, lakeSession } from "./load-dump.ts";
import { dumpRedisPrefix } from "./support/compare.ts";

const WMO = "2902269";
const RUNTIMES: Runtime[] = ["node", "deno"];

interface Side {
  lake: TempDir;
  db: TestDatabase;
  redis: TestRedis;
  result?: JobResult;
}
const sides = new Map<Runtime, Side>();

beforeAll(async () => {
  for (const rt of RUNTIMES) {
    const [lake, db, redis] = await Promise.all([tempDir(`rt-${rt}`), createTestDatabase(`rt_${rt}`), testRedis(`rt-${rt}`)]);
    sides.set(rt, { lake, db, redis });
  }
  // One after the other: the machine has two cores and each run uses both.
  for (const rt of RUNTIMES) {
    const side = sides.get(rt)!;
    // The relative --gdac is the documented command line: it resolves from the repository root, where jobs run.
    side.result = await runJobProcess("run-float", [WMO, "--gdac", "../shared/fixtures/gdac", "--json"], {
      runtime: rt,
      timeoutMs: 120_000,
      env: { LAKE_URL: side.lake.path, DATABASE_URL: side.db.url, REDIS_URL: side.redis.url, REDIS_PREFIX: side.redis.prefix },
    });
  }
}, 300_000);

afterAll(async () => {
  for (const s of sides.values()) {
    await s.redis.cleanup();
    await s.db.drop();
    await s.lake.cleanup();
  }
});

/** Every row of every lake table, sorted, as JSON text. */
async function lakeDump(root: string): Promise<Record<string, string[]>> {
  const duck = await lakeSession(root);
  try {
    const out: Record<string, string[]> = {};
    for (const table of ["measurements", "profiles", "floats"]) {
      const rows = await duckRows(duck, `SELECT CAST(to_json(t) AS VARCHAR) AS j FROM ${table} t ORDER BY j`);
      out[table] = rows.map((r) => r.j as string);
    }
    return out;
  } finally {
    duck.close();
  }
}

describe("run-float under Deno and under Node", () => {
  test("both succeed", () => {
    for (const [rt, side] of sides) {
      expect(side.result!.code, `${rt}: ${side.result!.stderr}`).toBe(0);
      expect(stagesOf(JSON.parse(side.result!.stdout)).record).toMatchObject({ verdict: "succeeded", runtime: rt, float_ids: [WMO] });
    }
  });

  test("the same lake: every row of every table", async () => {
    const [a, b] = await Promise.all(RUNTIMES.map((rt) => lakeDump(sides.get(rt)!.lake.path)));
    expect(a.profiles.length).toBe(57);
    expect(a.measurements.length).toBe(16370);
    expect(b).toEqual(a);
  });

  test("the same Parquet files, byte for byte", async () => {
    const [a, b] = await Promise.all(RUNTIMES.map(async (rt) => {
      const root = sides.get(rt)!.lake.path;
      const out: Record<string, string> = {};
      for (const o of await new LocalLakeStore(root).list("parquet/")) {
        if (o.key.endsWith(".parquet")) out[o.key] = createHash("sha256").update(await readFile(`${root}/${o.key}`)).digest("hex");
      }
      return out;
    }));
    expect(Object.keys(a).length).toBeGreaterThanOrEqual(5); // lake schema 2 adds tables (dictionary, bgc_measurements) next to the three
    expect(b).toEqual(a);
  });

  test("the same Postgres tables and Redis keys", async () => {
    const pgDumps = await Promise.all(RUNTIMES.map(async (rt) => {
      const d = await dumpPostgres(sides.get(rt)!.db.pool);
      // Row positions and migration times are the server's business, not the load's content.
      return Object.fromEntries(Object.entries(d).filter(([k]) => !k.endsWith("#ctid") && k !== "schema_migrations"));
    }));
    expect(pgDumps[0].profiles.length).toBe(57);
    expect(pgDumps[1]).toEqual(pgDumps[0]);
    const redisDumps = await Promise.all(RUNTIMES.map(async (rt) => {
      const { redis } = sides.get(rt)!;
      return await dumpRedisPrefix(redis.client, redis.prefix);
    }));
    expect(Object.keys(redisDumps[0]).sort()).toEqual([`float:${WMO}`, `float:${WMO}:latest`, "floats", "floats:by_time", "floats:geo"]);
    expect(redisDumps[1]).toEqual(redisDumps[0]);
  });
});
