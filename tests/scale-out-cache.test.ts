/**
 * The local copy of an S3 lake's Parquet files (lib/lake/cache.ts) when
 * several processes share its directory, as shard workers on one machine do:
 * a sync never removes a copy another sync made after its own listing, nor
 * another's temporary file, and a sync limited to some floats neither
 * fetches nor removes the others'. (tests/scale-out-workers.test.ts runs the
 * whole thing with 4 workers; this pins the rules down without timing luck.)
 */
import { existsSync } from "node:fs";
import { writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { syncParquetCache } from "../lib/lake/cache.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import type { LakeStore } from "../lib/lake/store.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";

const dirs: TempDir[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.cleanup();
});

const A = "parquet/profiles/dac=aoml/year=2020/13857.parquet";
const B = "parquet/profiles/dac=coriolis/year=2021/6903247.parquet";
const bytes = (s: string) => new TextEncoder().encode(s);

async function setup(): Promise<{ lake: LocalLakeStore; cache: string }> {
  const [l, c] = [await tempDir("cache-lake"), await tempDir("cache-dir")];
  dirs.push(l, c);
  return { lake: new LocalLakeStore(l.path), cache: c.path };
}

/** A view of a store whose listing is taken, then `meanwhile` runs, then the (now stale) listing is returned. */
function staleListing(store: LakeStore, meanwhile: () => Promise<void>): LakeStore {
  return Object.assign(Object.create(store), {
    list: async (prefix: string) => {
      const listed = await store.list(prefix);
      await meanwhile();
      return listed;
    },
  }) as LakeStore;
}

describe("Parquet cache shared by several processes", () => {
  it("a sync with a stale listing keeps the copy a newer sync made meanwhile", async () => {
    const { lake, cache } = await setup();
    await lake.put(A, bytes("a"));
    // Process 1 lists the lake (only A); process 2's float B lands and process 2 copies it; then process 1 goes on.
    const stale = staleListing(lake, async () => {
      await lake.put(B, bytes("b"));
      const { stats: s2 } = await syncParquetCache(lake, cache);
      expect(s2.downloaded).toBe(2);
    });
    const { stats: s1 } = await syncParquetCache(stale, cache);
    expect(s1.removed).toBe(0);
    expect(existsSync(join(cache, ...B.split("/")))).toBe(true);
    // A copy whose object is really gone is removed by the next sync.
    await lake.delete(B);
    expect((await syncParquetCache(lake, cache)).stats.removed).toBe(1);
    expect(existsSync(join(cache, ...B.split("/")))).toBe(false);
  });

  it("leaves another process's temporary file alone", async () => {
    const { lake, cache } = await setup();
    await lake.put(A, bytes("a"));
    const tmp = join(cache, "parquet", "profiles", "dac=aoml", "year=2020", ".0123abcd.tmp");
    await mkdir(join(tmp, ".."), { recursive: true });
    await writeFile(tmp, "half a copy");
    await syncParquetCache(lake, cache);
    expect(existsSync(tmp)).toBe(true);
  });

  it("a sync limited to some floats neither fetches nor removes the others' copies", async () => {
    const { lake, cache } = await setup();
    await lake.put(A, bytes("a"));
    await lake.put(B, bytes("b"));
    const onlyB = (wmo: string) => wmo === "6903247";
    const onlyA = (wmo: string) => wmo === "13857";
    expect((await syncParquetCache(lake, cache, { floats: onlyB })).stats.downloaded).toBe(1);
    expect(existsSync(join(cache, ...A.split("/")))).toBe(false);
    await syncParquetCache(lake, cache, { floats: onlyA });
    // B's copy is not A's sync's to remove, even though that sync did not list it.
    await lake.delete(B);
    expect((await syncParquetCache(lake, cache, { floats: onlyA })).stats.removed).toBe(0);
    expect(existsSync(join(cache, ...B.split("/")))).toBe(true);
    expect((await syncParquetCache(lake, cache, { floats: onlyB })).stats.removed).toBe(1);
  });
});
