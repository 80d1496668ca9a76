/**
 * run-float end to end on the fixture mirror, for the INCOIS float 2902269,
 * the BGC float 6903247 and the delayed-mode float 5900865: Postgres and
 * Redis hold exactly what the lake holds, and a second run changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../lib/config.ts";
import type { DuckSession } from "../lib/duckdb.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runFloat, stageStats } from "../lib/runner.ts";
import type { RunRecord } from "../lib/schedule/runs.ts";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";
import { close, DIRECT_CLIMATOLOGY_SQL, duckRows, dumpPostgres, lakeSession } from "./load-dump.ts";
import { dumpRedisPrefix } from "./support/compare.ts";

const FLOATS = ["2902269", "6903247", "5900865"];
const IN = `(${FLOATS.map((f) => `'${f}'`).join(", ")})`;

let db: TestDatabase;
let redis: TestRedis;
let lake: TempDir;
let duck: DuckSession;
let store: LocalLakeStore;
const logLines: string[] = [];
const log = createLogger({ level: "info", write: (l) => logLines.push(l) });
const first: RunRecord[] = [];

function config() {
  return loadConfig({
    env: {
      GDAC_BASE_URL: fixturesDir,
      LAKE_URL: lake.path,
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      REDIS_TTL: "3600",
      MAX_WORKERS: "1",
    },
    envFile: "/nonexistent/.env",
  });
}

beforeAll(async () => {
  [db, redis, lake] = await Promise.all([createTestDatabase("runfloat"), testRedis("runfloat"), tempDir("runfloat")]);
  store = new LocalLakeStore(lake.path);
  for (const wmo of FLOATS) first.push(await runFloat(config(), store, log, wmo));
  duck = await lakeSession(lake.path);
}, 120_000);

afterAll(async () => {
  duck?.close();
  await redis?.cleanup();
  await db?.drop();
  await lake?.cleanup();
});

describe("run-float on the fixture mirror", () => {
  test("every stage succeeds and says what it did; the sync's own stats object is kept", () => {
    for (const s of first) {
      expect(s.verdict, `${s.float_ids}: ${s.error}`).toBe("succeeded");
      const st = { sync: stageStats(s, "sync"), parse: stageStats(s, "parse"), load: stageStats(s, "load") };
      expect(st.sync).toMatchObject({ total_floats: 1, errors: 0 });
      expect(st.sync!.files_downloaded).toBeGreaterThan(0);
      expect(Object.keys(st.sync!).slice(0, 7)).toEqual(
        ["total_floats", "files_downloaded", "files_skipped", "bytes_downloaded", "errors", "start_time", "end_time"],
      );
      expect(st.parse!.profiles).toBeGreaterThan(0);
      expect(st.load!.profiles_inserted).toBe(st.parse!.profiles);
      // Each figure is rounded to the millisecond on its own.
      expect(s.stages.reduce((a, x) => a + (x.duration_ms ?? 0), 0)).toBeLessThanOrEqual(s.duration_ms + 2);
    }
  });

  test("Postgres profiles equal the lake's profiles, every loaded column", async () => {
    const lakeRows = await duckRows(duck, `
      SELECT float_id, cycle_number, direction, CAST(profile_index AS INTEGER) AS profile_index, dac, data_mode,
             quality_status, CAST(epoch_us(time) AS VARCHAR) AS time_us, CAST(juld_qc AS INTEGER) AS juld_qc,
             latitude, longitude, CAST(position_qc AS INTEGER) AS position_qc, positioning_system,
             vertical_sampling_scheme, data_centre, platform_type, n_levels, max_pres, parameters,
             parameter_data_mode, parameter_stats, source_file, bgc_source_file,
             CAST(epoch_us(date_update) AS VARCHAR) AS date_update_us
      FROM profiles WHERE float_id IN ${IN}
      ORDER BY float_id, cycle_number, direction, profile_index`);
    const pgRows = (await db.pool.query(`
      SELECT float_id, cycle_number, direction, profile_index, dac, data_mode, quality_status,
             (extract(epoch FROM time) * 1000000)::bigint::text AS time_us, juld_qc, latitude, longitude,
             position_qc, positioning_system, vertical_sampling_scheme, data_centre, platform_type, n_levels,
             max_pres, parameters, parameter_data_mode, parameter_stats, source_file, bgc_source_file,
             (extract(epoch FROM date_update) * 1000000)::bigint::text AS date_update_us
      FROM profiles ORDER BY float_id, cycle_number, direction, profile_index`)).rows;
    expect(lakeRows.length).toBe(57 + 11 + 80);
    expect(pgRows).toEqual(lakeRows);
  });

  test("Postgres floats summarise the lake's profiles and carry its meta row", async () => {
    const lakeRows = await duckRows(duck, `
      SELECT float_id, min(dac) AS dac, CAST(count(*) AS INTEGER) AS n_profiles,
             CAST(count(DISTINCT cycle_number) AS INTEGER) AS n_cycles,
             CAST(epoch_us(min(time)) AS VARCHAR) AS first_us, CAST(epoch_us(max(time)) AS VARCHAR) AS last_us,
             max(cycle_number) AS last_cycle_number,
             CAST(count(*) FILTER (WHERE data_mode = 'R') AS INTEGER) AS r,
             CAST(count(*) FILTER (WHERE data_mode = 'A') AS INTEGER) AS a,
             CAST(count(*) FILTER (WHERE data_mode = 'D') AS INTEGER) AS d
      FROM profiles WHERE float_id IN ${IN} GROUP BY float_id ORDER BY float_id`);
    const pgRows = (await db.pool.query(`
      SELECT float_id, dac, n_profiles, n_cycles, (extract(epoch FROM first_profile_time) * 1000000)::bigint::text AS first_us,
             (extract(epoch FROM last_profile_time) * 1000000)::bigint::text AS last_us, last_cycle_number,
             n_profiles_r AS r, n_profiles_a AS a, n_profiles_d AS d
      FROM floats ORDER BY float_id`)).rows;
    expect(pgRows).toEqual(lakeRows);
    // 2902269: 47 A + 10 R profiles in the index; the lake's R files carry DATA_MODE A, as the fixture README says.
    const meta = (await db.pool.query("SELECT float_id, meta FROM floats ORDER BY float_id")).rows;
    const lakeMeta = await duckRows(duck, `SELECT float_id, platform_type, pi_name, source_file FROM floats WHERE float_id IN ${IN} ORDER BY float_id`);
    expect(meta.map((r) => ({ float_id: r.float_id, platform_type: r.meta.platform_type, pi_name: r.meta.pi_name, source_file: r.meta.source_file })))
      .toEqual(lakeMeta);
  });

  test("the climatology equals a direct DuckDB computation on the lake: totals and every cell", async () => {
    const direct = await duckRows(duck, DIRECT_CLIMATOLOGY_SQL);
    const cells = (await db.pool.query(
      "SELECT parameter, lat_bin, lon_bin, month, band, n::integer AS n, mean, stddev, n_floats FROM climatology ORDER BY parameter, lat_bin, lon_bin, month, band",
    )).rows;
    expect(direct.length).toBeGreaterThan(100);
    const totals = (rows: Record<string, unknown>[]) => {
      const t: Record<string, number> = {};
      for (const r of rows) t[r.parameter as string] = (t[r.parameter as string] ?? 0) + (r.n as number);
      return t;
    };
    expect(totals(cells)).toEqual(totals(direct));
    expect(Object.keys(totals(direct)).sort()).toEqual(["doxy", "psal", "temp"]);
    expect(cells.map((c) => [c.parameter, c.lat_bin, c.lon_bin, c.month, c.band, c.n, c.n_floats]))
      .toEqual(direct.map((c) => [c.parameter, c.lat_bin, c.lon_bin, c.month, c.band, c.n, c.n_floats]));
    const off = cells.filter((c, i) => !close(c.mean, direct[i].mean as number) || !close(c.stddev, direct[i].stddev as number | null, 1e-7));
    expect(off.slice(0, 5)).toEqual([]);
  });

  test("Redis holds each float's latest profile, equal to its last cycle in the lake", async () => {
    for (const wmo of FLOATS) {
      const [p] = await duckRows(duck, `
        SELECT cycle_number, direction, CAST(profile_index AS INTEGER) AS profile_index, latitude, longitude,
               CAST(epoch_ms(time) AS DOUBLE) AS time_ms, quality_status, max_pres
        FROM profiles WHERE float_id = '${wmo}'
          AND cycle_number = (SELECT max(cycle_number) FROM profiles WHERE float_id = '${wmo}')
        ORDER BY direction = 'A' DESC, profile_index LIMIT 1`);
      const levels = await duckRows(duck, `
        SELECT pres, depth_m, temp, psal, doxy, CAST(pres_qc AS INTEGER) AS pres_qc, CAST(temp_qc AS INTEGER) AS temp_qc
        FROM measurements_bgc WHERE float_id = '${wmo}' AND cycle_number = ${p.cycle_number}
          AND direction = '${p.direction}' AND profile_index = ${p.profile_index}
        ORDER BY level`);
      const json = await redis.client.get(`${redis.prefix}float:${wmo}:latest`);
      expect(json, wmo).not.toBeNull();
      const hot = JSON.parse(json!);
      expect(hot).toMatchObject({
        float_id: wmo,
        cycle_number: p.cycle_number,
        latitude: p.latitude,
        longitude: p.longitude,
        profile_time: new Date(p.time_ms as number).toISOString(),
        quality_status: p.quality_status,
        metadata: { direction: p.direction, profile_index: p.profile_index },
      });
      expect(Math.fround(hot.max_depth)).toBe(p.max_pres);
      expect(hot.measurements.length).toBe(levels.length);
      expect(levels.length).toBeGreaterThan(0);
      // Float32 values travel as their shortest decimal: they read back as the same float32.
      const f32 = (v: number | null) => (v === null ? null : Math.fround(v));
      expect(hot.measurements.map((m: Record<string, number | null>) => [f32(m.depth), m.depth_m, f32(m.temperature), f32(m.salinity), f32(m.oxygen)]))
        .toEqual(levels.map((l) => [l.pres, l.depth_m, l.temp, l.psal, l.doxy]));
      expect(hot.measurements.map((m: { qc_flags: Record<string, number | null> }) => [m.qc_flags.depth, m.qc_flags.temperature]))
        .toEqual(levels.map((l) => [l.pres_qc, l.temp_qc]));
      const hash = await redis.client.hgetall(`${redis.prefix}float:${wmo}`);
      expect(hash).toMatchObject({ float_id: wmo, last_cycle_number: String(p.cycle_number) });
      expect(await redis.client.ttl(`${redis.prefix}float:${wmo}`)).toBeGreaterThan(3000);
    }
    expect((await redis.client.smembers(`${redis.prefix}floats`)).sort()).toEqual([...FLOATS].sort());
    expect(await redis.client.zrange(`${redis.prefix}floats:by_time`, 0, -1)).toEqual(["5900865", "6903247", "2902269"]);
  });

  test("GEOSEARCH finds the floats whose latest position is in a box", async () => {
    const geo = `${redis.prefix}floats:geo`;
    const search = async (...args: (string | number)[]) => ((await redis.client.call("GEOSEARCH", geo, ...args)) as string[]).sort();
    // Latest positions: 2902269 Arabian Sea (15.9N 62.5E), 6903247 Eastern Mediterranean (34.2N 26.0E), 5900865 off Java (9.4S 107.7E).
    expect(await search("FROMLONLAT", 62.5, 15.9, "BYBOX", 200, 200, "km")).toEqual(["2902269"]);
    expect(await search("FROMLONLAT", 85, 5, "BYBOX", 6000, 4000, "km")).toEqual(["2902269", "5900865"]);
    expect(await search("FROMLONLAT", 26, 34, "BYBOX", 500, 500, "km")).toEqual(["6903247"]);
    expect(await search("FROMLONLAT", -40, -40, "BYBOX", 1000, 1000, "km")).toEqual([]);
    expect(await search("FROMLONLAT", 60, 10, "BYRADIUS", 8000, "km")).toEqual([...FLOATS].sort());
    // Positions are the floats' last positions in Postgres (GEO keeps ~0.6 m).
    const last = (await db.pool.query("SELECT float_id, last_latitude, last_longitude FROM floats ORDER BY float_id")).rows;
    const pos = (await redis.client.geopos(geo, ...last.map((r) => r.float_id))) as [string, string][];
    last.forEach((r, i) => {
      expect(Math.abs(Number(pos[i][0]) - r.last_longitude)).toBeLessThan(1e-4);
      expect(Math.abs(Number(pos[i][1]) - r.last_latitude)).toBeLessThan(1e-4);
    });
  });

  test("a second run changes neither Postgres nor Redis", async () => {
    const before = { pg: await dumpPostgres(db.pool), redis: await dumpRedisPrefix(redis.client, redis.prefix) };
    for (const wmo of FLOATS) {
      const s = await runFloat(config(), store, log, wmo);
      expect(s.verdict, s.error ?? "").toBe("succeeded");
      expect(stageStats(s, "sync")).toMatchObject({ files_downloaded: 0, errors: 0 });
      expect(stageStats(s, "parse")).toMatchObject({ floats_parsed: 0, floats_skipped: 1 });
      expect(stageStats(s, "load")).toMatchObject({
        profiles_inserted: 0, profiles_updated: 0, profiles_deleted: 0,
        climatology_contributions_changed: 0, climatology_cells_changed: 0,
      });
      expect(stageStats(s, "load")!.profiles_unchanged).toBe(stageStats(s, "load")!.profiles_read);
    }
    const after = { pg: await dumpPostgres(db.pool), redis: await dumpRedisPrefix(redis.client, redis.prefix) };
    expect(after.pg.profiles.length).toBe(57 + 11 + 80);
    expect(Object.keys(after.redis).length).toBe(3 * 2 + 3);
    expect(after).toEqual(before);
  });
});
