/**
 * Blast radius, whole or nothing in Redis: a float's hot-layer update is one
 * server-side script that checks every key's type and every argument before
 * it writes, so when a key holds an unexpected type the update is refused
 * whole (MULTI/EXEC would have applied every other command of it). The
 * refused float keeps exactly what it had, every other float is written as
 * in a clean run, and exit 1 names the float and the key.
 *
 * To see what was written, the test leaves a mark (a stale field) in the
 * summary hashes first: a float that was written loses its mark. Redis is
 * tampered with by hand, so the loads that must rewrite every float are full
 * (`--full`); the one after a refusal is incremental and takes the refused
 * floats again (they stay pending in the load's cursor).
 */
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { PipelineSnapshot } from "./support/compare.ts";
import { dumpRedisPrefix } from "./support/compare.ts";
import { type Bed, BED_FLOATS, expectSame, lastLine, statsOf, withCleanRun } from "./support/blast.ts";

let bed: Bed;
let clean: PipelineSnapshot;

withCleanRun("redis", (b, c) => {
  bed = b;
  clean = c;
});

const key = (k: string) => bed.redis.prefix + k;
/** Leaves a stale field in every float's summary hash. */
async function mark(): Promise<void> {
  for (const wmo of Object.keys(BED_FLOATS)) await bed.redis.client.hset(key(`float:${wmo}`), "stale_mark", "1");
}

describe("a key holding an unexpected type", () => {
  test("of one float: that float's update is refused whole, every other float is written", async () => {
    await mark();
    const latest = key("float:13857:latest");
    const before = await bed.redis.client.get(latest);
    await bed.redis.client.del(latest);
    await bed.redis.client.hset(latest, "not", "a string");
    const load = await bed.run("load", {}, ["--full"]);
    expect(load.code).toBe(1);
    expect(lastLine(load.stderr)).toMatch(
      new RegExp(`1 of 5 floats failed to load; first: float 13857: Redis refused the update of float 13857: WRONGTYPE key ${latest.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} holds a hash, expected a string: nothing was written`),
    );
    expect(statsOf(load)).toMatchObject({ floats_loaded: 4, floats_failed: 1 });
    // Nothing of 13857 was touched: its mark is there, its latest is still the hash.
    expect(await bed.redis.client.hget(key("float:13857"), "stale_mark")).toBe("1");
    expect(await bed.redis.client.type(latest)).toBe("hash");
    // Every other float was written whole: marks gone, keys exactly the clean run's.
    const now = await dumpRedisPrefix(bed.redis.client, bed.redis.prefix);
    for (const [k, v] of Object.entries(clean.redis)) {
      if (!k.startsWith("float:13857")) expect(now[k], k).toEqual(v);
    }
    // Repaired, the next load gives the clean state everywhere.
    await bed.redis.client.del(latest);
    await bed.redis.client.set(latest, before!);
    const again = await bed.run("load");
    expect(again.code, again.stderr).toBe(0);
    expect(statsOf(again)).toMatchObject({ mode: "incremental", floats_loaded: 1 });
    expectSame(await bed.snap(), clean);
  });

  test("of a shared key (the GEO set): every float's update is refused, and nothing at all is written", async () => {
    await mark();
    const geo = key("floats:geo");
    const members = await bed.redis.client.zrange(geo, 0, -1, "WITHSCORES");
    await bed.redis.client.del(geo);
    await bed.redis.client.set(geo, "not a sorted set");
    const load = await bed.run("load", {}, ["--full"]);
    expect(load.code).toBe(1);
    expect(lastLine(load.stderr)).toMatch(/5 of 5 floats failed to load; first: float \d+: Redis refused the update of float \d+: WRONGTYPE key .*floats:geo holds a string, expected a zset: nothing was written/);
    for (const wmo of Object.keys(BED_FLOATS)) expect(await bed.redis.client.hget(key(`float:${wmo}`), "stale_mark"), wmo).toBe("1");
    expect(await bed.redis.client.get(geo)).toBe("not a sorted set");
    // Postgres is a target of its own: its transaction per float committed, exactly the clean rows.
    expect((await bed.snap()).postgres).toEqual(clean.postgres);
    await bed.redis.client.del(geo);
    if (members.length) await bed.redis.client.zadd(geo, ...members.flatMap((m, i) => (i % 2 ? [] : [members[i + 1]!, m])));
    const again = await bed.run("load");
    expect(again.code, again.stderr).toBe(0);
    expect(statsOf(again)).toMatchObject({ mode: "incremental", floats_loaded: 5 });
    expectSame(await bed.snap(), clean);
  });

  test("a removal is refused whole too", async () => {
    // 2901623 leaves the lake (one float of five: the removal guard lets it go), while its latest key is a list.
    const tables = ["measurements", "profiles", "floats"].map((t) => join(bed.lake, "parquet", t, "dac=nmdis"));
    const asides = tables.map((_, i) => join(bed.root.path, `nmdis-${i}`));
    const latest = key("float:2901623:latest");
    const before = await bed.redis.client.get(latest);
    await bed.redis.client.del(latest);
    await bed.redis.client.rpush(latest, "not", "a string");
    await mark();
    for (let i = 0; i < tables.length; i++) await rename(tables[i]!, asides[i]!);
    try {
      const load = await bed.run("load", { FLOAT_IDS: "2901623" });
      expect(load.code).toBe(1);
      expect(lastLine(load.stderr)).toMatch(/float 2901623: Redis refused the update of float 2901623: WRONGTYPE key .*float:2901623:latest holds a list, expected a string: nothing was written/);
      // Nothing of it left Redis: hash (with its mark), list, and every set membership.
      expect(await bed.redis.client.hget(key("float:2901623"), "stale_mark")).toBe("1");
      expect(await bed.redis.client.type(latest)).toBe("list");
      expect(await bed.redis.client.sismember(key("floats"), "2901623")).toBe(1);
      expect(await bed.redis.client.zscore(key("floats:by_time"), "2901623")).not.toBeNull();
    } finally {
      for (let i = 0; i < tables.length; i++) await rename(asides[i]!, tables[i]!);
    }
    await bed.redis.client.del(latest);
    await bed.redis.client.set(latest, before!);
    const again = await bed.run("load", {}, ["--full"]);
    expect(again.code, again.stderr).toBe(0);
    expectSame(await bed.snap(), clean);
  });
});
