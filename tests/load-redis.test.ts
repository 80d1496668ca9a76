/**
 * The Redis hot layer against the machine's Redis: key layout under the
 * prefix, TTLs, the GEO set's rules (no position, beyond GEO's latitude
 * range), removal, and GEOSEARCH by box.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Redis } from "ioredis";
import type { ProfileData } from "../lib/argo/schema.ts";
import { LoadError } from "../lib/errors.ts";
import { connectRedis, hotFloatIds, hotKeys, removeHotFloat, writeHotFloat } from "../lib/db/redis.ts";
import type { FloatRow } from "../lib/db/rows.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";

let t: TestRedis;
let redis: Redis;

beforeAll(async () => {
  t = await testRedis("loadredis");
  redis = await connectRedis(t.url);
});

afterAll(async () => {
  redis?.disconnect();
  await t?.cleanup();
});

function float(id: string, over: Partial<FloatRow> = {}): FloatRow {
  return {
    float_id: id, dac: "incois", meta: JSON.stringify({ pi_name: "M Ravichandran" }), n_profiles: 2, n_cycles: 2,
    first_profile_time: "2019-01-23T14:35:09.000000Z", last_profile_time: "2020-08-05T13:52:00.000000Z", last_cycle_number: 2,
    last_latitude: 15.948, last_longitude: 62.495, last_position_time: "2020-08-05T13:52:00.000000Z",
    n_profiles_r: 1, n_profiles_a: 1, n_profiles_d: 0, parameters: ["pres", "psal", "temp"], ...over,
  };
}

const latest: ProfileData = {
  float_id: "2902269", cycle_number: 2, profile_time: "2020-08-05T13:52:00.000Z", latitude: 15.948, longitude: 62.495,
  measurements: [{ depth: 5, depth_m: 4.97, temperature: 28.1, salinity: 36.5, oxygen: null, chlorophyll: null,
    qc_flags: { depth: 1, temperature: 1, salinity: 1, oxygen: null, chlorophyll: null } }],
  max_depth: 5, quality_status: "ADJUSTED",
  metadata: { direction: "A", profile_index: 0, data_mode: "A", platform_type: "ARVOR", data_centre: "IF", positioning_system: "GPS",
    vertical_sampling_scheme: null, position_qc: 1, juld_qc: 1, parameters: ["pres", "temp", "psal"], source_files: ["R2902269_002.nc"],
    date_update: null },
};

describe("hot layer", () => {
  test("one float: summary hash, latest profile JSON, GEO and time-sorted sets, all under the prefix with the TTL", async () => {
    const p = `${t.prefix}a:`;
    const k = hotKeys(p);
    expect(await writeHotFloat(redis, p, 600, float("2902269"), latest)).toBe("indexed");
    expect(await redis.hgetall(k.float("2902269"))).toMatchObject({
      float_id: "2902269", dac: "incois", n_profiles: "2", last_latitude: "15.948", parameters: "pres,psal,temp",
      meta: JSON.stringify({ pi_name: "M Ravichandran" }),
    });
    expect(await redis.hexists(k.float("2902269"), "last_cycle_number")).toBe(1);
    expect(JSON.parse((await redis.get(k.latest("2902269")))!)).toEqual(latest);
    expect(await redis.smembers(k.floats)).toEqual(["2902269"]);
    expect(await redis.zscore(k.byTime, "2902269")).toBe(String(Date.UTC(2020, 7, 5, 13, 52)));
    const [[lon, lat]] = (await redis.geopos(k.geo, "2902269")) as [string, string][];
    expect(Number(lon)).toBeCloseTo(62.495, 4);
    expect(Number(lat)).toBeCloseTo(15.948, 4);
    for (const key of [k.float("2902269"), k.latest("2902269"), k.floats, k.geo, k.byTime]) {
      const ttl = await redis.ttl(key);
      expect(ttl, key).toBeGreaterThan(590);
      expect(ttl, key).toBeLessThanOrEqual(600);
    }
    expect((await t.keys()).every((key) => key.startsWith(p))).toBe(true);
  });

  test("REDIS_TTL 0 keeps keys without expiry; a rewrite replaces the hash whole", async () => {
    const p = `${t.prefix}b:`;
    const k = hotKeys(p);
    await writeHotFloat(redis, p, 0, float("2902269", { last_cycle_number: 7 }), latest);
    await writeHotFloat(redis, p, 0, float("2902269", { last_cycle_number: null }), null);
    expect(await redis.ttl(k.float("2902269"))).toBe(-1);
    expect(await redis.ttl(k.geo)).toBe(-1);
    // A field that became null is gone, not stale; a float without a latest profile has no latest key.
    expect(await redis.hexists(k.float("2902269"), "last_cycle_number")).toBe(0);
    expect(await redis.exists(k.latest("2902269"))).toBe(0);
  });

  test("floats without a position, or beyond GEO's latitude range, stay out of the GEO set", async () => {
    const p = `${t.prefix}c:`;
    const k = hotKeys(p);
    await writeHotFloat(redis, p, 0, float("1000001"), null);
    expect(await redis.zscore(k.geo, "1000001")).not.toBeNull();
    // The float lost its position: it leaves the GEO set in the same transaction.
    expect(await writeHotFloat(redis, p, 0, float("1000001", { last_latitude: null, last_longitude: null }), null)).toBe("no_position");
    expect(await writeHotFloat(redis, p, 0, float("1000002", { last_latitude: 88.5, last_longitude: 10 }), null)).toBe("not_indexable");
    expect(await writeHotFloat(redis, p, 0, float("1000003", { last_profile_time: null }), null)).toBe("indexed");
    expect(await redis.zrange(k.geo, 0, -1)).toEqual(["1000003"]);
    expect(await redis.zrange(k.byTime, 0, -1)).toEqual(["1000001", "1000002"]);
    expect((await redis.smembers(k.floats)).sort()).toEqual(["1000001", "1000002", "1000003"]);
  });

  test("GEOSEARCH by box and radius over the GEO set", async () => {
    const p = `${t.prefix}d:`;
    const positions: [string, number, number][] = [["1", 10, 20], ["2", 10.5, 20.5], ["3", -60, -30], ["4", 179.9, 0], ["5", -179.9, 0]];
    for (const [id, lon, lat] of positions) await writeHotFloat(redis, p, 0, float(`290000${id}`, { last_longitude: lon, last_latitude: lat }), null);
    const search = async (...args: (string | number)[]) => ((await redis.call("GEOSEARCH", hotKeys(p).geo, ...args)) as string[]).sort();
    expect(await search("FROMLONLAT", 10.25, 20.25, "BYBOX", 150, 150, "km")).toEqual(["2900001", "2900002"]);
    expect(await search("FROMLONLAT", 10, 20, "BYBOX", 20, 20, "km")).toEqual(["2900001"]);
    // A box across the antimeridian (Redis 7 misses the west side when the centre is given as +180; -180 works).
    expect(await search("FROMLONLAT", -180, 0, "BYBOX", 100, 100, "km")).toEqual(["2900004", "2900005"]);
    expect(await search("FROMLONLAT", -60, -30, "BYRADIUS", 10, "km")).toEqual(["2900003"]);
  });

  test("removing a float takes every trace of it and nothing else; DAC filters the listing", async () => {
    const p = `${t.prefix}e:`;
    const k = hotKeys(p);
    await writeHotFloat(redis, p, 0, float("2900001"), latest);
    await writeHotFloat(redis, p, 0, float("2900002", { dac: "aoml" }), latest);
    expect(await hotFloatIds(redis, p, ["aoml"])).toEqual(["2900002"]);
    await removeHotFloat(redis, p, "2900001");
    expect(await hotFloatIds(redis, p)).toEqual(["2900002"]);
    expect(await redis.exists(k.float("2900001"), k.latest("2900001"))).toBe(0);
    expect(await redis.zscore(k.geo, "2900001")).toBeNull();
    expect(await redis.zscore(k.byTime, "2900001")).toBeNull();
    expect(await redis.exists(k.float("2900002"), k.latest("2900002"))).toBe(2);
  });

  test("a Redis that is not there is a LoadError naming it", async () => {
    const err = await connectRedis("redis://:pw123@127.0.0.1:1", { connectTimeoutMs: 2000 }).catch((e) => e);
    expect(err).toBeInstanceOf(LoadError);
    expect(err.message).toMatch(/^cannot connect to Redis at 127\.0\.0\.1:1: /);
    expect(err.message).not.toContain("pw123");
  });
});
