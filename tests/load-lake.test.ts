/**
 * runLoad over a real lake (built from the fixture mirror) as the lake
 * changes: skipped targets, profiles and floats that leave the lake, DAC and
 * shard selection, and the two ways of sending rows to Postgres.
 */
import { rename, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runLoad } from "../lib/load/run.ts";
import { createLogger } from "../lib/log.ts";
import { type LoadBed, loadBed } from "./support/load-bed.ts";
import type { TestDatabase } from "./support/postgres.ts";
import { close, DIRECT_CLIMATOLOGY_SQL, duckRows, dumpPostgres, lakeSession } from "./load-dump.ts";

const FLOATS: Record<string, string> = { "2902269": "incois", "5900865": "csiro", "6903247": "coriolis" };
let bed: LoadBed;

beforeAll(async () => {
  bed = await loadBed("loadlake", FLOATS);
}, 120_000);

afterAll(async () => {
  await bed?.cleanup();
});

/** Postgres's climatology equals the direct computation on the lake as it is now. */
async function expectClimatologyMatchesLake(db: TestDatabase): Promise<void> {
  const duck = await lakeSession(bed.lake.path);
  try {
    const direct = await duckRows(duck, DIRECT_CLIMATOLOGY_SQL);
    const cells = (await db.pool.query("SELECT parameter, lat_bin, lon_bin, month, band, n::int AS n, n_floats, mean, stddev FROM climatology ORDER BY 1, 2, 3, 4, 5")).rows;
    expect(cells.map((c) => [c.parameter, c.lat_bin, c.lon_bin, c.month, c.band, c.n, c.n_floats]))
      .toEqual(direct.map((c) => [c.parameter, c.lat_bin, c.lon_bin, c.month, c.band, c.n, c.n_floats]));
    expect(cells.filter((c, i) => !close(c.mean, direct[i].mean as number) || !close(c.stddev, direct[i].stddev as number | null, 1e-7))).toEqual([]);
  } finally {
    duck.close();
  }
}

/** Rewrites one float's Parquet files keeping only rows that pass `where` (a file left empty is removed). */
async function keepRows(wmo: string, where: string): Promise<void> {
  const duck = await lakeSession(bed.lake.path);
  try {
    for (const table of ["profiles", "measurements"]) {
      for (const o of await bed.store.list(`parquet/${table}/`)) {
        if (!o.key.endsWith(`/${wmo}.parquet`)) continue;
        const path = `${bed.lake.path}/${o.key}`;
        const [{ n }] = await duckRows(duck, `SELECT CAST(count(*) AS INTEGER) AS n FROM read_parquet('${path}') WHERE ${where}`);
        if (n === 0) await rm(path);
        else {
          await duck.run(`COPY (SELECT * FROM read_parquet('${path}') WHERE ${where}) TO '${path}.new' (FORMAT parquet)`);
          await rename(`${path}.new`, path);
        }
      }
    }
  } finally {
    duck.close();
  }
}

