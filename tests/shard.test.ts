/**
 * Sharding: the documented hash (32-bit FNV-1a of the WMO, mod n), the
 * SHARD spec with the Kubernetes and AWS Batch index variables, and (with
 * the real sync) shards that cover the fixture GDAC exactly once.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../lib/errors.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { RunRecordSchema } from "../lib/schedule/runs.ts";
import { fnv1a32, parseShard, shardLabel, shardOf, shardPredicate } from "../lib/schedule/shard.ts";
import { fixturesDir, readManifest as readFixtureManifest, tempDir, type TempDir } from "./support/fixtures.ts";
import { runJobProcess } from "./support/jobs.ts";

/** Every float of the fixture GDAC, from its MANIFEST.tsv. */
const fixtureFloats = [...new Set(readFixtureManifest().map((r) => r.wmo).filter((w): w is string => !!w))].sort();

describe("shard hash", () => {
  it("is 32-bit FNV-1a (published test vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("puts each fixture float in exactly one of n shards, for several n", () => {
    expect(fixtureFloats.length).toBe(15);
    for (const n of [1, 2, 3, 4, 7]) {
      const preds = Array.from({ length: n }, (_, i) => shardPredicate({ index: i, count: n }));
      for (const wmo of fixtureFloats) {
        expect(preds.filter((p) => p(wmo))).toHaveLength(1);
        expect(preds[shardOf(wmo, n)](wmo)).toBe(true);
      }
    }
    // Both halves get floats: a hash that sent everything to one shard would pass the above.
    const zero = fixtureFloats.filter(shardPredicate({ index: 0, count: 2 }));
    expect(zero.length).toBeGreaterThan(0);
    expect(zero.length).toBeLessThan(fixtureFloats.length);
  });
});

describe("SHARD spec", () => {
  it("reads i/n, and auto/n from JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX", () => {
    expect(parseShard(undefined, {})).toBeNull();
    expect(parseShard("1/4", {})).toEqual({ index: 1, count: 4 });
    expect(parseShard("auto/3", { JOB_COMPLETION_INDEX: "2" })).toEqual({ index: 2, count: 3 });
    expect(parseShard("auto/3", { AWS_BATCH_JOB_ARRAY_INDEX: "0" })).toEqual({ index: 0, count: 3 });
    expect(shardLabel({ index: 1, count: 4 })).toBe("shard-1-of-4");
    expect(shardLabel(null)).toBe("all");
  });

  it("refuses an index out of range, a missing index variable and garbage, as ConfigError", () => {
    for (const [spec, env] of [["4/4", {}], ["auto/2", {}], ["auto/2", { JOB_COMPLETION_INDEX: "5" }], ["1-2", {}], ["0/0", {}]] as const) {
      expect(() => parseShard(spec, env)).toThrow(ConfigError);
    }
  });
});

describe("sharded sync", () => {
  const dirs: TempDir[] = [];
  afterAll(async () => {
    for (const d of dirs) await d.cleanup();
  });

  it("--shard 0/2 and --shard 1/2, run at the same time, sync every fixture float exactly once", async () => {
    const lakes = [await tempDir("shard-0"), await tempDir("shard-1")];
    dirs.push(...lakes);
    // Each shard into its own lake, so what each one synced can be told apart; one under Node, one under Deno.
    const results = await Promise.all(lakes.map((lake, i) =>
      runJobProcess("schedule", ["--once", "--job", "sync", "--shard", `${i}/2`, "--json"], {
        runtime: i === 0 ? "node" : "deno",
        env: { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake.path, LOG_FORMAT: "json" },
        timeoutMs: 120_000,
      })
    ));
    const synced: string[][] = [];
    for (const [i, r] of results.entries()) {
      expect(r.code, r.stderr).toBe(0);
      const record = RunRecordSchema.parse(JSON.parse(r.stdout));
      expect(record.verdict).toBe("succeeded");
      expect(record.shard).toEqual({ index: i, count: 2 });
      expect(record.lock).toMatch(new RegExp(`locks/scheduler-shard-${i}-of-2\\.json$`));
      const keys = (await new LocalLakeStore(lakes[i].path).list("raw/_manifest/")).map((o) => o.key);
      const wmos = keys.map((k) => /wmo=(\d+)\.json$/.exec(k)![1]).sort();
      expect((record.stages[0].stats as { total_floats: number }).total_floats).toBe(wmos.length);
      synced.push(wmos);
    }
    expect(synced[0].length).toBeGreaterThan(0);
    expect(synced[1].length).toBeGreaterThan(0);
    expect(synced[0].filter((w) => synced[1].includes(w))).toEqual([]);
    expect([...synced[0], ...synced[1]].sort()).toEqual(fixtureFloats);
    // And each went where the documented hash says.
    for (const [i, wmos] of synced.entries()) for (const w of wmos) expect(shardOf(w, 2)).toBe(i);
  }, 120_000);
});