describe("runLoad over a changing lake", () => {
  test("with DATABASE_URL and REDIS_URL unset it skips both, one clear line each", async () => {
    const lines: string[] = [];
    const stats = await runLoad(bed.config(), bed.store, createLogger({ level: "info", write: (l) => lines.push(l) }));
    expect(stats).toMatchObject({ postgres: "skipped", redis: "skipped", floats_loaded: 0 });
    expect(lines.filter((l) => l.includes("DATABASE_URL is not set: skipping the Postgres load"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("REDIS_URL is not set: skipping the Redis hot layer"))).toHaveLength(1);
  });

  test("row-by-row inserts and unnest batches give the same tables", async () => {
    const [a, b] = [await bed.newDb("ll_batch"), await bed.newDb("ll_row")];
    const sa = await runLoad(bed.config({ DATABASE_URL: a.url }), bed.store, bed.quiet, { insertMethod: "batch" });
    const sb = await runLoad(bed.config({ DATABASE_URL: b.url }), bed.store, bed.quiet, { insertMethod: "row" });
    expect(sa.profiles_inserted).toBe(57 + 80 + 11);
    expect(sb).toMatchObject({ profiles_inserted: sa.profiles_inserted, climatology_cells_changed: sa.climatology_cells_changed, insert_method: "row" });
    const strip = (d: Record<string, string[]>) => Object.fromEntries(Object.entries(d).filter(([k]) => !k.endsWith("#ctid") && k !== "schema_migrations"));
    expect(strip(await dumpPostgres(b.pool))).toEqual(strip(await dumpPostgres(a.pool)));
  });

  test("a shard or ARGO_DAC narrows a full load", async () => {
    const db = await bed.newDb("ll_shard");
    const s = await runLoad(bed.config({ DATABASE_URL: db.url }), bed.store, bed.quiet, { shard: (id) => id === "5900865" });
    expect(s.floats_selected).toBe(1);
    const d = await runLoad(bed.config({ DATABASE_URL: db.url, ARGO_DAC: "incois" }), bed.store, bed.quiet);
    expect(d.floats_selected).toBe(1);
    expect((await db.pool.query("SELECT float_id, dac FROM floats ORDER BY 1")).rows)
      .toEqual([{ float_id: "2902269", dac: "incois" }, { float_id: "5900865", dac: "csiro" }]);
  });

  test("profiles that leave the lake leave Postgres with their cells, and Redis gets the new latest profile", async () => {
    const db = await bed.newDb("ll_change");
    const env = { DATABASE_URL: db.url, REDIS_URL: bed.redis.url, REDIS_PREFIX: bed.redis.prefix };
    await runLoad(bed.config(env), bed.store, bed.quiet);
    await expectClimatologyMatchesLake(db);

    await keepRows("5900865", "cycle_number < 70");
    const s = await runLoad(bed.config(env), bed.store, bed.quiet, { floatIds: ["5900865"] });
    expect(s).toMatchObject({ floats_loaded: 1, profiles_read: 69, profiles_deleted: 11, profiles_inserted: 0, profiles_unchanged: 69 });
    expect(s.climatology_cells_changed).toBeGreaterThan(0);
    const cycles = (await db.pool.query("SELECT max(cycle_number) AS m, count(*)::int AS n FROM profiles WHERE float_id = '5900865'")).rows[0];
    expect(cycles).toEqual({ m: 69, n: 69 });
    expect(await db.pool.query("SELECT n_profiles, last_cycle_number FROM floats WHERE float_id = '5900865'").then((r) => r.rows[0]))
      .toEqual({ n_profiles: 69, last_cycle_number: 69 });
    await expectClimatologyMatchesLake(db);
    const hot = JSON.parse((await bed.redis.client.get(`${bed.redis.prefix}float:5900865:latest`))!);
    expect(hot.cycle_number).toBe(69);
  });

  test("a float gone from the lake goes from Postgres and Redis on a full load, and only then", async () => {
    const db = await bed.newDb("ll_gone");
    const env = { DATABASE_URL: db.url, REDIS_URL: bed.redis.url, REDIS_PREFIX: `${bed.redis.prefix}gone:` };
    await runLoad(bed.config(env), bed.store, bed.quiet);
    await keepRows("6903247", "false");
    await rm(`${bed.lake.path}/parquet/floats/dac=coriolis/6903247.parquet`);

    // Another DAC's load leaves it alone.
    const other = await runLoad(bed.config({ ...env, ARGO_DAC: "incois,csiro" }), bed.store, bed.quiet);
    expect(other.floats_removed).toBe(0);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles WHERE float_id = '6903247'")).rows[0].n).toBe(11);

    // The lake was edited by hand, not by parse: no journal entry names the float, so only a full load sees it gone.
    expect(await runLoad(bed.config(env), bed.store, bed.quiet)).toMatchObject({ mode: "incremental", floats_removed: 0 });
    const full = await runLoad(bed.config(env), bed.store, bed.quiet, { full: true });
    expect(full).toMatchObject({ floats_removed: 1, profiles_deleted: 11, floats_loaded: 2, mode: "full", full_reason: "--full" });
    expect((await db.pool.query("SELECT float_id FROM floats ORDER BY 1")).rows.map((r) => r.float_id)).toEqual(["2902269", "5900865"]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM climatology_contrib WHERE float_id = '6903247'")).rows[0].n).toBe(0);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM climatology WHERE parameter = 'doxy'")).rows[0].n).toBe(0);
    await expectClimatologyMatchesLake(db);
    expect(await bed.redis.client.exists(`${env.REDIS_PREFIX}float:6903247`, `${env.REDIS_PREFIX}float:6903247:latest`)).toBe(0);
    expect(await bed.redis.client.zscore(`${env.REDIS_PREFIX}floats:geo`, "6903247")).toBeNull();
    expect((await bed.redis.client.smembers(`${env.REDIS_PREFIX}floats`)).sort()).toEqual(["2902269", "5900865"]);
  });
});
